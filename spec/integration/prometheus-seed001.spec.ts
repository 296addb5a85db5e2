// The Prometheus source on a gunicorn 20.1 gthread set up as shared/seeds/001 sets it up
// (spec/fixtures/prom_gunicorn001.py: the master serves the multiprocess registry on a port of its
// own, with the accept backlog of each listener; every worker sets its thread-pool gauges), running
// spec/fixtures/prom_app.py (a request counter, a latency histogram, an in-progress gauge). The
// ground truth is what the spec sends; whole records are compared.

import { expect } from 'chai';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { wsgistat, type Run } from '../helpers/run.js';
import { cleanup, freePort, gunicorns, tempDir, until } from '../helpers/servers.js';
import { readStat } from '../../lib/proc.js';

type R = Record<string, any>;
const CONF001 = fileURLToPath(new URL('../../../spec/fixtures/prom_gunicorn001.py', import.meta.url));
const summaryOf = (r: Run) => r.records.find((x) => x.type === 'summary') as R | undefined;
const workersOf = (r: Run) => r.records.filter((x) => x.type === 'worker') as R[];

/** Fields that are measured durations (or the time and place of the run): each must be a number
 *  (or the string it always is), and is then left out of the whole-record comparison. */
const MEASURED = ['time', 'running_time', 'rate_interval', 'mean_rt', 'rt_p50', 'rt_p90', 'rt_p99', 'running_time_delta', 'running_time_per_sec', 'requests_per_sec', 'status_2xx_per_sec'];
function fixed(rec: R | undefined): R {
  expect(rec, 'a record').to.be.an('object');
  const out: R = {};
  for (const [k, v] of Object.entries(rec!)) {
    if (k === 'host' || k === 'source') expect(v).to.be.a('string');
    else if (MEASURED.includes(k)) expect(v, k).to.be.a('number').at.least(0);
    else out[k] = v;
  }
  return out;
}

