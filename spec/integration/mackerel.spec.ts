// --format mackerel as mackerel-agent runs it: a new process each minute, chained by the state
// file, against real uWSGI and gunicorn (with the wsgistat hooks).

import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { wsgistat, type Run } from '../helpers/run.js';
import { cleanup, needs, startGunicorn, startUwsgi, tempDir, until, type Gunicorn, type Uwsgi } from '../helpers/servers.js';

type Line = { name: string; value: number; epoch: number };

/** stdout as mackerel-agent reads it; every line must be `name<TAB>number<TAB>epoch`. */
function metrics(run: Run): Line[] {
  return run.stdout.split('\n').filter((l) => l !== '').map((l) => {
    const parts = l.split('\t');
    expect(parts, l).to.have.length(3);
    expect(parts[0], 'a valid mackerel metric name').to.match(/^[-a-zA-Z0-9_.]+$/);
    expect(parts[1], 'a number').to.match(/^-?\d+(\.\d+)?$/);
    expect(parts[2], 'epoch seconds').to.match(/^\d{10}$/);
    return { name: parts[0]!, value: Number(parts[1]), epoch: Number(parts[2]) };
  });
}
const names = (run: Run) => metrics(run).map((m) => m.name);
const valueOf = (run: Run, name: string) => metrics(run).find((m) => m.name === name)?.value;

/** The graph definitions a META run prints, as metric names. */
function defined(run: Run): string[] {
  const [header, json, ...rest] = run.stdout.split('\n');
  expect(header).to.equal('# mackerel-agent-plugin');
  expect(rest).to.deep.equal(['']);
  const defs = JSON.parse(json!) as { graphs: Record<string, { label: string; unit: string; metrics: { name: string; label: string }[] }> };
  for (const [g, d] of Object.entries(defs.graphs)) {
    expect(g, 'a graph name mackerel accepts').to.match(/^[-a-zA-Z0-9_.]+$/);
    expect(d.label).to.be.a('string').and.not.equal('');
    expect(['integer', 'float', 'milliseconds', 'bytes', 'bytes/sec']).to.include(d.unit);
  }
  return Object.entries(defs.graphs).flatMap(([g, d]) => d.metrics.map((m) => `${g}.${m.name}`));
}

const GAUGES = ['workers.busy', 'workers.idle', 'workers.cheap', 'workers.pause', 'workers.other', 'workers.stuck', 'queue.listen_queue', 'cores.busy', 'cores.idle'];
const RATES = ['req.requests', 'errors.exceptions', 'errors.harakiri', 'latency.mean', 'traffic.tx', 'respawns.respawns'];
/** In the order the lines come: graph by graph. */
const UWSGI = ['workers.busy', 'workers.idle', 'workers.cheap', 'workers.pause', 'workers.other', 'workers.stuck', 'queue.listen_queue', 'req.requests',
  'errors.exceptions', 'errors.harakiri', 'latency.mean', 'traffic.tx', 'respawns.respawns', 'cores.busy', 'cores.idle'];

