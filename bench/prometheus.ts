// What parsing a Prometheus exposition costs (issue #14): a 10,000-series text shaped like a
// prometheus_client /metrics (histograms with labels, counters, gauges, a few escapes), parsed in
// both formats, and the 0.0.4 writer on the families. Run on demand:
// `npm run build && node dist/bench/prometheus.js` (ROUNDS, default 50).

import { parseExposition } from '../lib/sources/prometheus/parse.js';
import { writeExposition } from '../lib/sinks/prometheus/exposition.js';

const ROUNDS = Number(process.env.ROUNDS ?? 50);
const SERIES = 10000;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

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
  console.log(`${what.padEnd(40)} median ${median(t).toFixed(2)} ms`);
}

const prom = exposition(false);
const om = exposition(true);
const families = parseExposition(prom);
const count = families.reduce((a, f) => a + f.samples.length, 0);
if (count !== SERIES) throw new Error(`${count} series, not ${SERIES}`);
console.log(`${ROUNDS} rounds; ${SERIES} series, ${(prom.length / 1024).toFixed(0)} KiB; node ${process.version}\n`);
time('parse, text format 0.0.4', () => parseExposition(prom));
time('parse, OpenMetrics', () => parseExposition(om, 'openmetrics'));
time('write, text format 0.0.4', () => writeExposition(families));
