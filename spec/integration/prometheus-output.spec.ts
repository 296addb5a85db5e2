// The Prometheus output against real parts: a real uWSGI and gunicorn under known traffic, wsgistat
// serving /metrics in continuous mode, promtool checking what it serves, and a real Prometheus
// server scraping it: the counters it stores move by exactly the requests sent.

import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startWsgistat, wsgistat } from '../helpers/run.js';
import { cleanup, freePort, needs, startGunicorn, startUwsgi, tempDir, until, type Gunicorn, type Uwsgi } from '../helpers/servers.js';

/** The value of one sample in an exposition, by name and labels included in it. */
function valueOf(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

const scrape = async (url: string) => {
  const res = await fetch(url);
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
};

function promtool(text: string): { status: number | null; out: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('the Prometheus output', function () {
  this.timeout(60000);
  const stops: (() => Promise<unknown>)[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const s of stops.splice(0).reverse()) await s();
    dirs.splice(0).forEach(cleanup);
  });
  const dir = () => {
    const d = tempDir();
    dirs.push(d);
    return d;
  };

  it('serves uWSGI under uwsgi_exporter\'s names, checked by promtool; requests_total moves by exactly the requests sent', async function () {
    needs(this, 'uwsgi');
    needs(this, 'promtool');
    const u: Uwsgi = await startUwsgi({ workers: 2, threads: 1 });
    stops.push(() => u.stop());
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/metrics`;
    const w = startWsgistat(['--interval', '1s', '-o', `prometheus://127.0.0.1:${port}/metrics`, u.stats], { XDG_STATE_HOME: dir() });
    stops.push(() => w.stop('SIGTERM'));
    const first = await until('a first sample served', async () => {
      const r = await scrape(url).catch(() => undefined);
      return r && valueOf(r.text, 'uwsgi_requests_total') !== undefined ? r : undefined;
    });
    expect(first.type).to.equal('text/plain; version=0.0.4; charset=utf-8');
    const check = promtool(first.text);
    expect(check, check.out).to.deep.equal({ status: 0, out: '' });
    expect(valueOf(first.text, 'wsgistat_up', { source: u.stats, server: 'uwsgi' })).to.equal(1);
    expect(valueOf(first.text, 'uwsgi_workers')).to.equal(2);
    for (const id of ['1', '2']) expect(valueOf(first.text, 'uwsgi_worker_accepting', { worker_id: id })).to.equal(1);
    expect(first.text).to.match(/^# TYPE uwsgi_requests_total counter$/m).and.match(/^# TYPE uwsgi_worker_requests_total counter$/m);
    const before = valueOf(first.text, 'uwsgi_requests_total')!;
    const n = 17;
    for (let i = 0; i < n; i++) await u.get('/');
    const after = await until('the requests to show', async () => {
      const r = await scrape(url);
      return valueOf(r.text, 'uwsgi_requests_total') === before + n ? r : undefined;
    });
    const perWorker = ['1', '2'].map((id) => valueOf(after.text, 'uwsgi_worker_requests_total', { worker_id: id }) ?? 0);
    expect(perWorker.reduce((a, b) => a + b, 0)).to.equal(before + n);
    expect((await scrape(`http://127.0.0.1:${port}/other`)).status).to.equal(404);
    expect(await w.stop('SIGTERM')).to.equal(0);
    expect(w.stderr()).to.equal('');
  });

  it('is scraped by a real Prometheus: the stored counter moves by exactly the requests sent', async function () {
    needs(this, 'uwsgi');
    needs(this, 'prometheus');
    const u = await startUwsgi({ workers: 1, threads: 1 });
    stops.push(() => u.stop());
    const [port, promPort] = [await freePort(), await freePort()];
    const w = startWsgistat(['--interval', '1s', '-o', `prometheus://127.0.0.1:${port}/metrics`, u.stats], { XDG_STATE_HOME: dir() });
    stops.push(() => w.stop('SIGTERM'));
    const d = dir();
    writeFileSync(join(d, 'prometheus.yml'), `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: wsgistat\n    static_configs:\n      - targets: ['127.0.0.1:${port}']\n`);
    const prom: ChildProcess = spawn('prometheus', [`--config.file=${join(d, 'prometheus.yml')}`, `--storage.tsdb.path=${join(d, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' });
    stops.push(() => new Promise((r) => (prom.exitCode !== null ? r(null) : (prom.once('exit', r), prom.kill('SIGTERM')))));
    const query = async (q: string): Promise<number | undefined> => {
      const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`).catch(() => undefined);
      if (!res?.ok) return undefined;
      const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
      const v = body.data.result[0]?.value[1];
      return v === undefined ? undefined : Number(v);
    };
    const up = await until('Prometheus to scrape wsgistat', () => query('up{job="wsgistat"}'), 30000);
    expect(up).to.equal(1);
    const before = await until('a stored sample', () => query('uwsgi_requests_total'), 30000);
    const n = 11;
    for (let i = 0; i < n; i++) await u.get('/');
    const stored = await until('Prometheus to store the new count', async () => ((await query('uwsgi_requests_total')) === before + n ? before + n : undefined), 30000);
    expect(stored).to.equal(before + n);
    expect(await query('wsgistat_up')).to.equal(1);
  });

  it('serves gunicorn (wsgistat hooks) under the same scheme, with responses by status and the latency summary', async function () {
    needs(this, 'gunicorn');
    needs(this, 'promtool');
    const g: Gunicorn = await startGunicorn({ workers: 2 });
    stops.push(() => g.stop());
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/metrics`;
    const w = startWsgistat(['--interval', '1s', '-o', `prometheus://:${port}`, g.status], { XDG_STATE_HOME: dir() });
    stops.push(() => w.stop('SIGTERM'));
    const first = await until('a first sample served', async () => {
      const r = await scrape(url).catch(() => undefined);
      return r && valueOf(r.text, 'gunicorn_requests_total') !== undefined ? r : undefined;
    });
    const before = valueOf(first.text, 'gunicorn_responses_total', { status: '2xx' }) ?? 0;
    const n = 9;
    for (let i = 0; i < n; i++) await g.get('/');
    const after = await until('two more samples with the requests', async () => {
      const r = await scrape(url);
      return valueOf(r.text, 'gunicorn_responses_total', { status: '2xx' }) === before + n && valueOf(r.text, 'gunicorn_request_duration_seconds', { quantile: '0.5' }) !== undefined ? r : undefined;
    }, 15000);
    const check = promtool(after.text);
    expect(check, check.out).to.deep.equal({ status: 0, out: '' });
    expect(valueOf(after.text, 'gunicorn_requests_total')).to.equal(before + n);
    expect(valueOf(after.text, 'gunicorn_request_duration_seconds_count')).to.equal(before + n);
    expect(valueOf(after.text, 'gunicorn_workers')).to.equal(2);
    expect(after.text).to.match(/^# TYPE gunicorn_request_duration_seconds summary$/m);
  });

  it('prints the same text one-shot with --format prometheus, a failed source as wsgistat_up 0', async function () {
    needs(this, 'promtool');
    const file = new URL('../../../spec/fixtures/uwsgi/busy.json', import.meta.url).pathname;
    const r = await wsgistat(['--format', 'prometheus', '--no-state', `file://${file}`, 'down=unix:///nonexistent/stats.sock']);
    expect(r.code).to.equal(1);
    expect(promtool(r.stdout), r.stdout).to.deep.equal({ status: 0, out: '' });
    expect(valueOf(r.stdout, 'wsgistat_up', { source: `file://${file}` })).to.equal(1);
    expect(valueOf(r.stdout, 'wsgistat_up', { label: 'down' })).to.equal(0);
    expect(valueOf(r.stdout, 'uwsgi_workers')).to.be.a('number');
    expect(r.stderr.trim().split('\n')).to.have.length(1);
  });

  it('refuses a prometheus:// output without a schedule, and --format prometheus with one, saying what to use', async () => {
    const a = await wsgistat(['-o', 'prometheus://127.0.0.1:9117/metrics', '/run/x.stats']);
    expect([a.code, a.stdout]).to.deep.equal([2, '']);
    expect(a.stderr).to.equal('wsgistat: error [config] output prometheus://127.0.0.1:9117/metrics serves the latest sample, so it is for continuous runs (--interval or --cron); a one-shot run for node_exporter\'s textfile collector is --format prometheus\n');
    const b = await wsgistat(['--format', 'prometheus', '--interval', '10s', '/run/x.stats']);
    expect(b.code).to.equal(2);
    expect(b.stderr).to.include('--format prometheus is for one-shot runs').and.include('drop --interval');
  });
});
