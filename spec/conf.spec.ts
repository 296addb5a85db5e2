// Every sample in conf/ is checked here, so that the samples and wsgistat cannot drift apart.

import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI, startWsgistat, wsgistat } from './helpers/run.js';
import { needsFluentd, startFluentdWith, type RealFluentd } from './helpers/fluentd.js';
import { schemas } from '../lib/records/schemas.js';
import { NORIKRA_FIELDS } from '../lib/sinks/http.js';
import { APP, cleanup, needs, startGunicorn, startUwsgi, tempDir, until, type Gunicorn, type Uwsgi } from './helpers/servers.js';

const CONF_DIR = fileURLToPath(new URL('../../conf/', import.meta.url));
const conf = (name: string) => readFileSync(join(CONF_DIR, name), 'utf8');
const README_TEXT = readFileSync(join(CONF_DIR, '..', 'README.md'), 'utf8');

interface Section { name: string; params: Record<string, string>; sections: Section[] }

/** Fluentd's config syntax, as far as the samples use it: <section arg>, key value, # comments. */
function parseFluentd(text: string): Section {
  const root: Section = { name: 'root', params: {}, sections: [] };
  const stack = [root];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const open = /^<([a-z_]+)(\s[^>]*)?>$/.exec(line);
    const close = /^<\/([a-z_]+)>$/.exec(line);
    if (open) {
      const s: Section = { name: open[1]!, params: {}, sections: [] };
      stack.at(-1)!.sections.push(s);
      stack.push(s);
    } else if (close) {
      expect(stack.pop()!.name, `closing </${close[1]}>`).to.equal(close[1]);
    } else {
      const m = /^(\S+)\s+(.*)$/.exec(line);
      expect(m, `a "key value" line: ${line}`).to.not.equal(null);
      stack.at(-1)!.params[m![1]!] = m![2]!;
    }
  }
  expect(stack, 'every section closed').to.have.length(1);
  return root;
}

/** key = value lines of an ini file (uWSGI, systemd); comments start with ; or #. */
function parseIni(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z0-9-]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** mackerel-agent's TOML, as far as the sample uses it: [sections], key = "string" or an array of
 *  strings on one line, # comments. */
function parseToml(text: string): Map<string, Record<string, string | string[]>> {
  const sections = new Map<string, Record<string, string | string[]>>();
  let current: Record<string, string | string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const head = /^\[([^\]]+)\]$/.exec(line);
    if (head) {
      expect(sections.has(head[1]!), `section ${head[1]} once`).to.equal(false);
      sections.set(head[1]!, (current = {}));
      continue;
    }
    const kv = /^([a-z_]+)\s*=\s*(.+)$/.exec(line);
    expect(kv, `a key = value line: ${line}`).to.not.equal(null);
    expect(current, 'a key inside a section').to.not.equal(undefined);
    const value = JSON.parse(kv![2]!) as string | string[]; // TOML basic strings and string arrays are JSON here
    current![kv![1]!] = value;
  }
  return sections;
}

const INI = parseIni(conf('uwsgi.ini'));

/** A user's or group's numeric id, from `id` (no shell). */
function idOf(flag: '-u' | '-g', name: string): number {
  const r = spawnSync('id', [flag, name], { encoding: 'utf8', timeout: 5000 });
  expect(r.status, `id ${flag} ${name}: ${r.stderr}`).to.equal(0);
  return Number(r.stdout.trim());
}
const asRoot = process.getuid?.() === 0;

/** Starts real uWSGI from conf/uwsgi.ini with its stats socket, app and port moved to a temporary
 *  place. As root, uWSGI drops to the sample's uid and gid, as shipped, so the socket's owner and
 *  group are the real ones; the directory goes to that user so that it can make the socket there.
 *  Not as root, uWSGI cannot change user: the uid and gid lines are left out. */
function sampleIni(dir: string, httpPort: number) {
  const stats = join(dir, 'app.stats');
  if (asRoot) {
    chownSync(dir, idOf('-u', INI.uid!), idOf('-g', INI.gid!));
    chmodSync(dir, 0o750); // as /run/uwsgi: the group may reach the socket, others not
  }
  const text = conf('uwsgi.ini')
    .replace(asRoot ? /^$/ : /^(uid|gid) = .*$/gm, '')
    .replaceAll(INI.stats!, stats)
    .replaceAll(INI['wsgi-file']!, APP)
    .replaceAll(INI['http-socket']!, `127.0.0.1:${httpPort}`);
  return { text, stats: `unix://${stats}` };
}

