// The Prometheus source against real gunicorn 20.1 instrumented with prometheus_client in
// multiprocess mode, as shared/seeds/002 instruments it (spec/fixtures/prom_app.py,
// prom_gunicorn002.py): the ground truth is what the spec sends.

import { expect } from 'chai';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { wsgistat, type Run } from '../helpers/run.js';
import { cleanup, gunicorns, tempDir, until } from '../helpers/servers.js';
import { readStat } from '../../lib/proc.js';
import { fileURLToPath } from 'node:url';

type R = Record<string, any>;
const summaryOf = (r: Run) => r.records.find((x) => x.type === 'summary') as R;
const workersOf = (r: Run) => r.records.filter((x) => x.type === 'worker') as R[];
const CONF002 = fileURLToPath(new URL('../../../spec/fixtures/prom_gunicorn002.py', import.meta.url));

describe('the Prometheus source, on a gunicorn instrumented as seed 002 does', function () {
  this.timeout(60000);
  const gunicorn = gunicorns();
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach(cleanup));
  async function start(ctx: Mocha.Context) {
    const multiproc = tempDir();
    dirs.push(multiproc);
    mkdirSync(join(multiproc, 'm'));
    const g = await gunicorn(ctx, { workers: 2, config: CONF002, app: 'prom_app:application', env: { PROMETHEUS_MULTIPROC_DIR: join(multiproc, 'm') } });
    const state = tempDir();
    dirs.push(state);
    const src = `prometheus+http://127.0.0.1:${g.httpPort}/metrics`;
    const dir = `prometheus-multiproc://${join(multiproc, 'm')}`;
    return {
      g, src, dir,
      run: (args: string[] = []) => wsgistat([...args, src], { env: { XDG_STATE_HOME: state } }),
      runDir: (args: string[] = []) => wsgistat([...args, dir], { env: { XDG_STATE_HOME: state } }),
    };
  }

  it('gives requests_delta N and the status class of N requests, the mean and percentiles from the histogram, its own scrapes left out', async function () {
    const { g, run } = await start(this);
    const first = await run();
    expect(first.code, first.stderr).to.equal(0);
    const n = 12;
    for (let i = 0; i < n; i++) expect(await g.get('/')).to.equal(200);
    const second = await run();
    expect(second.stderr).to.equal('');
    const s = summaryOf(second);
    expect(s).to.include({ server: 'gunicorn', requests_delta: n, status_2xx_delta: n, in_flight: 0, counters_reset: false });
    expect(s.mean_rt).to.be.a('number').above(0);
    expect(s.rt_p50).to.be.a('number').above(0);
    expect(s.rt_p99).to.be.at.least(s.rt_p50);
    // Every worker record is one of gunicorn's workers (a child of its master).
    for (const w of workersOf(second)) expect(readStat(w.pid)?.ppid, `worker ${w.pid}`).to.equal(g.proc.pid);
  });

  it('counts a held request in flight, not the scrape; a SIGKILLed worker leaves no phantom in flight', async function () {
    const { g, run } = await start(this);
    const held = g.hold();
    const during = await until('the held request to show', async () => {
      const r = await run(['--no-state']);
      return summaryOf(r)?.in_flight === 1 ? r : undefined;
    });
    const busy = workersOf(during).filter((w) => w.in_flight > 0);
    expect(busy.map((w) => w.in_flight)).to.deep.equal([1]);
    expect(readStat(busy[0]!.pid)?.ppid).to.equal(g.proc.pid);
    process.kill(busy[0]!.pid, 'SIGKILL');
    await held;
    const after = await until('the dead worker to be dropped', async () => {
      const r = await run(['--no-state']);
      const s = summaryOf(r);
      return s && s.stale_entries >= 1 ? r : undefined;
    });
    expect(summaryOf(after).in_flight).to.equal(0);
    expect(workersOf(after).map((w) => w.pid)).to.not.include(busy[0]!.pid);
    g.release();
  });

  it('reads the multiprocess directory itself: N requests, and every worker busy while /metrics cannot answer', async function () {
    const { g, runDir, run } = await start(this);
    for (let i = 0; i < 3; i++) await g.get('/'); // both workers' files exist from here on, as a rule
    const first = await runDir();
    expect(first.code, first.stderr).to.equal(0);
    const n = 8;
    for (let i = 0; i < n; i++) await g.get('/');
    const second = await runDir();
    expect(second.stderr).to.equal('');
    expect(summaryOf(second)).to.include({ requests_delta: n, status_2xx_delta: n, in_flight: 0, counters_reset: false });
    // Both sync workers held: nobody can serve /metrics, the directory still answers.
    const held = [g.hold(), g.hold()];
    const busy = await until('both workers busy', async () => {
      const r = await runDir(['--no-state']);
      return summaryOf(r)?.in_flight === 2 ? r : undefined;
    });
    expect(summaryOf(busy)).to.include({ workers_busy: 2, in_flight: 2 });
    const http = await run(['--no-state', '--timeout', '1s']);
    expect(http.code).to.equal(1);
    expect(http.records[0]).to.include({ type: 'error', code: 'timeout' });
    expect(http.stderr).to.include('read prometheus_client\'s multiprocess directory instead (prometheus-multiproc:///DIR)');
    g.release();
    await Promise.all(held);
  });
});
