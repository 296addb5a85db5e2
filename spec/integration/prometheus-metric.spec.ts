// `metric` records (--records metric): the series of a real gunicorn's prometheus_client exposition
// that wsgistat maps to no other record, one record each, labels as fields. The server is the seed
// 001 setup (spec/fixtures/prom_gunicorn001.py) running spec/fixtures/prom_app_series.py, which adds
// a lookup counter (labels `table`, `type`, `source`) and a NaN gauge to the families wsgistat maps.

import { expect } from 'chai';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { wsgistat, type Run } from '../helpers/run.js';
import { cleanup, freePort, gunicorns, tempDir, until } from '../helpers/servers.js';

type R = Record<string, any>;
const CONF001 = fileURLToPath(new URL('../../../spec/fixtures/prom_gunicorn001.py', import.meta.url));

/** A record without its time and place (checked to be there). */
function fixed(r: R): R {
  const { time, host, source, ...rest } = r;
  expect(time).to.be.a('number');
  expect(host).to.be.a('string');
  expect(source).to.be.a('string');
  return rest;
}

describe('metric records of a Prometheus source', function () {
  this.timeout(60000);
  const gunicorn = gunicorns();
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach(cleanup));

  async function start(ctx: Mocha.Context) {
    const d = tempDir();
    dirs.push(d);
    mkdirSync(join(d, 'm'));
    const port = await freePort();
    const g = await gunicorn(ctx, {
      workerClass: 'gthread', workers: 1, threads: 2, config: CONF001, app: 'prom_app_series:application',
      env: { PROMETHEUS_MULTIPROC_DIR: join(d, 'm'), WSGISTAT_SPEC_METRICS_PORT: String(port) },
    });
    const src = `prometheus+http://127.0.0.1:${port}/metrics`;
    const run = (records: string) => wsgistat(['--no-state', '--records', records, src]);
    return { g, run };
  }
  const metrics = (r: Run) => r.records.filter((x) => x.type === 'metric').map(fixed);

  it('gives each unmapped series as one record: labels as fields, a label named like a record field prefixed, NaN as text, counters as totals', async function () {
    const { g, run } = await start(this);
    const n = 7;
    for (let i = 0; i < n; i++) expect(await g.get('/')).to.equal(200);
    const r = await run('worker,metric');
    expect(r.stderr).to.equal('');
    expect(r.code).to.equal(0);
    const worker = String(r.records.find((x) => x.type === 'worker')!.pid);
    // startGunicorn's GET / that found the server up, then the n of this test.
    expect(metrics(r)).to.have.deep.members([
      { server: 'gunicorn', type: 'metric', name: 'spec_lookups_total', metric_type: 'counter', value: 1 + n, table: 'users', label_type: 'read', label_source: 'cache' },
      { server: 'gunicorn', type: 'metric', name: 'spec_cache_ratio', metric_type: 'gauge', value_text: 'NaN', pid: worker },
    ]);
    expect(metrics(r)).to.have.length(2);
    // Not asked for: none.
    expect((await run('summary,worker')).records.filter((x) => x.type === 'metric')).to.deep.equal([]);
  });

  it('leaves out the series of a worker that is gone, and keeps the counter total it counted', async function () {
    const { run } = await start(this);
    const first = (await run('worker')).records[0]!.pid as number;
    process.kill(first, 'SIGKILL');
    const after = await until('the new worker to report', async () => {
      const x = await run('worker,metric');
      const w = x.records.find((s) => s.type === 'worker');
      return w && w.pid !== first && x.records.some((m) => m.name === 'spec_cache_ratio') ? x : undefined;
    });
    const worker = String(after.records.find((s) => s.type === 'worker')!.pid);
    expect(metrics(after)).to.have.deep.members([
      { server: 'gunicorn', type: 'metric', name: 'spec_lookups_total', metric_type: 'counter', value: 1, table: 'users', label_type: 'read', label_source: 'cache' },
      { server: 'gunicorn', type: 'metric', name: 'spec_cache_ratio', metric_type: 'gauge', value_text: 'NaN', pid: worker },
    ]);
    expect(metrics(after)).to.have.length(2);
  });
});
