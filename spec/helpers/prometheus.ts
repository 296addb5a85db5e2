// Oracles for the Prometheus specs, run as real processes: Debian's /usr/bin/python3 with
// python3-prometheus-client (its parsers, generate_latest, MultiProcessCollector) and promtool
// (Debian prometheus). Without them a spec skips, except under CI, where it fails.
//
// Values cross from Python as the hex of their IEEE-754 bits, so NaN, ±Inf and -0 arrive exact.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { MetricFamily, MetricSample } from '../../lib/sources/prometheus/parse.js';

export const PYTHON = '/usr/bin/python3';
export const PROMTOOL = '/usr/bin/promtool';

function pythonHasClient(): boolean {
  return existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import prometheus_client.openmetrics.parser'], { stdio: 'ignore', timeout: 20000 }).status === 0;
}

/** Skips the current test when the oracle is missing, or fails it under CI. */
export function needsOracle(ctx: Mocha.Context, which: 'python' | 'promtool'): void {
  const ok = which === 'python' ? pythonHasClient() : existsSync(PROMTOOL);
  if (ok) return;
  const what = which === 'python' ? `${PYTHON} with prometheus_client (Debian python3-prometheus-client)` : `${PROMTOOL} (Debian prometheus)`;
  if (process.env.CI) throw new Error(`${what} is missing, and CI must run this spec against it (.ci/run installs it)`);
  ctx.skip();
}

