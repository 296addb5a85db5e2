// The uWSGI Emperor, for real: an Emperor with --emperor-stats runs three vassals from ini files
// (two with a stats server, one without). wsgistat reads the Emperor's stats address alone and
// gives the emperor record, a vassal record per vassal, and each vassal's own summary and workers,
// with rates of their own: requests sent to each vassal's HTTP socket move its requests_delta by
// exactly that many, and a vassal the spec kills (the Emperor starts it again, with a new pid)
// says counters_reset while the other does not. `wsgistat discover` finds the vassals with their
// Emperor's pid. The Emperor lists its vassals in no fixed order (a respawned one moves), so lists
// are compared sorted where the order is the Emperor's.

import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { wsgistat, type Run } from '../helpers/run.js';
import { APP, cleanup, freePort, get, needs, tempDir, until } from '../helpers/servers.js';

type R = Record<string, unknown>;

interface Emperor {
  dir: string;
  stats: string;
  proc: ChildProcess;
  ports: Record<string, number>;
  log: () => string;
  stop(): Promise<void>;
}

/** Vassal `a` and `b` have a stats server; `c` has none. */
async function startEmperor(): Promise<Emperor> {
  const dir = tempDir();
  const vassals = join(dir, 'vassals');
  mkdirSync(vassals);
  const ports: Record<string, number> = {};
  for (const v of ['a', 'b', 'c']) {
    ports[v] = await freePort();
    writeFileSync(join(vassals, `${v}.ini`), [
      '[uwsgi]', 'plugin = python3', 'master = true', 'processes = 2', 'need-app = true',
      `http-socket = 127.0.0.1:${ports[v]}`, `wsgi-file = ${APP}`,
      ...(v === 'c' ? [] : [`stats = ${join(dir, `${v}.stats`)}`]), '',
    ].join('\n'));
  }
  const stats = join(dir, 'emperor.stats');
  let log = '';
  const proc = spawn('uwsgi', ['--emperor', vassals, '--emperor-stats', stats], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (d) => (log += d));
  proc.stderr!.on('data', (d) => (log += d));
  const e: Emperor = {
    dir, stats: `unix://${stats}`, proc, ports, log: () => log,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        // SIGINT: the Emperor stops its vassals and exits (SIGTERM would make it reload them).
        proc.kill('SIGINT');
        const t = setTimeout(() => proc.kill('SIGKILL'), 8000);
        await exited;
        clearTimeout(t);
      }
      cleanup(dir);
    },
  };
  try {
    await until('the vassals to serve', async () => {
      if (proc.exitCode !== null) throw new Error(`the Emperor exited: ${log.slice(-800)}`);
      for (const v of ['a', 'b', 'c']) if ((await get(ports[v]!, '/', {}, 2000)) !== 200) return undefined;
      return existsSync(stats) && existsSync(join(dir, 'a.stats')) && existsSync(join(dir, 'b.stats')) ? true : undefined;
    }, 20000);
  } catch (err) {
    await e.stop();
    throw err;
  }
  return e;
}

const byType = (run: Run, type: string) => run.records.filter((r) => r.type === type) as R[];
const ofVassal = (rs: R[], v: string) => rs.filter((r) => r.vassal === v);