/** A sample's documented command against the sample uWSGI `stats`, on a 1 s interval so that the
 *  spec is short. */
const onSample = (args: string[], stats: string) => args.map((a) => (a === `unix://${INI.stats}` ? stats : a === '10s' ? '1s' : a));

/** Runs the command with stdout as an output too, for two ticks of the sample uWSGI; its stdout's
 *  lines, once it exited 0 with nothing said. */
async function twoTicks(args: string[], dir: string): Promise<string[]> {
  const w = startWsgistat(['-o', 'stdout', ...args], { XDG_STATE_HOME: dir });
  await w.waitFor('two ticks', () => w.lines.length >= 2 * (1 + Number(INI.workers)));
  expect(await w.stop()).to.equal(0);
  expect(w.stderr()).to.equal('');
  return w.lines.map((l) => l.text);
}

/** The events out_stdout printed in a Fluentd's log, "<event time, nanoseconds, zone> <tag>:
 *  <record as JSON>", once there are `n` of them. */
async function printedBy(f: RealFluentd, n: number): Promise<{ time: string; nanos: string; tag: string; json: string }[]> {
  const printed = () => [...f.log().matchAll(/^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d{9}) \+0000 ([^ ]+): (\{.*\})$/gm)]
    .map((m) => ({ time: m[1]!, nanos: m[2]!, tag: m[3]!, json: m[4]! }));
  await until('Fluentd to print them', () => (printed().length >= n ? true : undefined));
  return printed();
}