/** Runs Python code with `input` on stdin; its stdout, or an Error with its stderr. */
export function python(code: string, input = '', env: Record<string, string> = {}): string {
  const r = spawnSync(PYTHON, ['-c', code], { input, encoding: 'utf8', timeout: 60000, maxBuffer: 64 << 20, env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`python3 failed (${r.status ?? r.signal}): ${(r.stderr || r.error?.message || '').slice(-2000)}`);
  return r.stdout;
}

/** `promtool check metrics` on a text: its exit status and what it said. */
export function promtoolCheck(text: string): { status: number | null; output: string } {
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

/** Python: a family list as JSON with values as bit patterns; shared by every oracle below. */
export const PY_DUMP = String.raw`
import json, struct, sys
def bits(v): return struct.pack('>d', float(v)).hex()
def ts(t):
    if t is None: return None
    if hasattr(t, 'sec'): return [t.sec, t.nsec]
    return bits(t)
def dump(families):
    return json.dumps([{'name': m.name, 'type': m.type, 'help': m.documentation, 'unit': m.unit,
        'samples': [{'name': s.name, 'labels': s.labels, 'value': bits(s.value), 'timestamp': ts(s.timestamp)} for s in m.samples]}
        for m in families])
`;

/** prometheus_client's parser of the given format on `text`: its families, or {error}. */
export function pyParse(text: string, format: 'prometheus' | 'openmetrics'): PyFamily[] | { error: string } {
  const mod = format === 'openmetrics' ? 'prometheus_client.openmetrics.parser' : 'prometheus_client.parser';
  const out = python(`${PY_DUMP}
import ${mod} as p
try:
    print(dump(list(p.text_string_to_metric_families(sys.stdin.read()))))
except Exception as e:
    print(json.dumps({'error': type(e).__name__}))
`, text);
  return JSON.parse(out) as PyFamily[] | { error: string };
}

export interface PySample { name: string; labels: Record<string, string>; value: string; timestamp: string | [number, number] | null }
export interface PyFamily { name: string; type: string; help: string; unit: string; samples: PySample[] }

const fromBits = (hex: string) => Buffer.from(hex, 'hex').readDoubleBE(0);
/** A number as a comparable string: NaN equals NaN, -0 is not 0. */
export const num = (v: number) => (Object.is(v, -0) ? '-0' : String(v));

/** Python's families in a comparable form: values as strings; timestamps in the unit each parser
 *  gives (0.0.4: seconds, as the Python parser divides; OpenMetrics: milliseconds). */
export function fromPy(families: PyFamily[]): unknown[] {
  return families.map((f) => ({
    name: f.name, type: f.type, help: f.help, unit: f.unit,
    samples: f.samples.map((s) => ({
      name: s.name, labels: s.labels, value: num(fromBits(s.value)),
      timestamp: s.timestamp === null ? null : Array.isArray(s.timestamp) ? s.timestamp[0] * 1000 + s.timestamp[1] / 1e6 : num(fromBits(s.timestamp) * 1000),
    })),
  }));
}

/** Ours in the same form, with prometheus_client's own renamings applied (its 0.0.4 parser names a
 *  counter family without `_total` and adds `_total` to samples of one that lacks it; its model
 *  calls untyped unknown and has unit ''). */
export function asPy(families: MetricFamily[], format: 'prometheus' | 'openmetrics'): unknown[] {
  return families.map((f) => {
    let name = f.name;
    let rename = (s: MetricSample) => s.name;
    if (format === 'prometheus' && f.type === 'counter') {
      if (name.endsWith('_total')) name = name.slice(0, -6);
      else rename = (s) => `${s.name}_total`;
    }
    return {
      name, type: f.type === 'untyped' ? 'unknown' : f.type, help: f.help, unit: f.unit ?? '',
      samples: f.samples.map((s) => ({
        name: rename(s), labels: { ...s.labels }, value: num(s.value),
        timestamp: s.timestamp === undefined ? null : format === 'prometheus' ? num((s.timestamp / 1000) * 1000) : s.timestamp,
      })),
    };
  });
}

/** Python: a registry of every metric type with label values made to break parsers; prints both
 *  expositions of it. */
export const PY_GENERATE = String.raw`
import json
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary, Info, Enum, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as om_latest
from prometheus_client.core import GaugeMetricFamily, CounterMetricFamily, UnknownMetricFamily
r = CollectorRegistry()
NASTY = ['a b', 'x:y/z=w,v}u', 'quote"back\\slash\nnewline', '{}', ' # {a="b"} 1', '', 'é中😀', 'tab\there',
         'ends with backslash\\', '\\n literal', '=', ',', '}', '"', '\\"', 'le="+Inf"}', 'secret=hunter2']
c = Counter('http_requests', 'Total requests with "quotes" and \\ backslash\nand a newline', ['method', 'endpoint', 'http_status'], registry=r)
for i, v in enumerate(NASTY):
    c.labels('GET', v, str(200 + i)).inc(i + 0.5)
g = Gauge('gunicorn_pending_connections', 'The number of pending connections on all sockets. Linux only.', ['listener'], registry=r)
for k, v in [('unix:/run/app.sock', float('nan')), ('127.0.0.1:8000', float('inf')), ('[::1]:8000', float('-inf')),
             ('zero', -0.0), ('big', 1.2345678e300), ('tiny', 5e-324), ('int', 123456789), ('frac', 0.1), ('million', 1e6)]:
    g.labels(k).set(v)
h = Histogram('http_request_latency_seconds', 'Request latency', ['app_name', 'endpoint'], registry=r)
for v in [0.001, 0.02, 0.3, 4, 50]:
    for e in NASTY[:5]:
        h.labels('app', e).observe(v)
h2 = Histogram('sizes_bytes', 'Sizes', buckets=[1, 10, 1e3, 1e6, 1e9, 1e15, float('inf')], registry=r)
h2.observe(5e5)
s = Summary('work_seconds', 'Work', ['kind'], registry=r)
s.labels('a b').observe(1.5)
s.labels('c,d').observe(0.25)
Info('build', 'Build information', registry=r).info({'version': '1.2 "beta"', 'commit': 'a,b=c}'})
Enum('state', 'State of the thing', states=['starting', 'running', 'stopped'], registry=r).state('running')
class Custom:
    def collect(self):
        g = GaugeMetricFamily('with_ts', 'Gauge with timestamps', labels=['k'])
        g.add_metric(['a'], 1.5, timestamp=1700000000.123)
        g.add_metric(['b'], -2, timestamp=1700000000)
        yield g
        u = UnknownMetricFamily('untyped_thing', 'No type', labels=['k'])
        u.add_metric(['v w'], 42)
        yield u
        c = CounterMetricFamily('legacy_total', '', labels=['a'])
        c.add_metric(['x'], 7)
        yield c
r.register(Custom())
print(json.dumps({'prometheus': generate_latest(r).decode(), 'openmetrics': om_latest(r).decode()}))
`;
