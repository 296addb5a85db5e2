// Pure: metric families to the Prometheus text format 0.0.4, written as client_golang writes it:
// HELP and TYPE lines, label values escaped (\\ \" \n) in the order given, numbers in Go's
// shortest form ('g', -1: NaN, +Inf, -Inf, 42, 0.5, 1e+06), timestamps as integer milliseconds.
//
// OpenMetrics-only shapes are written as prometheus_client's generate_latest writes them in 0.0.4:
// an OpenMetrics counter `x` (samples x_total) is TYPE x_total; unknown is untyped; info, stateset
// are gauges and gaugehistogram a histogram; samples the 0.0.4 type has no place for (`_created`,
// `_gsum`, `_gcount`) follow as gauge families of their own, with the same HELP.

import type { MetricFamily, MetricSample, MetricType } from '../../sources/prometheus/parse.js';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** A family the writer cannot write (a name outside the format's alphabet): a bug of the caller. */
export class ExpositionError extends Error {
  override readonly name = 'ExpositionError';
  readonly code = 'invalid_metric';
}

/** A number as Go's strconv.FormatFloat(v, 'g', -1, 64) writes it, with Prometheus's ±Inf. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const [mantissa, exp] = v.toExponential().split('e') as [string, string];
  const e = Number(exp);
  // %e when the exponent is < -4 or >= 21 in JavaScript, but >= 6 in Go's shortest %g.
  if (e < -4 || e >= 6) return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  return String(v);
}

const escapeLabel = (s: string) => (/[\\"\n]/.test(s) ? s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : s);
const escapeHelp = (s: string) => (/[\\\n]/.test(s) ? s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n') : s);

const TYPE_04: Record<MetricType, string> = {
  counter: 'counter', gauge: 'gauge', histogram: 'histogram', summary: 'summary', untyped: 'untyped',
  unknown: 'untyped', info: 'gauge', stateset: 'gauge', gaugehistogram: 'histogram',
};
const SUFFIXES_04: Record<string, readonly string[]> = {
  counter: [''], gauge: [''], untyped: [''], histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'],
};

/** The name of the TYPE line: an OpenMetrics counter or info family is named after its samples. */
function typeName(f: MetricFamily): string {
  const s = f.samples[0]?.name;
  if (f.type === 'counter' && s === `${f.name}_total`) return s;
  if (f.type === 'info' && s === `${f.name}_info`) return s;
  return f.name;
}

function sampleLine(s: MetricSample): string {
  let labels = '';
  for (const k in s.labels) {
    if (!LABEL_NAME.test(k)) throw new ExpositionError(`label name of a sample of ${s.name} is not a valid label name`);
    labels += `${labels ? ',' : ''}${k}="${escapeLabel(s.labels[k]!)}"`;
  }
  const ts = s.timestamp === undefined ? '' : ` ${Math.trunc(s.timestamp)}`;
  return `${s.name}${labels ? `{${labels}}` : ''} ${formatValue(s.value)}${ts}\n`;
}

function block(name: string, type: string, help: string, samples: MetricSample[], out: string[]): void {
  if (!METRIC_NAME.test(name)) throw new ExpositionError(`${JSON.stringify(name.slice(0, 120))} is not a valid metric name`);
  // As client_golang: no HELP line for a family without help (prometheus_client writes an empty one).
  if (help !== '') out.push(`# HELP ${name} ${escapeHelp(help)}\n`);
  out.push(`# TYPE ${name} ${type}\n`);
  for (const s of samples) {
    if (!METRIC_NAME.test(s.name)) throw new ExpositionError(`a sample of ${name} has an invalid metric name`);
    out.push(sampleLine(s));
  }
}

/** Writes families as one 0.0.4 exposition. Throws ExpositionError for names the format cannot hold. */
export function writeExposition(families: readonly MetricFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    const name = typeName(f);
    const type = TYPE_04[f.type];
    const allowed = new Set((SUFFIXES_04[type] ?? ['']).map((x) => name + x));
    const own: MetricSample[] = [];
    const apart = new Map<string, MetricSample[]>();
    for (const s of f.samples) {
      if (allowed.has(s.name)) own.push(s);
      else {
        const list = apart.get(s.name);
        if (list) list.push(s);
        else apart.set(s.name, [s]);
      }
    }
    block(name, type, f.help, own, out);
    for (const [n, samples] of apart) block(n, 'gauge', f.help, samples, out);
  }
  return out.join('');
}