describe('conf/ samples', () => {
  const servers: Uwsgi[] = [];
  after(async () => {
    await Promise.all(servers.map((u) => u.stop()));
  });
  async function sampleServer(ctx: Mocha.Context): Promise<Uwsgi> {
    needs(ctx, 'uwsgi');
    const u = await startUwsgi({ ini: sampleIni });
    servers.push(u);
    return u;
  }

  it('uwsgi.ini starts uWSGI with a stats socket that wsgistat reads, memory figures included', async function () {
    const u = await sampleServer(this);
    const before = (await wsgistat([u.stats])).records[0]!.requests as number;
    for (let i = 0; i < 8; i++) await u.get('/');
    const run = await until('uWSGI to count the 8 requests', async () => {
      const r = await wsgistat([u.stats]);
      return r.records[0]!.requests === before + 8 ? r : undefined;
    });
    expect(run.code).to.equal(0);
    expect(run.stderr).to.equal('');
    const summary = run.records[0]!;
    expect(summary).to.include({ type: 'summary', workers: Number(INI.workers), cores: Number(INI.workers) * Number(INI.threads), workers_idle: Number(INI.workers) });
    expect(summary.rss, 'memory-report = true fills rss').to.be.above(0);
    const mode = statSync(u.stats.replace('unix://', '')).mode & 0o777;
    expect(mode.toString(8), 'chmod-socket applies to the stats socket').to.equal(INI['chmod-socket']);
  });

  it('uwsgi.ini makes the stats socket in the group the systemd units join, so that their user reads it as shipped', async function () {
    if (!asRoot && !process.env.CI) this.skip(); // uWSGI can drop to www-data only when started as root
    expect(asRoot, 'this spec must run as root under CI, to start uWSGI as the sample does').to.equal(true);
    needs(this, 'setpriv');
    const u = await sampleServer(this);
    const socket = u.stats.replace('unix://', '');
    const st = statSync(socket);
    expect([st.uid, st.gid, (st.mode & 0o777).toString(8)]).to.deep.equal([idOf('-u', INI.uid!), idOf('-g', INI.gid!), INI['chmod-socket']]);
    for (const name of ['wsgistat.service', 'wsgistat-oneshot.service']) {
      expect(parseIni(conf(`systemd/${name}`)).SupplementaryGroups, name).to.equal(INI.gid);
    }
    // The units' user: a nobody (as DynamicUser gives) in the socket's group; and one without it.
    const nobody = idOf('-u', 'nobody');
    const as = async (groups: string) => {
      const dir = tempDir();
      try {
        chownSync(dir, nobody, nobody);
        const r = spawnSync('setpriv', [`--reuid=${nobody}`, `--regid=${nobody}`, `--groups=${groups}`, process.execPath, CLI, '--no-state', u.stats], {
          encoding: 'utf8', timeout: 15000, env: { ...process.env, XDG_STATE_HOME: dir },
        });
        return { code: r.status, stderr: r.stderr, records: r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)) };
      } finally {
        cleanup(dir);
      }
    };
    const member = await as(String(idOf('-g', INI.gid!)));
    expect([member.code, member.stderr, member.records.map((r) => r.type)]).to.deep.equal([0, '', ['summary', ...Array(Number(INI.workers)).fill('worker')]]);
    const outsider = await as(String(nobody));
    expect([outsider.code, outsider.records.map((r) => [r.type, r.code])]).to.deep.equal([1, [['error', 'permission_denied']]]);
  });

  describe('td-agent.conf', () => {
    const root = parseFluentd(conf('td-agent.conf'));
    const source = root.sections.find((s) => s.name === 'source')!;
    const argv = source.params.command!.split(/\s+/);

    it('is an in_exec source that runs wsgistat every interval and parses JSON lines into events with its time', () => {
      expect(source.params).to.include({ '@type': 'exec', tag: 'uwsgi.stats', run_interval: '10s' });
      expect(source.sections.find((s) => s.name === 'parse')!.params).to.deep.equal({ '@type': 'json' });
      expect(source.sections.find((s) => s.name === 'extract')!.params).to.deep.equal({ time_key: 'time', time_type: 'float' });
      expect(argv[0]).to.match(/\/wsgistat$/);
      expect(root.sections.find((s) => s.name === 'match')!.params['@type']).to.equal('stdout');
    });

    it('runs a command wsgistat accepts, reading the socket uwsgi.ini opens', async () => {
      const check = await wsgistat(['--check', ...argv.slice(1)]);
      expect(check.code, check.stderr).to.equal(0);
      const sources = JSON.parse(check.stdout).sources;
      expect(sources).to.have.length(1);
      expect(sources[0].endpoint).to.deep.equal({ kind: 'unix', path: INI.stats });
      // Its own state file, in td-agent's home, apart from a manual run's default one.
      expect(JSON.parse(check.stdout).state_file).to.equal('/var/lib/td-agent/wsgistat-uwsgi.json');
      expect(argv).to.include('--state-file');
    });

    it('gives in_exec one JSON object per line, each with a float time, from a real server', async function () {
      const u = await sampleServer(this);
      const args = argv.slice(1).map((a) => (a === `unix://${INI.stats}` ? u.stats : a));
      const run = await wsgistat(args);
      expect(run.code).to.equal(0);
      const lines = run.stdout.split('\n');
      expect(lines.pop(), 'the output ends with a newline').to.equal('');
      expect(lines.length).to.equal(1 + Number(INI.workers));
      for (const line of lines) {
        const record = JSON.parse(line);
        expect(record).to.be.an('object').that.is.not.an('array');
        expect(record.time).to.be.a('number');
        for (const v of Object.values(record)) expect(v, 'flat: no nested objects or arrays').to.not.be.an('object');
      }
    });
  });

  it('wsgistat.json is a config file wsgistat accepts, as the README describes it', async () => {
    const path = fileURLToPath(new URL('../../conf/wsgistat.json', import.meta.url));
    const run = await wsgistat(['--check', '--config', path]);
    expect(run.code, run.stderr).to.equal(0);
    const resolved = JSON.parse(run.stdout);
    expect(resolved.sources.map((s: { label: string; address: string; timeout_ms: number }) => [s.label, s.address, s.timeout_ms])).to.deep.equal([
      ['app', 'unix:///run/uwsgi/app.stats', 3000],
      ['api', 'http://127.0.0.1:1717', 1000],
    ]);
    expect(resolved).to.deep.include({ records: ['summary', 'worker'], vars: 'none', error_records: true });
  });

  describe('td-agent-stream.conf', () => {
    const root = parseFluentd(conf('td-agent-stream.conf'));
    const source = root.sections.find((x) => x.name === 'source')!;
    const argv = source.params.command!.split(/\s+/);

    it('runs one long-lived wsgistat (no run_interval) whose lines the json parser gets one by one', () => {
      expect(source.params).to.include({ '@type': 'exec', tag: 'uwsgi.stats' });
      expect(source.params).to.not.have.property('run_interval');
      expect(source.sections.find((x) => x.name === 'parse')!.params).to.deep.equal({ '@type': 'json', stream_buffer_size: '1' });
      expect(source.sections.find((x) => x.name === 'extract')!.params).to.deep.equal({ time_key: 'time', time_type: 'float' });
      expect(argv.slice(1, 3)).to.deep.equal(['--interval', '10s']);
    });

    it('uses no state file, and --check shows none (continuous mode keeps its rates in memory)', async () => {
      const check = await wsgistat(['--check', ...argv.slice(1)]);
      expect(check.code, check.stderr).to.equal(0);
      expect(JSON.parse(check.stdout)).to.deep.include({ schedule: { interval_ms: 10000 }, state_file: null });
      // One given is used (loaded at start, saved at exit), so it is shown.
      const given = await wsgistat(['--check', '--state-file', '/var/lib/w/s.json', ...argv.slice(1)]);
      expect(JSON.parse(given.stdout).state_file).to.equal('/var/lib/w/s.json');
    });

    it('streams each sample as it is taken, from a real server', async function () {
      const u = await sampleServer(this);
      const dir = tempDir();
      try {
        const args = onSample(argv.slice(1), u.stats);
        const w = startWsgistat(args, { XDG_STATE_HOME: dir });
        const n = 1 + Number(INI.workers);
        await w.waitFor('two samples', () => w.lines.length >= 2 * n);
        expect(await w.stop()).to.equal(0);
        const times = w.lines.map((l) => JSON.parse(l.text).time as number);
        const firstTick = w.lines.slice(0, n);
        expect(new Set(times.slice(0, n)).size, 'one sample, one time').to.equal(1);
        expect(w.lines[n]!.at - firstTick.at(-1)!.at, 'the next sample comes a tick later').to.be.above(500);
      } finally {
        cleanup(dir);
      }
    });
  });

  describe('fluentd-http.conf', () => {
    const text = conf('fluentd-http.conf');
    const root = parseFluentd(text);
    const source = root.sections.find((x) => x.name === 'source')!;
    const command = /^#\s+(wsgistat .*)$/m.exec(text)![1]!.split(/\s+/);

    it('is an in_http source on loopback whose tag the documented wsgistat command posts to', async () => {
      expect(source.params).to.include({ '@type': 'http', bind: '127.0.0.1', port: '9880' });
      const check = await wsgistat(['--check', ...command.slice(1)]);
      expect(check.code, check.stderr).to.equal(0);
      const out = JSON.parse(check.stdout).outputs[0];
      expect(out).to.include({ url: `http://127.0.0.1:${source.params.port}/uwsgi.stats`, kind: 'fluentd', tag: 'uwsgi.stats' });
      expect(root.sections.find((x) => x.name === 'match')!.name).to.equal('match');
      expect(text).to.match(/<match uwsgi\.stats>/);
    });

    it('run as is by a real Fluentd, prints every record of the command as stdout got it, with its time as the event time', async function () {
      this.timeout(60000);
      needsFluentd(this);
      const u = await sampleServer(this);
      const dir = tempDir();
      // This file with its port moved.
      const f = await startFluentdWith((port) => text.replace(/^(\s*port) 9880$/m, `$1 ${port}`), undefined, { TZ: 'UTC' });
      try {
        const sent = (await twoTicks(onSample(command.slice(1).map((a) => a.replace('127.0.0.1:9880', `127.0.0.1:${f.port}`)), u.stats), dir))
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        // in_http takes "time" out of the record as the event time, a float, so to the microsecond at best.
        const eventMs = (p: { time: string; nanos: string }) => Date.parse(`${p.time.replace(' ', 'T')}Z`) + Math.round(Number(p.nanos.slice(0, 6)) / 1000);
        const printed = await printedBy(f, sent.length);
        expect(printed.map((p) => [eventMs(p), p.tag, JSON.parse(p.json)])).to.deep.equal(sent.map(({ time, ...rest }) => [Math.round((time as number) * 1000), 'uwsgi.stats', rest]));
      } finally {
        await f.dispose();
        cleanup(dir);
      }
    });
  });

  describe('fluentd-forward.conf', () => {
    const text = conf('fluentd-forward.conf');
    const root = parseFluentd(text);
    const source = root.sections.find((x) => x.name === 'source')!;
    const security = source.sections.find((x) => x.name === 'security')!;
    const command = /^#\s+(wsgistat .*)$/m.exec(text)![1]!.split(/\s+/);
    const keyFile = command[command.indexOf('--shared-key') + 1]!.replace(/^file:/, '');

    it('is an in_forward source with a shared key from the environment, to which the documented command sends with that key', async () => {
      expect(source.params).to.include({ '@type': 'forward', bind: '127.0.0.1', port: '24224' });
      // The key sits in neither file: Fluentd reads it from its environment, wsgistat from a file.
      expect(security.params).to.include({ self_hostname: 'aggregator', shared_key: '"#{ENV[\'FLUENTD_SHARED_KEY\']}"' });
      expect(text).to.match(/^\s*# <transport tls>$/m);
      const dir = tempDir();
      try {
        const key = join(dir, 'forward.key');
        writeFileSync(key, 'a-sample-key\n', { mode: 0o600 });
        const check = await wsgistat(['--check', ...command.slice(1).map((a) => a.replace(keyFile, key))]);
        expect(check.code, check.stderr).to.equal(0);
        expect(JSON.parse(check.stdout).outputs[0]).to.deep.include({
          url: `forward://127.0.0.1:${source.params.port}/uwsgi.stats`, kind: 'forward', tag: 'uwsgi.stats', shared_key: `from file ${key}`,
          servers: [{ server: `127.0.0.1:${source.params.port}`, weight: 1 }],
        });
        expect(text).to.match(/<match uwsgi\.stats>/);
      } finally {
        cleanup(dir);
      }
    });

    it('run as is by a real Fluentd, prints every record of the command as stdout got it, with its time as the event time', async function () {
      this.timeout(60000);
      needsFluentd(this);
      const u = await sampleServer(this);
      const dir = tempDir();
      const key = join(dir, 'forward.key');
      writeFileSync(key, 'a-sample-key\n', { mode: 0o600 });
      // This file with its port moved, and the key in Fluentd's environment as the comments say.
      const f = await startFluentdWith((port) => text.replace(/^(\s*port) 24224$/m, `$1 ${port}`), undefined, { FLUENTD_SHARED_KEY: 'a-sample-key', TZ: 'UTC' });
      try {
        const sent = await twoTicks(onSample(command.slice(1).map((a) => a.replace('127.0.0.1:24224', `127.0.0.1:${f.port}`).replace(keyFile, key)), u.stats), dir);
        const eventTime = (line: string) => `${new Date((JSON.parse(line) as { time: number }).time * 1000).toISOString().replace('T', ' ').replace('Z', '')}000000`;
        const printed = await printedBy(f, sent.length);
        expect(printed.map((p) => [`${p.time}.${p.nanos}`, p.tag, JSON.parse(p.json)])).to.deep.equal(sent.map((l) => [eventTime(l), 'uwsgi.stats', JSON.parse(l)]));
        // Integers as stdout printed them (Fluentd would print a float as 5.0).
        expect(printed.map((p) => p.json)).to.deep.equal(sent);
      } finally {
        await f.dispose();
        cleanup(dir);
      }
    });
  });

  it('norikra-target.json is the target definition wsgistat opens, with fields its records carry', () => {
    const def = JSON.parse(conf('norikra-target.json'));
    expect(def).to.deep.equal({ target: 'uwsgi_stats', fields: NORIKRA_FIELDS, auto_field: true });
    for (const [field, type] of Object.entries(def.fields as Record<string, string>)) {
      expect(['string', 'double'], field).to.include(type);
      expect(['summary', 'worker', 'error'].every((t) => field in (schemas as Record<string, { properties: object }>)[t]!.properties), field).to.equal(true);
    }
  });

  describe('mackerel-agent.conf', () => {
    const sections = parseToml(conf('mackerel-agent.conf'));
    const command = (name: string) => sections.get(name)!.command as string[];
    const gunicorns: Gunicorn[] = [];
    after(async () => {
      await Promise.all(gunicorns.map((g) => g.stop()));
    });

    it('defines metric plugins whose commands run wsgistat without a shell, each with its own state file', async () => {
      expect([...sections.keys()]).to.deep.equal(['plugin.metrics.uwsgi', 'plugin.metrics.gunicorn', 'plugin.metrics.wsgi']);
      const stateFiles = new Set<string>();
      for (const name of sections.keys()) {
        expect(name, 'the agent wants exactly two dots').to.match(/^plugin\.metrics\.[^.]+$/);
        const argv = command(name);
        expect(argv, 'an array: no shell').to.be.an('array');
        expect(argv[0]).to.equal('/usr/bin/wsgistat');
        const check = await wsgistat(['--check', ...argv.slice(1)]);
        expect(check.code, check.stderr).to.equal(0);
        const resolved = JSON.parse(check.stdout);
        expect(resolved.format).to.equal('mackerel');
        expect(resolved.state_file).to.match(/^\/var\/lib\/mackerel-agent\/wsgistat-[a-z-]+\.json$/);
        stateFiles.add(resolved.state_file);
      }
      expect(stateFiles.size).to.equal(sections.size);
      // The commented vassal migration line is a valid command too.
      const vassal = /^# command = (\[.*\])$/m.exec(conf('mackerel-agent.conf'))![1]!;
      const check = await wsgistat(['--check', ...(JSON.parse(vassal) as string[]).slice(1)]);
      expect(JSON.parse(check.stdout)).to.include({ format: 'mackerel', metric_prefix: 'uWSGI' });
    });

    /** A section's command with its addresses and state file moved to the test's servers. */
    function localized(name: string, swap: Record<string, string>, stateDir: string): string[] {
      return command(name).slice(1).map((a) => {
        if (a.startsWith('/var/lib/mackerel-agent/')) return join(stateDir, a.split('/').at(-1)!);
        for (const [from, to] of Object.entries(swap)) if (a.endsWith(from)) return a.slice(0, a.length - from.length) + to;
        return a;
      });
    }

    it('gives per-minute requests from the second run for uWSGI and gunicorn, and graph definitions', async function () {
      needs(this, 'gunicorn');
      const u = await sampleServer(this);
      const g = await startGunicorn({ workerClass: 'sync', workers: 2 });
      gunicorns.push(g);
      const dir = tempDir();
      try {
        const swap = {
          [`unix://${INI.stats}`]: u.stats, 'unix:///run/uwsgi/web.stats': u.stats,
          'gunicorn:///dev/shm/wsgistat-gunicorn': g.status, 'gunicorn:///dev/shm/wsgistat-api': g.status,
        };
        for (const name of sections.keys()) {
          const args = localized(name, swap, dir);
          const first = await wsgistat(args);
          expect([first.code, first.stderr], name).to.deep.equal([0, '']);
          await u.get('/');
          await g.get('/');
          const second = await wsgistat(args);
          expect([second.code, second.stderr], name).to.deep.equal([0, '']);
          const printed = second.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0]!);
          const prefixes = { 'plugin.metrics.uwsgi': ['uwsgi.'], 'plugin.metrics.gunicorn': ['gunicorn.'], 'plugin.metrics.wsgi': ['uwsgi.web.', 'gunicorn.api.'] }[name]!;
          for (const p of prefixes) expect(printed, name).to.include(`${p}req.requests`);
          expect(printed.every((n) => prefixes.some((p) => n.startsWith(p))), name).to.equal(true);
          const meta = await wsgistat(args, { env: { MACKEREL_AGENT_PLUGIN_META: '1' } });
          expect(meta.stdout.split('\n')[0]).to.equal('# mackerel-agent-plugin');
          const graphs = Object.keys(JSON.parse(meta.stdout.split('\n')[1]!).graphs);
          for (const n of printed) expect(graphs, n).to.include(n.slice(0, n.lastIndexOf('.')));
        }
      } finally {
        cleanup(dir);
      }
    });
  });

  describe('systemd units', () => {
    const unit = (name: string) => parseIni(conf(`systemd/${name}`));
    const analyze = (args: string[]) => spawnSync('systemd-analyze', args, { encoding: 'utf8' });

    it('pass systemd-analyze verify, with the command in place', function () {
      needs(this, 'systemd-analyze');
      const dir = tempDir();
      try {
        for (const name of ['wsgistat.service', 'wsgistat-oneshot.service', 'wsgistat-oneshot.timer']) {
          writeFileSync(join(dir, name), conf(`systemd/${name}`).replaceAll('/usr/bin/wsgistat', CLI));
        }
        const r = analyze(['verify', ...['wsgistat.service', 'wsgistat-oneshot.service', 'wsgistat-oneshot.timer'].map((n) => join(dir, n))]);
        expect([r.status, r.stderr.trim()]).to.deep.equal([0, '']);
      } finally {
        cleanup(dir);
      }
    });

    for (const name of ['wsgistat.service', 'wsgistat-oneshot.service']) {
      it(`${name} runs a command wsgistat accepts, least-privileged`, async () => {
        const u = unit(name);
        const run = await wsgistat(['--check', ...u.ExecStart!.split(/\s+/).slice(1)]);
        expect(run.code, run.stderr).to.equal(0);
        const resolved = JSON.parse(run.stdout);
        expect(resolved.sources.map((x: { address: string }) => x.address)).to.deep.equal([`unix://${INI.stats}`]);
        expect(resolved.state_file).to.match(/^\/var\/lib\/wsgistat\//);
        expect(u).to.include({ DynamicUser: 'yes', StateDirectory: 'wsgistat', NoNewPrivileges: 'yes', ProtectSystem: 'strict' });
      });
    }

    for (const name of ['wsgistat.service', 'wsgistat-oneshot.service']) {
      it(`${name} is rated OK (exposure 4.0 or less) by systemd-analyze security`, function () {
        needs(this, 'systemd-analyze');
        const r = analyze(['security', '--offline=true', '--no-pager', join(CONF_DIR, 'systemd', name)]);
        const m = /Overall exposure level for \S+: (\d+\.\d+) (\w+)/.exec(r.stdout);
        expect(m, r.stdout + r.stderr).to.not.equal(null);
        expect([Number(m![1]) <= 4, m![2]], m![0]).to.deep.equal([true, 'OK']);
        // Node's JIT needs writable-executable memory; the unit must not forbid it.
        expect(unit(name)).to.not.have.property('MemoryDenyWriteExecute');
      });
    }

    it('the jq line for the journal keeps the summaries and skips the lines that are not JSON', async function () {
      needs(this, 'jq');
      const line = /journalctl -u wsgistat -o cat \| (jq .*)$/m.exec(conf('systemd/wsgistat.service'))![1]!;
      expect(README_TEXT).to.include(`journalctl -u wsgistat -o cat | ${line}\``);
      const args = [...line.matchAll(/'[^']*'|\S+/g)].map((m) => m[0].replace(/^'|'$/g, '')).slice(1);
      const run = await wsgistat(['--records', 'all', 'file:spec/fixtures/uwsgi/busy.json']);
      const journal = `Started wsgistat.service - wsgistat: sample uWSGI stats every 10 s.\n${run.stdout}wsgistat.service: Deactivated successfully.\n`;
      const jq = spawnSync('jq', args, { input: journal, encoding: 'utf8' });
      expect([jq.status, jq.stderr]).to.deep.equal([0, '']);
      const kept = jq.stdout.trim().split('\n').map((l) => JSON.parse(l));
      expect(kept).to.deep.equal(run.records.filter((r) => r.type === 'summary'));
    });

    it('the service stays up on an interval; the one-shot service is started by a 10 s timer', () => {
      expect(unit('wsgistat.service').ExecStart).to.include('--interval 10s');
      expect(unit('wsgistat.service')).to.include({ Type: 'simple', KillSignal: 'SIGTERM', ExecReload: '/bin/kill -HUP $MAINPID' });
      expect(unit('wsgistat-oneshot.service')).to.include({ Type: 'oneshot' });
      // A failed run must show in `systemctl --failed`, not be taken for success.
      expect(unit('wsgistat-oneshot.service')).to.not.have.property('SuccessExitStatus');
      const timer = unit('wsgistat-oneshot.timer');
      expect(timer).to.include({ Unit: 'wsgistat-oneshot.service', AccuracySec: '100ms' });
      const cal = analyze(['calendar', '--iterations=3', timer.OnCalendar!]);
      if (cal.status === null) return; // no systemd-analyze: the unit spec above says so under CI
      expect(cal.stdout).to.match(/Normalized form: \*-\*-\* \*:\*:00\/10/);
    });
  });
});

