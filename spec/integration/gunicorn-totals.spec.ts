// The format-2 hooks (conf/gunicorn_wsgistat.py) against real gunicorn 20.1: totals that count
// every request the clients sent through worker recycling, kills, reloads and timeouts; requests
// waiting for a gthread thread; percentiles from known request times. Each test states what it
// sent and compares.

import { expect } from 'chai';
import { wsgistat, type Run } from '../helpers/run.js';
import { get, gunicorns, killWorkers, sleep, tempDir, cleanup, until, type Gunicorn } from '../helpers/servers.js';
import { createSource } from '../../lib/sources/index.js';
import { parseAddress } from '../../lib/sources/address.js';

type R = Record<string, any>;
const summaryOf = (run: Run) => run.records.find((r) => r.type === 'summary') as R;
const workersOf = (run: Run) => run.records.filter((r) => r.type === 'worker') as R[];

/** The nearest-rank percentile of known values. */
const nearestRank = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.max(1, Math.ceil((p / 100) * xs.length)) - 1]!;

describe('gunicorn format-2 hooks: totals that never lose a request', function () {
  this.timeout(60000);
  const gunicorn = gunicorns();
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach(cleanup));
  /** One-shot runs that share a state file, as a scheduled job's do. */
  function sampler() {
    const dir = tempDir();
    dirs.push(dir);
    return (g: Gunicorn) => wsgistat(['--records', 'all', g.status], { env: { XDG_STATE_HOME: dir } });
  }
  async function send(g: Gunicorn, n: number, path = '/', parallel = 2): Promise<number[]> {
    const statuses: number[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: parallel }, async () => {
      while (next < n) {
        next++;
        statuses.push(await g.get(path).catch(() => 0));
      }
    }));
    return statuses;
  }

  it('counts all 101 requests through max-requests recycling (sync)', async function () {
    const g = await gunicorn(this, { workerClass: 'sync', workers: 2, args: ['--max-requests', '10'] });
    const sample = sampler();
    expect((await sample(g)).code).to.equal(0);
    const statuses = await send(g, 101);
    expect(statuses.filter((s) => s === 200)).to.have.length(101);
    await until('the recycled workers to be reaped', async () => (summaryOf(await wsgistat(['--no-state', g.status])).stale_entries === 0 ? true : undefined));
    const run = await sample(g);
    const s = summaryOf(run);
    expect(run.code).to.equal(0);
    expect(s).to.include({ requests_delta: 101, status_2xx_delta: 101, status_5xx_delta: 0, requests_aborted_delta: 0, counters_reset: false });
    expect(s.workers_retired).to.be.at.least(9);
    expect(s.rt_p50).to.be.a('number');
    expect(s.rt_p99).to.be.at.least(s.rt_p50);
  });

  it('counts all requests through recycling under gthread too, and a request that raised once', async function () {
    const g = await gunicorn(this, { workerClass: 'gthread', workers: 2, threads: 2, args: ['--max-requests', '7'] });
    const sample = sampler();
    await sample(g);
    const ok = await send(g, 60, '/', 3);
    const boom = await send(g, 2, '/boom', 1);
    await until('the recycled workers to be reaped', async () => (summaryOf(await wsgistat(['--no-state', g.status])).stale_entries === 0 ? true : undefined));
    const s = summaryOf(await sample(g));
    expect([ok.filter((x) => x === 200).length, boom]).to.deep.equal([60, [500, 500]]);
    expect(s).to.include({ requests_delta: 62, status_2xx_delta: 60, status_5xx_delta: 2, exceptions_delta: 2, requests_aborted_delta: 0, counters_reset: false });
  });

  it('counts the request a SIGKILLed busy worker never answered as aborted, and its served requests stay', async function () {
    const g = await gunicorn(this, { workerClass: 'sync', workers: 2 });
    const sample = sampler();
    const before = summaryOf(await sample(g));
    expect((await send(g, 20)).filter((s) => s === 200)).to.have.length(20);
    const held = g.hold('/hold');
    const busy = await until('a busy worker', async () => workersOf(await wsgistat(['--no-state', g.status])).find((w) => w.status === 'busy'));
    process.kill(busy.pid, 'SIGKILL');
    expect(await held).to.equal(0);
    await until('the killed worker to be reaped', async () => {
      const r = await wsgistat(['--no-state', g.status]);
      return summaryOf(r).workers === 2 && !workersOf(r).some((w) => w.pid === busy.pid) && summaryOf(r).stale_entries === 0 ? true : undefined;
    });
    const s = summaryOf(await sample(g));
    expect(s).to.include({ requests_delta: 20, requests_aborted_delta: 1, requests_aborted: 1, counters_reset: false });
    expect(s.requests).to.equal(before.requests + 20);
  });

  it('keeps the totals through a SIGHUP reload', async function () {
    const g = await gunicorn(this, { workerClass: 'sync', workers: 2 });
    const sample = sampler();
    await sample(g);
    await send(g, 15);
    const old = g.workerPids();
    g.proc.kill('SIGHUP');
    await until('a new set of workers, the old ones reaped', async () => {
      const r = await wsgistat(['--no-state', g.status]);
      const pids = workersOf(r).map((w) => w.pid);
      return pids.length === 2 && pids.every((p) => !old.includes(p)) && summaryOf(r).stale_entries === 0 ? true : undefined;
    });
    await send(g, 15);
    const s = summaryOf(await sample(g));
    expect(s).to.include({ requests_delta: 30, status_2xx_delta: 30, requests_aborted_delta: 0, counters_reset: false, workers_retired: 2 });
  });

  it('counts a request whose worker gunicorn killed for its timeout as aborted', async function () {
    this.timeout(90000);
    const g = await gunicorn(this, { workerClass: 'sync', workers: 1, args: ['--timeout', '2'] });
    const sample = sampler();
    await sample(g);
    await send(g, 5, '/', 1);
    const held = await g.hold('/hold'); // gunicorn aborts the worker after 2 s: the client gets no answer
    expect(held).to.equal(0);
    await until('the replacement worker', async () => (summaryOf(await wsgistat(['--no-state', g.status])).workers_retired === 1 ? true : undefined), 20000);
    const s = summaryOf(await sample(g));
    expect(s).to.include({ requests_delta: 5, requests_aborted_delta: 1, counters_reset: false });
    expect(g.log()).to.match(/WORKER TIMEOUT/);
  });

  it('says counters_reset, and counts from zero, only when the master really restarted', async function () {
    const own = tempDir();
    dirs.push(own);
    const statusDir = `${own}/status`;
    const sample = sampler();
    const g1 = await gunicorn(this, { workerClass: 'sync', workers: 1, statusDir });
    await sample(g1);
    await send(g1, 4, '/', 1);
    expect(summaryOf(await sample(g1))).to.include({ requests_delta: 4, counters_reset: false });
    await g1.stop();
    // A new master on the same directory, the old one gone: it takes the directory, its counts
    // start again, and the next sample says so instead of reporting a drop.
    const g2 = await gunicorn(this, { workerClass: 'sync', workers: 1, statusDir });
    await send(g2, 3, '/', 1);
    const s = summaryOf(await sample(g2));
    expect(s.pid).to.equal(g2.proc.pid);
    expect(s).to.include({ requests: 4, requests_delta: 4, counters_reset: true }); // 1 readiness probe + 3
  });

  it('shows K held requests in flight, and gthread requests that wait for a thread as queued', async function () {
    const g = await gunicorn(this, { workerClass: 'gthread', workers: 2, threads: 2 });
    const held = Array.from({ length: 7 }, () => g.hold('/hold'));
    try {
      const run = await until('7 requests taken by the workers', async () => {
        const r = await wsgistat(['--no-state', g.status]);
        const s = summaryOf(r);
        // Settled: every taken request is on a thread or waiting for one (a request is briefly
        // neither while its thread reads it).
        const settled = workersOf(r).every((w) => w.queued === 0 || w.in_flight === 2);
        return s.in_flight + s.queued === 7 && settled ? r : undefined;
      });
      const s = summaryOf(run);
      const workers = workersOf(run);
      // Each worker runs at most 2 (its threads); what it took beyond that waits.
      for (const w of workers) {
        expect(w.in_flight).to.be.at.most(2);
        if (w.queued > 0) expect(w.in_flight).to.equal(2);
      }
      const taken = workers.map((w) => w.in_flight + w.queued);
      expect(s.in_flight).to.equal(taken.reduce((a, t) => a + Math.min(2, t), 0));
      expect(s.queued).to.equal(taken.reduce((a, t) => a + Math.max(0, t - 2), 0));
      expect(s).to.include({ connections: 7, threads: 2, worker_connections: 1000, workers_busy: workers.filter((w) => w.in_flight > 0).length });
    } finally {
      g.release();
      expect(await Promise.all(held)).to.deep.equal([200, 200, 200, 200, 200, 200, 200]);
    }
    const after = summaryOf(await until('all answered', async () => {
      const r = await wsgistat(['--no-state', g.status]);
      return summaryOf(r).in_flight === 0 ? r : undefined;
    }));
    expect(after).to.include({ in_flight: 0, queued: 0 });
  });

  it('gives rt_p50, rt_p90 and rt_p99 within 10 % of the request times sent', async function () {
    const g = await gunicorn(this, { workerClass: 'gthread', workers: 2, threads: 4 });
    const sample = sampler();
    await sample(g);
    // 60 requests of known length, from 20 to 256 ms, spread unevenly like real traffic, 4 at a time.
    const ms = Array.from({ length: 60 }, (_, i) => Math.round(20 + 236 * (i / 59) ** 3));
    const statuses: number[] = [];
    const todo = [...ms];
    await Promise.all(Array.from({ length: 4 }, async () => {
      for (let m = todo.shift(); m !== undefined; m = todo.shift()) statuses.push(await g.get(`/slow?ms=${m}`));
    }));
    expect(statuses.every((s) => s === 200)).to.equal(true);
    const s = summaryOf(await sample(g));
    expect(s.requests_delta).to.equal(60);
    for (const [field, p] of [['rt_p50', 50], ['rt_p90', 90], ['rt_p99', 99]] as const) {
      const truth = nearestRank(ms, p) * 1000;
      // The bucket's 7.2 %, and a request takes its sleep plus the time to wake and answer (3 ms
      // allowed, for a loaded machine).
      expect(s[field], `${field}: true ${truth} µs`).to.be.within(truth * 0.928, truth * 1.0725 + 3000);
    }
    expect(s.mean_rt).to.be.within((ms.reduce((a, b) => a + b) / 60) * 1000, (ms.reduce((a, b) => a + b) / 60) * 1000 * 1.1);
  });

  it('polls under a SIGKILL storm without a torn or failed read: totals never go down, and account for what was sent', async function () {
    const g = await gunicorn(this, { workerClass: 'gthread', workers: 3, threads: 2 });
    const source = createSource({ address: parseAddress(g.status), timeoutMs: 2000, maxBytes: 1 << 20 }, { records: new Set(['summary', 'worker']), vars: { kind: 'none' } });
    const first = (await source.collect()).bodies[0]!;
    const end = Date.now() + 4000;
    const statuses: number[] = [];
    const load = Array.from({ length: 4 }, async () => {
      while (Date.now() < end) statuses.push(await get(g.httpPort, '/', {}, 3000).catch(() => 0));
    });
    let reads = 0;
    let last = first;
    const reader = (async () => {
      while (Date.now() < end) {
        const sample = await source.collect();
        expect(sample.notices, 'no record left out').to.deep.equal([]);
        const s = sample.bodies[0]!;
        for (const k of ['requests', 'running_time', 'status_2xx', 'requests_aborted']) expect(s[k] as number, k).to.be.at.least(last[k] as number);
        last = s;
        reads++;
        await sleep(5);
      }
    })();
    const kills = await killWorkers(g, end);
    await Promise.all([...load, reader]);
    const settled = await until('every killed worker reaped', async () => {
      const s = (await source.collect()).bodies[0]!;
      return s.stale_entries === 0 && s.in_flight === 0 && s.workers === 3 ? s : undefined;
    }, 20000);
    const ok = statuses.filter((s) => s === 200).length;
    const served = (settled.requests as number) - (first.requests as number);
    const aborted = (settled.requests_aborted as number) - (first.requests_aborted as number);
    expect(kills).to.be.above(15);
    expect(reads).to.be.above(50);
    // Every 200 the clients got is counted, as served or (the worker killed after it answered, before
    // post_request counted it) as aborted; what failed was aborted or never reached a hook. A kill
    // that lands inside a hook's few writes counts its request twice, never zero times: at most
    // one per kill.
    expect(served, 'all of them 2xx').to.equal((settled.status_2xx as number) - (first.status_2xx as number));
    expect(served + aborted, 'every 200 the clients got is counted').to.be.at.least(ok);
    expect(served + aborted, 'no request counted twice but for a kill inside a hook').to.be.at.most(statuses.length + kills);
    expect(aborted, 'killed workers had requests in hand').to.be.above(0);
  });
});