describe('the Prometheus source, on a gunicorn gthread instrumented as seed 001 does', function () {
  this.timeout(60000);
  const gunicorn = gunicorns();
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach(cleanup));
  const dir = () => {
    const d = tempDir();
    dirs.push(d);
    return d;
  };

  async function start(ctx: Mocha.Context, workers: number, threads: number, connections: number) {
    const multiproc = join(dir(), 'm');
    mkdirSync(multiproc);
    const port = await freePort();
    const g = await gunicorn(ctx, {
      workerClass: 'gthread', workers, threads, args: ['--worker-connections', String(connections)],
      config: CONF001, app: 'prom_app:application', env: { PROMETHEUS_MULTIPROC_DIR: multiproc, WSGISTAT_SPEC_METRICS_PORT: String(port) },
    });
    const state = dir();
    const src = `prometheus+http://127.0.0.1:${port}/metrics`;
    const run = (args: string[] = []) => wsgistat([...args, src], { env: { XDG_STATE_HOME: state } });
    // The seed's threads set each gauge on their own (every 50 ms): wait until they agree with
    // `check`, for at most 10 s, then give the last record anyway, so that a wrong figure shows up
    // in the whole-record comparison as a diff.
    const settled = async (check: (s: R) => boolean) => {
      let last: Run | undefined;
      await until('the gauges to settle', async () => {
        last = await run(['--no-state']);
        const s = summaryOf(last);
        return s && check(s) ? true : undefined;
      }).catch(() => undefined);
      return last!;
    };
    return { g, src, run, settled, listener: `127.0.0.1:${g.httpPort}` };
  }

  it('gives requests_delta N for N requests, one worker record per worker, the master\'s pid, the pool limits and an empty backlog', async function () {
    const { g, run, settled, listener } = await start(this, 2, 2, 1000);
    await settled((s) => s.workers === 2 && s.connections === 0);
    const first = await run();
    expect(first.code, first.stderr).to.equal(0);
    const n = 10;
    for (let i = 0; i < n; i++) expect(await g.get('/')).to.equal(200);
    await settled((s) => s.connections === 0);
    const second = await run();
    expect(second.stderr).to.equal('');
    expect(second.code).to.equal(0);
    // startGunicorn's own GET / that found the server up, then the n of this test.
    expect(fixed(summaryOf(second))).to.deep.equal({
      server: 'gunicorn', type: 'summary', pid: g.proc.pid, workers: 2, workers_busy: 0, workers_idle: 2,
      requests: 1 + n, stale_entries: 0, status_2xx: 1 + n,
      backlog: 0, listen_queue: 0, backlog_address: listener, in_flight: 0, threads: 2, worker_connections: 1000, queued: 0, connections: 0,
      requests_delta: n, status_2xx_delta: n, stalled: false, counters_reset: false,
    });
    const workers = workersOf(second);
    expect(workers.map(fixed)).to.deep.equal(workers.map((w) => ({ server: 'gunicorn', type: 'worker', worker_id: w.pid, pid: w.pid, status: 'idle', in_flight: 0, queued: 0, connections: 0 })));
    for (const w of workers) expect(readStat(w.pid)?.ppid, `worker ${w.pid}`).to.equal(g.proc.pid);
  });

  it('counts K held requests in flight; with more clients than threads and connections, the queued requests and the backlog as sent', async function () {
    const threads = 3;
    const limit = 5; // worker_connections
    const { g, settled, listener } = await start(this, 1, threads, limit);
    const held: Promise<number>[] = [];
    const k = 2;
    for (let i = 0; i < k; i++) held.push(g.hold());
    const some = await settled((s) => s.in_flight === k && s.connections === k && s.queued === 0);
    const [worker] = workersOf(some);
    const expected = (over: R) => ({
      server: 'gunicorn', type: 'summary', pid: g.proc.pid, workers: 1, workers_busy: 1, workers_idle: 0,
      requests: 1, stale_entries: 0, status_2xx: 1, backlog_address: listener, threads, worker_connections: limit, ...over,
    });
    expect(fixed(summaryOf(some))).to.deep.equal(expected({ backlog: 0, listen_queue: 0, in_flight: k, queued: 0, connections: k }));
    expect(fixed(worker)).to.deep.equal({ server: 'gunicorn', type: 'worker', worker_id: worker!.pid, pid: worker!.pid, status: 'busy', in_flight: k, queued: 0, connections: k });

    // gthread accepts while it holds fewer than worker_connections, and hands each connection to
    // the pool at once: `limit` taken, `threads` of them running, the rest wait for a thread; the
    // clients beyond `limit` stay in the listener's accept queue.
    const clients = 8;
    for (let i = k; i < clients; i++) held.push(g.hold());
    const full = await settled((s) => s.backlog === clients - limit && s.connections === limit && s.in_flight === threads && s.queued === limit - threads);
    expect(fixed(summaryOf(full))).to.deep.equal(expected({ backlog: clients - limit, listen_queue: clients - limit, in_flight: threads, queued: limit - threads, connections: limit }));
    expect(fixed(workersOf(full)[0])).to.deep.equal({ server: 'gunicorn', type: 'worker', worker_id: worker!.pid, pid: worker!.pid, status: 'busy', in_flight: threads, queued: limit - threads, connections: limit });
    g.release();
    expect(await Promise.all(held)).to.deep.equal(held.map(() => 200));
    // gthread drops a finished request from its futures only when its poll returns (within 1 s):
    // until then the seed's pending gauge still counts it, and so does queued.
    const after = await settled((s) => s.requests === 1 + clients && s.connections === 0 && s.backlog === 0 && s.queued === 0);
    expect(fixed(summaryOf(after))).to.deep.equal({ ...expected({ backlog: 0, listen_queue: 0, in_flight: 0, queued: 0, connections: 0 }), workers_busy: 0, workers_idle: 1, requests: 1 + clients, status_2xx: 1 + clients });
  });
});
