// What the Prometheus source and output cost (issue #14). Run on demand:
// `npm run build && node dist/bench/prometheus.js` (ROUNDS, default 30; at least 15 are used).
//
// In process: parsing a 10,000-series text shaped like a prometheus_client /metrics (histograms
// with labels, counters, gauges, a few escapes) in both formats (goal: at most 20 ms median for
// 0.0.4), parse + map to records, and the 0.0.4 writer. Then, each against its floor in the same
// run: one-shot wsgistat reading that /metrics against `node -e ''`; one scrape of wsgistat's own
// prometheus:// endpoint against a bare HTTP GET of a tiny page; and CPU per tick of continuous mode
// with a prometheus source (the in-process pipeline) against a bare HTTP GET of the same /metrics.
// The /metrics is served by a child process, so its serving is not counted in this one's CPU.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { tick } from '../lib/pipeline.js';
import type { RateState } from '../lib/records/rates.js';
import { alignedEvery, scheduler } from '../lib/schedule.js';
import { stdoutSink } from '../lib/sinks/stdout.js';
import { writeExposition } from '../lib/sinks/prometheus/exposition.js';
import { parseAddress } from '../lib/sources/address.js';
import { createSource } from '../lib/sources/index.js';
import { mapFamilies } from '../lib/sources/prometheus/map.js';
import { parseExposition } from '../lib/sources/prometheus/parse.js';
import { freePort } from '../spec/helpers/servers.js';

const ROUNDS = Math.max(15, Number(process.env.ROUNDS ?? 30));
const TICKS = Math.max(15, Number(process.env.TICKS ?? 200));
const INTERVAL_MS = Number(process.env.INTERVAL_MS ?? 100);
const SERIES = 10000;
const CLI = fileURLToPath(new URL('../bin/wsgistat.cjs', import.meta.url));

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const show = (what: string, xs: number[], unit = 'ms') => console.log(`${what.padEnd(52)} median ${median(xs).toFixed(2)} ${unit}  (${xs.length} rounds)`);

/** 10,000 series: 500 endpoints x (15 buckets + sum + count) of a histogram = 8,500, then counters
 *  and gauges for the rest. */
function exposition(om: boolean): string {
  const out: string[] = [];
  const les = ['0.005', '0.01', '0.025', '0.05', '0.075', '0.1', '0.25', '0.5', '0.75', '1.0', '2.5', '5.0', '7.5', '10.0', '+Inf'];
  let n = 0;
  out.push('# HELP http_request_latency_seconds Request latency', '# TYPE http_request_latency_seconds histogram');
  for (let e = 0; e < 500; e++) {
    const labels = `app_name="app",endpoint="/api/v1/items/${e} \\"x\\""`;
    les.forEach((le, i) => out.push(`http_request_latency_seconds_bucket{${labels},le="${le}"} ${i * 7 + e}`));
    out.push(`http_request_latency_seconds_sum{${labels}} ${e * 1.2345}`, `http_request_latency_seconds_count{${labels}} ${14 * 7 + e}`);
    n += 17;
  }
  const counter = om ? 'http_requests' : 'http_requests_total';
  out.push('# HELP ' + counter + ' Total Request Count', `# TYPE ${counter} counter`);
  for (let i = 0; n < SERIES - 500; i++, n++) out.push(`http_requests_total{app_name="app",method="GET",endpoint="/e/${i}",http_status="200"} ${i * 3}`);
  out.push('# HELP gunicorn_active_worker_threads Threads', '# TYPE gunicorn_active_worker_threads gauge');
  for (let i = 0; n < SERIES; i++, n++) out.push(`gunicorn_active_worker_threads{pid="${10000 + i}"} ${i % 8}`);
  if (om) out.push('# EOF');
  return `${out.join('\n')}\n`;
}

function time(what: string, f: () => unknown): void {
  for (let i = 0; i < 5; i++) f(); // warm up
  const t: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = process.hrtime.bigint();
    f();
    t.push(ms(t0));
  }
  show(what, t);
}

/** Async rounds, one after the other, after two to warm up. */
async function rounds(what: string, f: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 2; i++) await f();
  const t: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = process.hrtime.bigint();
    await f();
    t.push(ms(t0));
  }
  show(what, t);
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, XDG_STATE_HOME: tmp } });
    c.on('error', reject);
    c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${args.join(' ')} exited ${code}`))));
  });
}

/** GET to the end of the body; resolves with its length. */
function get(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let n = 0;
      res.on('data', (c: Buffer) => (n += c.length));
      res.on('end', () => (res.statusCode === 200 ? resolve(n) : reject(new Error(`${url}: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.setTimeout(10000, () => req.destroy(new Error(`${url}: no answer in 10 s`)));
  });
}

