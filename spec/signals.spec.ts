// Exit status and signals that tell the truth: a full disk on stdout, a one-shot run stopped in
// the middle of a delivery, SIGHUP to a continuous run (reload, as Fluentd and Telegraf do), and a
// spool that is refused while stdout still gets its records.

import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI, startWsgistat, wsgistat } from './helpers/run.js';
import { fakeFluentd } from './helpers/receivers.js';
import { needsFluentd, startFluentd } from './helpers/fluentd.js';
import { conserve } from './helpers/conservation.js';
import { parseOutput, spoolDirOf } from '../lib/sinks/outputs.js';
import { cleanup, tempDir, until } from './helpers/servers.js';

type R = Record<string, unknown>;
const BUSY = fileURLToPath(new URL('../../spec/fixtures/uwsgi/busy.json', import.meta.url));

function spooled(spool: string): R[] {
  return readdirSync(spool).flatMap((d) => readdirSync(join(spool, d)).filter((f) => f.endsWith('.ndjson'))
    .flatMap((f) => readFileSync(join(spool, d, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as R)));
}

describe('exit status and signals', () => {
  let dir: string;
  const stops: (() => Promise<unknown>)[] = [];
  beforeEach(() => (dir = tempDir()));
  afterEach(async () => {
    await Promise.all(stops.splice(0).map((s) => s()));
    cleanup(dir);
  });

  it('says in one line that stdout is full (ENOSPC), delivers to the other outputs, and exits 1', async function () {
    needsFluentd(this);
    const f = await startFluentd();
    stops.push(() => f.dispose());
    const out = openSync('/dev/full', 'w');
    const child = spawn(process.execPath, [CLI, '-o', 'stdout', '-o', `${f.url}/t`, `file://${BUSY}`], { stdio: ['ignore', out, 'pipe'], env: { ...process.env, XDG_STATE_HOME: dir } });
    closeSync(out);
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const code = await new Promise((r) => child.on('close', r));
    expect(stderr).to.equal('wsgistat: error [sink stdout] cannot write to stdout (ENOSPC); the other outputs go on\nwsgistat: error [sink stdout] 3 records did not reach stdout\n');
    expect(code).to.equal(1);
    expect(await until('Fluentd to store them', () => (f.stored().length >= 3 ? f.stored().map((s) => s.record.type) : undefined))).to.deep.equal(['summary', 'worker', 'worker']);
  });

  it('spools at once what a one-shot run stopped by SIGTERM has not delivered, says so, and exits 143', async () => {
    const f = await fakeFluentd();
    stops.push(() => f.stop());
    f.delayNext(1, 60_000); // a receiver that hangs: only a fake can do it on demand
    const child = spawn(process.execPath, [CLI, '-o', 'stdout', '-o', `${f.url}/t`, '--retry-for', '60s', '--send-timeout', '60s', `file://${BUSY}`], { env: { ...process.env, XDG_STATE_HOME: dir } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    await until('the request in flight', () => (f.requests.length === 1 ? true : undefined));
    child.kill('SIGTERM');
    const code = await new Promise((r) => child.on('close', r));
    const produced = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as R);
    expect(code, stderr).to.equal(143);
    expect(stderr, stderr).to.match(/^wsgistat: warning SIGTERM: stopping now; records not yet delivered go to the spool\nwsgistat: error \[sink http:\/\/127\.0\.0\.1:\d+\/t\] 3 records not delivered; they wait in the spool .*\n$/);
    const spool = join(dir, 'wsgistat', 'spool');
    expect(spooled(spool).map((r) => JSON.stringify(r))).to.deep.equal(produced.map((r) => JSON.stringify(r)));
    conserve(produced, [], spool, stderr);
  });

  it('reloads its configuration on SIGHUP and goes on; a bad one is refused and the run goes on with the old', async () => {
    const conf = join(dir, 'wsgistat.json');
    writeFileSync(conf, JSON.stringify({ sources: [`a=file://${BUSY}`], interval: '100ms' }));
    const p = startWsgistat(['--config', conf], { XDG_STATE_HOME: dir });
    stops.push(() => p.stop('SIGKILL'));
    const labels = () => p.lines.map((l) => (JSON.parse(l.text) as R).label);
    await p.waitFor('a tick', () => p.lines.length >= 3);
    writeFileSync(conf, JSON.stringify({ sources: [`b=file://${BUSY}`], interval: '100ms' }));
    p.child.kill('SIGHUP');
    await p.waitFor('a tick of the new configuration', () => labels().includes('b'));
    writeFileSync(conf, JSON.stringify({ sources: [`c=file://${BUSY}`], intervall: '100ms' }));
    p.child.kill('SIGHUP');
    await p.waitFor('the refusal', () => p.stderr().includes('SIGHUP: the configuration has errors'));
    const n = p.lines.length;
    await p.waitFor('more ticks', () => p.lines.length >= n + 6);
    expect(await p.stop('SIGTERM')).to.equal(0);
    const seen = labels();
    expect(seen.slice(0, seen.indexOf('b')).every((l) => l === 'a')).to.equal(true);
    expect(seen.slice(seen.indexOf('b')).every((l) => l === 'b')).to.equal(true);
    expect(p.stderr()).to.match(/^wsgistat: warning SIGHUP: reloading the configuration\nwsgistat: error \[config\] config file .*unknown key "intervall".*\nwsgistat: error SIGHUP: the configuration has errors \(above\); going on with the current one\n$/);
    // Rates went on across the reload for the source both configurations share? No: a label is
    // part of the source's identity, so b starts afresh; its second tick has rates.
    expect(p.lines.map((l) => JSON.parse(l.text) as R).filter((r) => r.label === 'b' && r.type === 'summary').slice(1).every((r) => 'rate_interval' in r)).to.equal(true);
  });

  it('reads a header file bounded, and only a regular one: a device, a FIFO or a huge file is a config error', async () => {
    const fifo = join(dir, 'fifo');
    spawnSync('mkfifo', [fifo]);
    writeFileSync(join(dir, 'big'), 'a'.repeat(70000));
    for (const [file, why] of [['/dev/zero', 'not a regular file'], [fifo, 'not a regular file'], [join(dir, 'big'), 'larger than 65536 bytes']]) {
      const r = await wsgistat(['-o', 'http://127.0.0.1:9/t', '--header', `X-Token=file:${file}`, `file://${BUSY}`], { env: { XDG_STATE_HOME: dir }, timeoutMs: 10000 });
      expect([r.code, r.stderr]).to.deep.equal([2, `wsgistat: error [config] output http://127.0.0.1:9/t: header X-Token: cannot read ${file} (${why})\n`]);
    }
  });

  it('keeps a refused spool from stopping stdout, and says which path and why; exit 1', async () => {
    const open = join(dir, 'spool');
    mkdirSync(open);
    chmodSync(open, 0o777);
    // A fake: that no request at all was made is what it can tell and a real Fluentd cannot.
    const f = await fakeFluentd();
    stops.push(() => f.stop());
    const r = await wsgistat(['-o', 'stdout', '-o', `${f.url}/t`, '--spool-dir', open, `file://${BUSY}`], { env: { XDG_STATE_HOME: dir } });
    expect(r.records.map((x) => x.type)).to.deep.equal(['summary', 'worker', 'worker']);
    expect(r.stderr).to.equal(`wsgistat: error [sink ${f.url}/t] refusing ${open} (on the way to ${spoolDirOf(open, parseOutput(`${f.url}/t`))}): others may write to it (mode 777) and it is not sticky; this output gets nothing in this run, the others go on\nwsgistat: error [sink ${f.url}/t] 3 records were not delivered: its spool was refused\n`);
    expect(r.code).to.equal(1);
    expect(f.requests).to.have.length(0);
  });
});
