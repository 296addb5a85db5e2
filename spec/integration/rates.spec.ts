// Rates against real uWSGI: one-shot runs chained through the state file, as td-agent's
// run_interval and systemd timers run them.

import { expect } from 'chai';
import { join } from 'node:path';
import { wsgistat, type Run } from '../helpers/run.js';
import { cleanup, needs, startUwsgi, tempDir, until, type Uwsgi, type UwsgiOptions } from '../helpers/servers.js';

type R = Record<string, any>;
const summaryOf = (run: Run) => run.records.find((r) => r.type === 'summary') as R;
const workersOf = (run: Run) => run.records.filter((r) => r.type === 'worker') as R[];

describe('rates against real uWSGI', function () {
  const servers: Uwsgi[] = [];
  const dirs: string[] = [];
  async function uwsgi(ctx: Mocha.Context, opts: UwsgiOptions): Promise<Uwsgi> {
    needs(ctx, 'uwsgi');
    const u = await startUwsgi(opts);
    servers.push(u);
    return u;
  }
  /** A state directory shared by a chain of one-shot runs. */
  function chain(): (args: string[]) => Promise<Run> {
    const dir = tempDir();
    dirs.push(dir);
    return (args) => wsgistat(args, { env: { XDG_STATE_HOME: dir } });
  }
  /** Reads without touching any chain's state. */
  const peek = async (u: Uwsgi) => summaryOf(await wsgistat(['--no-state', u.stats]));
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    dirs.splice(0).forEach(cleanup);
  });

  it('gives requests_delta N, the rate over the interval and the true mean time, after N requests', async function () {
    const u = await uwsgi(this, { workers: 2, threads: 2 });
    const run = chain();
    const first = await run([u.stats]);
    expect(summaryOf(first)).to.not.have.any.keys('requests_delta', 'rate_interval', 'stalled');
    const before = summaryOf(first).requests as number;
    const n = 23;
    for (let i = 0; i < n; i++) await u.get('/');
    await until('uWSGI to count the requests', async () => ((await peek(u)).requests === before + n ? true : undefined));
    const second = await run([u.stats]);
    const s = summaryOf(second);
    expect(second.stderr).to.equal('');
    expect(s.requests_delta).to.equal(n);
    expect(s.requests_per_sec).to.equal(Math.round((n / s.rate_interval) * 1000) / 1000);
    expect(s.mean_rt).to.equal(Math.round((s.running_time_delta / n) * 10) / 10);
    expect(s).to.include({ exceptions_delta: 0, respawn_count_delta: 0, stalled: false, counters_reset: false });
    expect(workersOf(second).reduce((sum, w) => sum + w.requests_delta, 0)).to.equal(n);
  });

  it('follows workers recycled by --max-requests: respawns counted, no negative change', async function () {
    const u = await uwsgi(this, { workers: 1, threads: 1, extra: ['--max-requests', '3', '--min-worker-lifetime', '0'] });
    const run = chain();
    const first = await run([u.stats]);
    const [w0] = workersOf(first);
    for (let i = 0; i < 7; i++) await u.get('/');
    await until('the worker to be recycled twice', async () => {
      const w = workersOf(await wsgistat(['--no-state', u.stats]))[0]!;
      return w.respawn_count >= w0!.respawn_count + 2 && w.accepting === 1 ? true : undefined;
    });
    const second = await run([u.stats]);
    const [w] = workersOf(second);
    expect(w!.pid).to.not.equal(w0!.pid);
    expect(w).to.include({ requests_delta: 7, respawn_count_delta: w!.respawn_count - w0!.respawn_count });
    expect(summaryOf(second)).to.include({ requests_delta: 7 });
  });

  it('counts from zero across a restart of the server on the same socket', async function () {
    const dir = tempDir();
    dirs.push(dir);
    const statsPath = join(dir, 'app.stats');
    const a = await uwsgi(this, { workers: 2, threads: 1, statsPath });
    for (let i = 0; i < 9; i++) await a.get('/');
    await until('uWSGI to count the requests', async () => ((await peek(a)).requests >= 9 ? true : undefined));
    const run = chain();
    const first = await run([a.stats]);
    await a.stop();
    const b = await uwsgi(this, { workers: 2, threads: 1, statsPath });
    await b.get('/');
    const second = await run([b.stats]);
    const [s0, s1] = [summaryOf(first), summaryOf(second)];
    expect(s1.pid).to.not.equal(s0.pid);
    expect(s1.requests).to.be.below(s0.requests);
    expect(s1.requests_delta, 'what the new server served, not a negative number').to.equal(s1.requests);
    expect(s1.counters_reset).to.equal(true);
    for (const w of workersOf(second)) expect(w.requests_delta).to.equal(w.requests);
  });

  it('reports a stuck server that looks idle: the queue grows, nobody is busy, nothing moves', async function () {
    const u = await uwsgi(this, { workers: 2, threads: 1 });
    const run = chain();
    await run([u.stats]);
    // Frozen workers: uWSGI still reports them idle and accepting, as in the teardown deadlock.
    const pids = workersOf(await wsgistat(['--no-state', u.stats])).map((w) => w.pid as number);
    pids.forEach((pid) => process.kill(pid, 'SIGSTOP'));
    let waiting: Promise<number>[] = [];
    try {
      waiting = Array.from({ length: 4 }, () => u.get('/').catch(() => 0));
      await until('the connections to queue up', async () => ((await peek(u)).listen_queue >= 4 ? true : undefined));
      const stuck = summaryOf(await run([u.stats]));
      expect(stuck).to.include({ stalled: true, workers_busy: 0, workers_idle: 0, workers_idle_reported: 2, workers_stuck: 2, requests_delta: 0 });
      expect(stuck.listen_queue).to.be.at.least(4);
    } finally {
      pids.forEach((pid) => process.kill(pid, 'SIGCONT'));
    }
    expect(await Promise.all(waiting)).to.deep.equal([200, 200, 200, 200]);
    // The master refreshes listen_queue once a second.
    await until('the master to see the queue drained', async () => ((await peek(u)).listen_queue === 0 ? true : undefined));
    const recovered = summaryOf(await run([u.stats]));
    expect(recovered).to.include({ stalled: false, listen_queue: 0 });
    expect(recovered.requests_delta).to.equal(4);
  });
});
