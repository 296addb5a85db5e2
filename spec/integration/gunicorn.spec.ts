// wsgistat and conf/gunicorn_wsgistat.py against real gunicorn (Debian's 20.1), sync and gthread.

import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { wsgistat, type Run } from '../helpers/run.js';
import { get, gunicorns, killWorkers, sleep, tempDir, cleanup, until, type Gunicorn } from '../helpers/servers.js';
import { createSource } from '../../lib/sources/index.js';
import { parseAddress } from '../../lib/sources/address.js';

type R = Record<string, any>;
const summaryOf = (run: Run) => run.records.find((r) => r.type === 'summary') as R;
const workersOf = (run: Run) => run.records.filter((r) => r.type === 'worker') as R[];

describe('wsgistat against real gunicorn with the wsgistat hooks', function () {
  const gunicorn = gunicorns();
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach(cleanup));
  const read = (g: Gunicorn, extra: string[] = []) => wsgistat(['--no-state', ...extra, g.status]);

  it('shows exactly K busy sync workers while K slow requests are in flight', async function () {
    const g = await gunicorn(this, { workerClass: 'sync', workers: 3 });
    const sent = Date.now() / 1000;
    const held = [g.hold('/hold'), g.hold('/hold')];
    try {
      const run = await until('2 requests in flight', async () => {
        const r = await read(g);
        return summaryOf(r).in_flight === 2 ? r : undefined;
      });
      expect(run.code).to.equal(0);
      expect(summaryOf(run)).to.include({ server: 'gunicorn', workers: 3, workers_busy: 2, workers_idle: 1, in_flight: 2, stale_entries: 0, workers_configured: 3, worker_class: 'sync' });
      const busy = workersOf(run).filter((w) => w.status === 'busy');
      expect(busy.map((w) => [w.in_flight, w.request_method, w.request_path])).to.deep.equal([[1, 'GET', '/hold'], [1, 'GET', '/hold']]);
      for (const w of busy) expect(w.request_start).to.be.within(sent - 0.01, run.records[0]!.time as number);
    } finally {
      g.release();
      expect(await Promise.all(held)).to.deep.equal([200, 200]);
    }
  });

  it('counts requests in flight per gthread worker, more than one per worker', async function () {
    const g = await gunicorn(this, { workerClass: 'gthread', workers: 2, threads: 4 });
    const held = Array.from({ length: 5 }, () => g.hold('/hold'));
    try {
      const run = await until('5 requests in flight', async () => {
        const r = await read(g);
        return summaryOf(r).in_flight === 5 ? r : undefined;
      });
      const workers = workersOf(run);
      expect(workers.reduce((s, w) => s + w.in_flight, 0)).to.equal(5);
      expect(summaryOf(run).workers_busy).to.equal(workers.filter((w) => w.in_flight > 0).length);
      expect(Math.max(...workers.map((w) => w.in_flight))).to.be.above(1);
    } finally {
      g.release();
      expect(await Promise.all(held)).to.deep.equal([200, 200, 200, 200, 200]);
    }
  });

  it('gives requests_delta N, responses by status, exceptions and the mean request time across one-shot runs', async function () {
    const g = await gunicorn(this, { workerClass: 'gthread', workers: 2, threads: 2 });
    const dir = tempDir();
    dirs.push(dir);
    const run = (args: string[]) => wsgistat(args, { env: { XDG_STATE_HOME: dir } });
    await run([g.status]);
    for (let i = 0; i < 17; i++) expect(await g.get('/')).to.equal(200);
    // An app that raises: gunicorn answers 500 after post_request saw no status.
    for (let i = 0; i < 3; i++) expect(await g.get('/boom')).to.equal(500);
    const s = summaryOf(await run([g.status]));
    expect(s).to.include({ requests_delta: 20, status_2xx_delta: 17, status_5xx_delta: 3, exceptions_delta: 3, stalled: false });
    expect(s.mean_rt).to.equal(Math.round((s.running_time_delta / 20) * 10) / 10);
  });

  it('stays right after a busy worker is SIGKILLed: no stale entry, the replacement counted', async function () {
    const g = await gunicorn(this, { workerClass: 'sync', workers: 2 });
    const held = g.hold('/hold');
    const busy = await until('a busy worker', async () => workersOf(await read(g)).find((w) => w.status === 'busy'));
    process.kill(busy.pid, 'SIGKILL');
    expect(await held).to.equal(0);
    const run = await until('the replacement worker', async () => {
      const r = await read(g);
      return summaryOf(r).workers === 2 && !workersOf(r).some((w) => w.pid === busy.pid) ? r : undefined;
    });
    expect(summaryOf(run)).to.include({ workers: 2, workers_busy: 0, workers_idle: 2, stale_entries: 0, in_flight: 0 });
  });

  it('leaves no duplicates after a SIGHUP reload', async function () {
    const g = await gunicorn(this, { workerClass: 'sync', workers: 3 });
    const before = workersOf(await read(g)).map((w) => w.pid);
    g.proc.kill('SIGHUP');
    // The old workers go once the master has reaped them: until then a dead one's record is a
    // stale entry (counted, not shown as a worker). Every one of them must go.
    const run = await until('a new set of workers, and the old ones reaped', async () => {
      const r = await read(g);
      const pids = workersOf(r).map((w) => w.pid);
      return pids.length === 3 && pids.every((p) => !before.includes(p)) && summaryOf(r).stale_entries === 0 ? r : undefined;
    });
    expect(summaryOf(run)).to.include({ workers: 3, stale_entries: 0 });
    expect(g.workerPids().sort()).to.deep.equal(workersOf(run).map((w) => w.pid).sort());
  });

  it('shows the connections waiting in the kernel when there are more clients than workers', async function () {
    const g = await gunicorn(this, { workerClass: 'sync', workers: 2 });
    const held = [g.hold('/hold'), g.hold('/hold')];
    await until('both workers busy', async () => (summaryOf(await read(g)).workers_busy === 2 ? true : undefined));
    const waiting = Array.from({ length: 3 }, () => g.get('/').catch(() => 0));
    try {
      const run = await until('3 connections in the backlog', async () => {
        const r = await read(g);
        return summaryOf(r).backlog === 3 ? r : undefined;
      });
      expect(run.stderr).to.equal('');
      const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
      expect(summaryOf(run)).to.include({
        backlog: 3, listen_queue: 3, backlog_address: `127.0.0.1:${g.httpPort}`, backlog_max: Math.min(2048, somaxconn), workers_busy: 2,
      });
      const off = summaryOf(await read(g, ['--listen', 'none']));
      expect(off).to.not.have.any.keys('backlog', 'backlog_address', 'backlog_max', 'listen_queue');
    } finally {
      g.release();
      expect(await Promise.all([...held, ...waiting])).to.deep.equal([200, 200, 200, 200, 200]);
    }
  });

  it('survives a SIGKILL storm under load: gunicorn keeps serving, every read is whole', async function () {
    this.timeout(60000);
    const g = await gunicorn(this, { workerClass: 'gthread', workers: 3, threads: 2 });
    const source = createSource({ address: parseAddress(g.status), timeoutMs: 2000, maxBytes: 1 << 20 }, { records: new Set(['summary', 'worker']), vars: { kind: 'none' } });
    const end = Date.now() + 3000;
    const statuses: number[] = [];
    // gunicorn itself (without any hooks, too) can leave a request it accepted unanswered when its
    // worker is SIGKILLed: each request is bounded, and such a loss counts as a failure.
    const load = Array.from({ length: 4 }, async () => {
      while (Date.now() < end) statuses.push(await get(g.httpPort, '/', {}, 2000).catch(() => 0));
    });
    let reads = 0;
    const reader = (async () => {
      while (Date.now() < end) {
        const sample = await source.collect();
        const summary = sample.bodies[0]!;
        expect(summary.workers as number).to.be.at.most(3);
        reads++;
        await sleep(20);
      }
    })();
    const kills = await killWorkers(g, end);
    await Promise.all([...load, reader]);
    expect(kills).to.be.above(10);
    expect(reads).to.be.above(20);
    expect(statuses.filter((s) => s === 200).length, 'most requests were served during the storm').to.be.above(statuses.length / 2);
    // The request right after the storm can be one of those gunicorn loses: retry, bounded.
    await until('gunicorn to serve after the storm', async () => ((await get(g.httpPort, '/', {}, 2000).catch(() => 0)) === 200 ? true : undefined), 20000);
    const settled = await until('all workers back', async () => {
      const r = await read(g);
      return summaryOf(r).workers === 3 ? r : undefined;
    });
    expect(summaryOf(settled)).to.include({ workers: 3, stale_entries: 0 });
    expect(g.proc.exitCode).to.equal(null);
  });

  it('stops on SIGINT under load without a deadlock', async function () {
    const g = await gunicorn(this, { workerClass: 'gthread', workers: 2, threads: 2 });
    const end = Date.now() + 1500;
    const load = Array.from({ length: 4 }, async () => {
      while (Date.now() < end && g.proc.exitCode === null) await g.get('/').catch(() => 0);
    });
    await sleep(500);
    g.proc.kill('SIGINT');
    const code = await new Promise((r) => (g.proc.exitCode !== null ? r(g.proc.exitCode) : g.proc.once('exit', (c) => r(c))));
    await Promise.all(load);
    expect(code).to.equal(0);
  });

  it('serves a request without a Host header', async function () {
    const g = await gunicorn(this, { workerClass: 'sync', workers: 1 });
    const answer = await new Promise<string>((resolve, reject) => {
      let data = '';
      const s = net.connect({ host: '127.0.0.1', port: g.httpPort }, () => s.write('GET / HTTP/1.0\r\n\r\n'));
      s.on('data', (d) => (data += d));
      s.on('end', () => resolve(data));
      s.on('error', reject);
    });
    expect(answer).to.match(/^HTTP\/1\.[01] 200 /);
    expect(summaryOf(await read(g))).to.include({ status_2xx: 2 });
  });

  it('says so when gunicorn is not running any more', async function () {
    const g = await gunicorn(this, { workerClass: 'sync', workers: 1 });
    const master = g.proc.pid;
    // A killed master runs no exit hook: its master.json stays behind.
    g.proc.kill('SIGKILL');
    await until('gunicorn to die', () => (g.proc.signalCode !== null ? true : undefined));
    const run = await wsgistat(['--no-state', g.status]);
    expect(run.code).to.equal(1);
    expect(run.records).to.deep.equal([{
      time: run.records[0]!.time, host: run.records[0]!.host, source: g.status, server: 'gunicorn', type: 'error', code: 'not_found',
      message: `the gunicorn master (pid ${master} in ${g.status.replace('gunicorn://', '')}/master.json) is not running`,
    }]);
  });
});
