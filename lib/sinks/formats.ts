// Output formats: what stdout gets. Each declares what it needs of a run (record types, rates,
// one-shot or continuous, stdout only) and its own options; the run planner (run/plan.ts) reads
// the declarations, the renderers live beside the sinks (stdout.ts, mackerel.ts).

import type { Option } from '../options/engine.js';
import { text } from '../options/values.js';
import type { RecordType } from '../records/types.js';
import type { SourceSpec } from '../sources/types.js';
import { metaOutput, metricLines, segmentsFor } from './mackerel.js';
import { stdoutSink } from './stdout.js';
import type { Sink } from './types.js';

export interface StdoutContext {
  sources: readonly SourceSpec[];
  /** The format's own options, by key. */
  own: Readonly<Record<string, unknown>>;
  onClosed: () => void;
}

export interface Format {
  readonly name: string;
  readonly doc: string;
  /** Why it is for one-shot runs only, if it is (its reader starts wsgistat per sample). */
  readonly oneShotOnly?: string;
  /** Why it writes to stdout only, if it does. */
  readonly stdoutOnly?: string;
  /** The record types the sources must shape, given --records and whether rates are computed. */
  shapes(records: ReadonlySet<RecordType>, withRates: boolean): Set<RecordType>;
  /** The record types it prints. */
  prints(records: ReadonlySet<RecordType>): Set<RecordType>;
  /** Whether failed sources become error records, given --no-error-records. */
  errorRecords(asked: boolean): boolean;
  /** Its own default state file, apart from JSON jobs': sharing one with a job on the same
   *  sources would make each one's rates cover only the time since the other's run. */
  readonly stateName?: string;
  readonly options?: readonly Option<any>[];
  /** Checks made with the configuration. */
  check?(sources: readonly SourceSpec[]): void;
  /** Its stdout sink; undefined: JSON lines. */
  stdout?(ctx: StdoutContext): Sink | Promise<Sink>;
  /** Whether the run reads and writes the state file (mackerel's graph definitions do not). */
  usesState?(): boolean;
}

const rateTypes = (records: ReadonlySet<RecordType>, withRates: boolean) => {
  const s = new Set(records);
  if (withRates) (['summary', 'worker'] as const).forEach((t) => s.add(t));
  return s;
};

export const jsonFormat: Format = {
  name: 'json',
  doc: 'one JSON record per line',
  shapes: rateTypes,
  prints: (records) => new Set(records),
  errorRecords: (asked) => asked,
};

export const METRIC_PREFIX: Option<string> = {
  flag: '--metric-prefix', key: 'metric_prefix', arg: 'PREFIX', defaultDoc: 'uwsgi or gunicorn, by server',
  type: text('a metric name prefix such as "uwsgi" or "web.uWSGI": letters, digits, _ and -, with dots between parts', (s) => /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(s)),
  doc: '--format mackerel: first part of every metric name (letters, digits, _ -, dots between parts)',
};

const meta = () => (process.env.MACKEREL_AGENT_PLUGIN_META ?? '') !== '';

export const mackerelFormat: Format = {
  name: 'mackerel',
  doc: 'a mackerel-agent plugin\'s `name<TAB>value<TAB>epoch` lines for each server (one-shot runs only; see "mackerel-agent")',
  oneShotOnly: 'is for one-shot runs, which mackerel-agent starts every minute',
  stdoutOnly: 'writes to stdout for mackerel-agent',
  // Rates need the worker records; only summaries are printed.
  shapes: () => new Set<RecordType>(['summary', 'worker']),
  prints: () => new Set<RecordType>(['summary']),
  errorRecords: () => false, // mackerel has no error metric: stderr says why, the exit status tells
  stateName: 'mackerel',
  options: [METRIC_PREFIX],
  check: (sources) => void segmentsFor([...sources]), // names that collide are a config error
  stdout(ctx) {
    const naming = { prefix: ctx.own.metric_prefix as string | undefined, segments: segmentsFor([...ctx.sources]) };
    const m = meta();
    return stdoutSink({ onClosed: ctx.onClosed, format: (r) => (m ? metaOutput(r, naming) : metricLines(r, naming)) });
  },
  // With MACKEREL_AGENT_PLUGIN_META set, the graph definitions: the state file is not touched.
  usesState: () => !meta(),
};

export const prometheusFormat: Format = {
  name: 'prometheus',
  doc: 'the Prometheus text format, for node_exporter\'s textfile collector (one-shot runs; see "Prometheus")',
  oneShotOnly: 'is for one-shot runs that write a file for node_exporter\'s textfile collector; a continuous run serves it with --output prometheus://127.0.0.1:9117/metrics',
  stdoutOnly: 'writes to stdout; serve it with --output prometheus://HOST:PORT/metrics in a continuous run instead',
  shapes: rateTypes,
  prints: (records) => new Set(records),
  // A failed source is wsgistat_up 0, not a gap.
  errorRecords: () => true,
  stateName: 'prometheus',
  // Loaded only when asked for: its tables would cost every other run's start-up.
  async stdout(ctx) {
    const [{ writeExposition }, { bySource, familiesOf }] = await Promise.all([import('./prometheus/exposition.js'), import('./prometheus/metrics.js')]);
    return stdoutSink({ onClosed: ctx.onClosed, format: (r) => writeExposition(familiesOf(bySource(r))) });
  },
};

export const FORMATS: readonly Format[] = [jsonFormat, mackerelFormat, prometheusFormat];