/** A child process serving `file` at /metrics and "ok" elsewhere. */
async function serve(file: string): Promise<{ url: string; tiny: string; proc: ChildProcess }> {
  const port = await freePort();
  const code = `const b=require('fs').readFileSync(${JSON.stringify(file)});require('http').createServer((q,r)=>{const m=q.url==='/metrics';r.writeHead(200,{'content-type':'text/plain; version=0.0.4'});r.end(m?b:'ok')}).listen(${port},'127.0.0.1',()=>console.log('up'))`;
  const proc = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((r) => proc.stdout!.once('data', r));
  return { url: `http://127.0.0.1:${port}/metrics`, tiny: `http://127.0.0.1:${port}/`, proc };
}

/** CPU of this process per tick, `work` run on the scheduler every INTERVAL_MS, TICKS times. */
async function cpuPerTick(what: string, work: () => Promise<unknown>): Promise<void> {
  const cpu: number[] = [];
  let last: NodeJS.CpuUsage | undefined;
  let n = 0;
  const s = scheduler(alignedEvery(INTERVAL_MS));
  await s.run(async () => {
    const now = process.cpuUsage();
    if (last) cpu.push((now.user - last.user + now.system - last.system) / 1000);
    last = now;
    await work();
    if (++n >= TICKS) s.stop();
  }, () => {});
  show(what, cpu, 'ms CPU');
}

const tmp = mkdtempSync(join(tmpdir(), 'wsgistat-bench-'));

async function processes(prom: string): Promise<void> {
  const file = join(tmp, 'metrics.txt');
  writeFileSync(file, prom, { mode: 0o600 });
  const server = await serve(file);
  const src = `prometheus+http://${server.url.slice('http://'.length)}`;
  const stops: (() => void)[] = [() => server.proc.kill()];
  try {
    console.log('\none-shot, wall time of a process:');
    await rounds("node -e ''", () => run(process.execPath, ['-e', '']));
    await rounds(`wsgistat --no-state (${SERIES} series)`, () => run(process.execPath, [CLI, '--no-state', src]));

    console.log("\none scrape of wsgistat's prometheus:// endpoint (continuous, reading that source every 1 s):");
    const port = await freePort();
    const w = spawn(process.execPath, [CLI, '--interval', '1s', '-o', `prometheus://127.0.0.1:${port}/metrics`, src], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, XDG_STATE_HOME: tmp } });
    stops.push(() => w.kill('SIGTERM'));
    const own = `http://127.0.0.1:${port}/metrics`;
    for (let i = 0; i < 100; i++) {
      if (await get(own).catch(() => 0)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await rounds('bare HTTP GET of a 3-byte page (floor)', () => get(server.tiny));
    await rounds(`GET wsgistat's /metrics (${(await get(own))} bytes)`, () => get(own));

    console.log(`\ncontinuous mode in process, every ${INTERVAL_MS} ms, CPU per tick:`);
    await cpuPerTick(`bare HTTP GET of the /metrics (floor)`, () => get(server.url));
    const records = new Set(['summary', 'worker'] as const);
    const source = createSource({ address: parseAddress(src), timeoutMs: 3000, maxBytes: 1 << 24 }, { records, vars: { kind: 'none' } });
    const sink = stdoutSink({ onClosed: () => {}, stream: new Writable({ write: (_c, _e, cb) => cb() }) });
    const states = new Map<string, RateState>();
    await cpuPerTick('wsgistat tick (summary,worker)', () => tick([source], [sink], { hostname: 'bench', errorRecords: true, records, rates: { states, maxGapMs: 600_000 } }));
  } finally {
    stops.reverse().forEach((s) => s());
  }
}

async function main() {
  const prom = exposition(false);
  const om = exposition(true);
  const families = parseExposition(prom);
  const count = families.reduce((a, f) => a + f.samples.length, 0);
  if (count !== SERIES) throw new Error(`${count} series, not ${SERIES}`);
  const cpu = spawnSync('nproc', { encoding: 'utf8' }).stdout.trim();
  console.log(`${ROUNDS} rounds; ${SERIES} series, ${(prom.length / 1024).toFixed(0)} KiB; node ${process.version}; ${cpu} CPUs\n`);
  console.log('in process:');
  time('parse, text format 0.0.4 (goal: 20 ms)', () => parseExposition(prom));
  time('parse, OpenMetrics', () => parseExposition(om, 'openmetrics'));
  time('parse + map to records', () => mapFamilies(parseExposition(prom)));
  time('write, text format 0.0.4', () => writeExposition(families));
  await processes(prom);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
}).finally(() => rmSync(tmp, { recursive: true, force: true }));