describe('uWSGI Emperor', function () {
  this.timeout(90000);
  let e: Emperor | undefined;
  let state: string;
  before(async function () {
    needs(this, 'uwsgi');
    e = await startEmperor();
    state = join(e.dir, 'state.json');
  });
  after(async () => {
    await e?.stop();
  });

  /** Vassal pids as the Emperor reports them, once all three run. */
  async function vassalPids(): Promise<Record<string, number>> {
    return until('three vassals with pids', async () => {
      const run = await wsgistat(['--no-state', '--records', 'vassal', e!.stats]);
      const vs = byType(run, 'vassal');
      return vs.length === 3 && vs.every((v) => (v.pid as number) > 0 && v.ready === 1) ? Object.fromEntries(vs.map((v) => [String(v.vassal).replace('.ini', ''), v.pid as number])) : undefined;
    }, 20000);
  }

  it('gives the emperor, its vassals, and each vassal\'s own summary and workers from the Emperor\'s address', async () => {
    const pids = await vassalPids();
    const run = await wsgistat(['--no-state', '--records', 'all', e!.stats]);
    expect(run.code, run.stderr).to.equal(0);
    const [emperor, ...more] = byType(run, 'emperor');
    expect(more).to.deep.equal([]);
    expect(emperor).to.deep.include({
      source: e!.stats, server: 'uwsgi', pid: e!.proc.pid, monitors: join(e!.dir, 'vassals'),
      vassals: 3, vassals_ready: 3, vassals_accepting: 3, vassals_cursed: 0, blacklist: 0,
    });
    const vassals = byType(run, 'vassal');
    expect(vassals.map((v) => [v.vassal, v.pid, v.stats_address]).sort()).to.deep.equal([
      ['a.ini', pids.a, `unix://${join(e!.dir, 'a.stats')}`],
      ['b.ini', pids.b, `unix://${join(e!.dir, 'b.stats')}`],
      ['c.ini', pids.c, undefined],
    ]);
    // c has no stats server: said once on stderr, and no failure.
    expect(run.stderr.trim().split('\n')).to.deep.equal([
      `wsgistat: warning [source ${e!.stats}] vassal c.ini (pid ${pids.c}): no stats server: start uWSGI with --stats`,
    ]);
    const summaries = byType(run, 'summary');
    expect(summaries.map((s) => [s.vassal, s.pid, s.source, s.workers]).sort()).to.deep.equal([['a.ini', pids.a, e!.stats, 2], ['b.ini', pids.b, e!.stats, 2]]);
    for (const v of ['a.ini', 'b.ini']) {
      const workers = ofVassal(byType(run, 'worker'), v);
      expect(workers.map((w) => w.worker_id), v).to.deep.equal([1, 2]);
      expect(ofVassal(byType(run, 'socket'), v).map((s) => s.name), v).to.deep.equal([`127.0.0.1:${e!.ports[v[0]!]}`]);
    }
  });

  it('counts each vassal\'s requests apart, and a vassal restarted by the Emperor counts from zero', async () => {
    const pids = await vassalPids();
    const sample = async () => {
      const run = await wsgistat(['--state-file', state, e!.stats]);
      expect(run.code, run.stderr).to.equal(0);
      return Object.fromEntries(byType(run, 'summary').map((s) => [String(s.vassal), s]));
    };
    await sample();
    for (let i = 0; i < 5; i++) expect(await get(e!.ports.a!, '/')).to.equal(200);
    for (let i = 0; i < 3; i++) expect(await get(e!.ports.b!, '/')).to.equal(200);
    const second = await sample();
    expect([second['a.ini']!.requests_delta, second['a.ini']!.counters_reset]).to.deep.equal([5, false]);
    expect([second['b.ini']!.requests_delta, second['b.ini']!.counters_reset]).to.deep.equal([3, false]);

    // The Emperor starts a vassal it lost again: a new master, whose counters start from zero.
    process.kill(pids.a!, 'SIGKILL');
    const respawned = await until('vassal a to be started again', async () => {
      const now = await vassalPids().catch(() => undefined);
      return now && now.a !== pids.a && (await get(e!.ports.a!, '/', {}, 2000).catch(() => 0)) === 200 ? now : undefined;
    }, 30000);
    for (let i = 0; i < 2; i++) expect(await get(e!.ports.b!, '/')).to.equal(200);
    await until('vassal a\'s stats server', async () => ((await wsgistat(['--no-state', e!.stats])).records.some((r) => r.vassal === 'a.ini' && r.type === 'summary' && r.pid === respawned.a) ? true : undefined), 20000);
    const third = await sample();
    expect([third['a.ini']!.pid, third['a.ini']!.counters_reset]).to.deep.equal([respawned.a, true]);
    // The one request above (the until's GET) is all vassal a served since it was started again.
    expect(third['a.ini']!.requests).to.equal(1);
    expect([third['b.ini']!.requests_delta, third['b.ini']!.counters_reset]).to.deep.equal([2, false]);
  });

  it('gives mackerel a name part per vassal, and Prometheus a vassal label that promtool accepts', async function () {
    needs(this, 'promtool');
    await vassalPids();
    const mackerel = await wsgistat(['--format', 'mackerel', '--state-file', join(e!.dir, 'mackerel.json'), e!.stats]);
    expect(mackerel.code, mackerel.stderr).to.equal(0);
    const names = mackerel.stdout.trimEnd().split('\n').map((l) => l.split('\t')[0]!);
    expect(names.filter((n) => n === 'uwsgi.a.workers.idle' || n === 'uwsgi.b.workers.idle').sort()).to.deep.equal(['uwsgi.a.workers.idle', 'uwsgi.b.workers.idle']);
    expect(names.filter((n) => !/^uwsgi\.[ab]\./.test(n))).to.deep.equal([]);
    const prom = await wsgistat(['--format', 'prometheus', '--records', 'all', '--no-state', e!.stats]);
    expect(prom.code, prom.stderr).to.equal(0);
    const lines = prom.stdout.split('\n');
    const src = `source="${e!.stats}"`;
    expect(lines.filter((l) => l.startsWith('uwsgi_workers{')).sort()).to.deep.equal([`uwsgi_workers{${src},vassal="a.ini"} 2`, `uwsgi_workers{${src},vassal="b.ini"} 2`]);
    expect(lines.filter((l) => l.startsWith('uwsgi_emperor_vassals{'))).to.deep.equal([`uwsgi_emperor_vassals{${src}} 3`]);
    expect(lines.filter((l) => l.startsWith('uwsgi_vassal_ready{')).sort()).to.deep.equal(['a.ini', 'b.ini', 'c.ini'].map((v) => `uwsgi_vassal_ready{${src},vassal="${v}"} 1`));
    const check = spawnSync('promtool', ['check', 'metrics'], { input: prom.stdout, encoding: 'utf8' });
    expect([check.status, check.stdout + check.stderr]).to.deep.equal([0, '']);
  });

  it('is found by wsgistat discover: each vassal with its stats address and its Emperor\'s pid', async () => {
    const pids = await vassalPids();
    const run = await wsgistat(['discover', '--format', 'json']);
    const found = run.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as R).filter((f) => f.vassal_of === e!.proc.pid);
    expect(found.map((f) => [f.pid, f.address, f.problem === undefined])).to.deep.equal([
      [pids.a, `unix://${join(e!.dir, 'a.stats')}`, true],
      [pids.b, `unix://${join(e!.dir, 'b.stats')}`, true],
      [pids.c, null, false],
    ].sort((x, y) => (x[0] as number) - (y[0] as number)));
  });
});