describe('--format mackerel against real servers', function () {
  const servers: (Uwsgi | Gunicorn)[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    dirs.splice(0).forEach(cleanup);
  });
  async function uwsgi(ctx: Mocha.Context, extra: string[] = [], statsPath?: string): Promise<Uwsgi> {
    needs(ctx, 'uwsgi');
    const u = await startUwsgi({ workers: 2, threads: 2, extra, ...(statsPath ? { statsPath } : {}) });
    servers.push(u);
    return u;
  }
  /** One-shot runs sharing a state directory, as mackerel-agent's runs of one plugin do; `at()`
   *  gives the time of the sample each run kept, from the state file. */
  function agent(): { run: (args: string[], env?: NodeJS.ProcessEnv) => Promise<Run>; at: () => number } {
    const dir = tempDir();
    dirs.push(dir);
    return {
      run: (args, env = {}) => wsgistat(['--format', 'mackerel', ...args], { env: { XDG_STATE_HOME: dir, ...env } }),
      at: () => {
        const files = readdirSync(join(dir, 'wsgistat'));
        expect(files).to.have.length(1);
        const state = JSON.parse(readFileSync(join(dir, 'wsgistat', files[0]!), 'utf8')) as { sources: Record<string, { time: number }> };
        return Object.values(state.sources)[0]!.time;
      },
    };
  }
  const peek = async (address: string) => (await wsgistat(['--no-state', address])).records.find((r) => r.type === 'summary') as Record<string, number>;

  it('prints gauges on a first run, then N requests as the right per-minute rate', async function () {
    const u = await uwsgi(this);
    const a = agent();
    const first = await a.run([u.stats]);
    expect(first.code).to.equal(0);
    expect(first.stderr).to.equal('');
    expect(names(first), 'no rate on a first run').to.deep.equal(GAUGES.map((n) => `uwsgi.${n}`));
    const t1 = a.at();
    expect(new Set(metrics(first).map((m) => m.epoch))).to.deep.equal(new Set([Math.floor(t1 / 1000)]));

    const before = (await peek(u.stats)).requests!;
    const n = 30;
    for (let i = 0; i < n; i++) expect(await u.get('/')).to.equal(200);
    await until('uWSGI to count the requests', async () => ((await peek(u.stats)).requests === before + n ? true : undefined));
    const second = await a.run([u.stats]);
    const t2 = a.at();
    expect(second.stderr).to.equal('');
    expect(names(second)).to.deep.equal(UWSGI.map((n) => `uwsgi.${n}`));
    expect(valueOf(second, 'uwsgi.req.requests')).to.equal(Math.round((n / ((t2 - t1) / 1000)) * 60 * 1000) / 1000);
    expect(valueOf(second, 'uwsgi.errors.exceptions')).to.equal(0);
    expect(valueOf(second, 'uwsgi.respawns.respawns')).to.equal(0);
    expect(valueOf(second, 'uwsgi.latency.mean')).to.be.above(0).and.below(1000);
    expect(valueOf(second, 'uwsgi.traffic.tx')).to.be.above(0);
    expect(valueOf(second, 'uwsgi.workers.busy')! + valueOf(second, 'uwsgi.workers.idle')!).to.equal(2);
    expect(valueOf(second, 'uwsgi.cores.busy')! + valueOf(second, 'uwsgi.cores.idle')!).to.equal(4);
  });

  it('defines graphs for exactly the metrics it prints, without touching the rates of the next run', async function () {
    const u = await uwsgi(this, ['--memory-report']);
    const a = agent();
    const meta = await a.run([u.stats], { MACKEREL_AGENT_PLUGIN_META: '1' });
    expect(meta.code).to.equal(0);
    const first = await a.run([u.stats]);
    expect(names(first), 'the META run left no previous sample behind').to.not.include('uwsgi.req.requests');
    for (let i = 0; i < 5; i++) await u.get('/');
    const second = await a.run([u.stats]);
    const printed = names(second);
    expect(printed).to.include.members(['uwsgi.memory.rss', 'uwsgi.memory.vsz', 'uwsgi.req.requests', 'uwsgi.latency.mean']);
    expect(defined(meta)).to.deep.equal(printed);
  });

  it('keeps several servers apart by label, uWSGI and gunicorn side by side, each with its own definitions', async function () {
    needs(this, 'gunicorn');
    const u = await uwsgi(this);
    const g = await startGunicorn({ workerClass: 'gthread', workers: 2, threads: 2 });
    servers.push(g);
    const a = agent();
    const sources = [`web=${u.stats}`, `api=${g.status}`];
    const before = (await peek(u.stats)).requests!;
    await a.run(sources);
    const t1 = a.at();
    for (let i = 0; i < 12; i++) expect(await g.get('/')).to.equal(200);
    for (let i = 0; i < 3; i++) expect(await u.get('/')).to.equal(200);
    await until('uWSGI to count the requests', async () => ((await peek(u.stats)).requests === before + 3 ? true : undefined));
    const run = await a.run(sources);
    const t2 = a.at();
    expect(run.code).to.equal(0);
    const printed = names(run);
    expect(printed.filter((n) => n.startsWith('uwsgi.web.'))).to.deep.equal(UWSGI.map((n) => `uwsgi.web.${n}`));
    expect(printed.filter((n) => n.startsWith('gunicorn.api.'))).to.deep.equal([
      'workers.busy', 'workers.idle', 'queue.listen_queue', 'queue.queued', 'req.requests', 'errors.exceptions', 'errors.aborted',
      'status.status_1xx', 'status.status_2xx', 'status.status_3xx', 'status.status_4xx', 'status.status_5xx',
      'latency.mean', 'latency.p50', 'latency.p90', 'latency.p99', 'cores.busy', 'stale.entries',
    ].map((n) => `gunicorn.api.${n}`));
    expect(printed.every((n) => n.startsWith('uwsgi.web.') || n.startsWith('gunicorn.api.'))).to.equal(true);
    const perMinute = Math.round((12 / ((t2 - t1) / 1000)) * 60 * 1000) / 1000;
    expect(valueOf(run, 'gunicorn.api.req.requests')).to.equal(perMinute);
    expect(valueOf(run, 'gunicorn.api.status.status_2xx')).to.equal(perMinute);
    expect(valueOf(run, 'gunicorn.api.stale.entries')).to.equal(0);
    expect(valueOf(run, 'gunicorn.api.errors.aborted')).to.equal(0);
    expect(valueOf(run, 'gunicorn.api.latency.p50')).to.be.above(0).and.at.most(valueOf(run, 'gunicorn.api.latency.p99')!);
    expect(valueOf(run, 'uwsgi.web.req.requests')).to.equal(Math.round((3 / ((t2 - t1) / 1000)) * 60 * 1000) / 1000);
    const meta = await a.run(sources, { MACKEREL_AGENT_PLUGIN_META: '1' });
    expect(defined(meta)).to.deep.equal(printed);
  });

  it('keeps mackerel-plugin-uwsgi-vassal\'s metric names with --metric-prefix uWSGI', async function () {
    const u = await uwsgi(this);
    const a = agent();
    await a.run(['--metric-prefix', 'uWSGI', u.stats]);
    const run = await a.run(['--metric-prefix', 'uWSGI', u.stats]);
    expect(names(run)).to.include.members(['uWSGI.workers.busy', 'uWSGI.workers.idle', 'uWSGI.workers.cheap', 'uWSGI.workers.pause', 'uWSGI.req.requests']);
  });

  it('prints nothing for a missing source, one stderr line for it, exit status 1, and the others in full', async function () {
    const u = await uwsgi(this);
    const dir = tempDir();
    dirs.push(dir);
    const missing = join(dir, 'gone.stats');
    const a = agent();
    const run = await a.run([`web=${u.stats}`, `old=unix://${missing}`]);
    expect(run.code).to.equal(1);
    expect(names(run)).to.deep.equal(GAUGES.map((n) => `uwsgi.web.${n}`));
    expect(run.stderr).to.equal(`wsgistat: error [source old=unix://${missing}] unix socket ${missing} does not exist (is the server running, and is this the path it was given? wsgistat discover lists the servers running here)\n`);
    const meta = await a.run([`web=${u.stats}`, `old=unix://${missing}`], { MACKEREL_AGENT_PLUGIN_META: '1' });
    expect(meta.code).to.equal(1);
    expect(defined(meta).every((n) => n.startsWith('uwsgi.web.'))).to.equal(true);
    expect(meta.stderr.split('\n').filter(Boolean)).to.have.length(1);
  });

  it('prints no rate for the run after a restart, as mackerel plugins do, and rates again after', async function () {
    const dir = tempDir();
    dirs.push(dir);
    const statsPath = join(dir, 'app.stats');
    const first = await uwsgi(this, [], statsPath);
    for (let i = 0; i < 9; i++) await first.get('/');
    const a = agent();
    await a.run([first.stats]);
    await first.stop();
    servers.splice(servers.indexOf(first), 1);
    const second = await uwsgi(this, [], statsPath);
    await second.get('/');
    const afterRestart = await a.run([second.stats]);
    expect(names(afterRestart)).to.deep.equal(GAUGES.map((n) => `uwsgi.${n}`));
    const next = await a.run([second.stats]);
    expect(names(next)).to.include.members(RATES.filter((r) => r !== 'latency.mean').map((n) => `uwsgi.${n}`));
  });
});
