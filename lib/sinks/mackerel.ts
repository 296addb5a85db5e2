// --format mackerel: the summary of each server as a mackerel-agent plugin prints it
// (mackerel-agent runs the command every minute and reads stdout): `name<TAB>value<TAB>epoch` lines, and with MACKEREL_AGENT_PLUGIN_META=1 the
// graph definitions of exactly those names.
//
// Names are `<prefix>[.<segment>].<graph>.<metric>`: the prefix is --metric-prefix or the server
// kind, the segment tells several servers on one host apart (a source's label, or its address made
// into a name part). With --metric-prefix uWSGI and one unlabelled source, the worker and request
// metrics keep the names mackerel-plugin-uwsgi-vassal used, so a migrated host keeps its graphs.
//
// Counters are printed as rates over the interval since the previous run (the state file), per
// minute like every mackerel plugin's `diff` metric; bytes per second for traffic. A first run, a
// previous sample that is too old, or an interval with a reset (counters_reset) prints no rate and
// no mean latency at all rather than a wrong one, as mackerel plugins do.

import { ConfigError } from '../errors.js';
import type { Rec } from '../records/types.js';
import type { SourceSpec } from '../sources/types.js';

type Summary = Rec;
/** gauge: the value now; per_minute / per_second: a counter's rate; mean_ms: mean_rt in ms;
 *  interval_ms: a request time of the interval (rt_p50...) in ms. */
type Kind = 'gauge' | 'per_minute' | 'per_second' | 'mean_ms' | 'interval_ms';

interface MetricDef {
  name: string;
  label: string;
  kind: Kind;
  /** The summary field: the gauge itself, or the counter whose rate is printed. */
  field: string;
  /** A gauge computed from several fields; undefined when it cannot be. */
  value?: (s: Summary) => number | undefined;
  /** The metric is printed for this server only when this holds (a memory figure uWSGI fills). */
  when?: (s: Summary) => boolean;
  /** Whether the server carries the metric, when its field can be absent from a sample that has
   *  no value for it (a percentile when no request ended): its graph is defined all the same. */
  carried?: (s: Summary) => boolean;
}

interface GraphDef {
  key: string;
  label: string;
  unit: 'integer' | 'float' | 'milliseconds' | 'bytes' | 'bytes/sec';
  stacked?: boolean;
  metrics: MetricDef[];
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const gauge = (name: string, label: string, field: string, more: Partial<MetricDef> = {}): MetricDef => ({ name, label, kind: 'gauge', field, ...more });
const perMinute = (name: string, label: string, field: string): MetricDef => ({ name, label, kind: 'per_minute', field });
/** uWSGI reports 0 unless it runs with --memory-report: that is "unknown", not "none". */
const memoryKnown = (s: Summary) => (num(s.rss) ?? 0) > 0;

/** The graphs, in the order their lines are printed. README "mackerel-agent" lists the same. */
export const GRAPHS: GraphDef[] = [
  {
    key: 'workers', label: 'Workers', unit: 'integer', stacked: true,
    metrics: [
      gauge('busy', 'Busy', 'workers_busy'), gauge('idle', 'Idle', 'workers_idle'), gauge('cheap', 'Cheap', 'workers_cheap'),
      gauge('pause', 'Pause', 'workers_pause'), gauge('other', 'Other', 'workers_other'), gauge('stuck', 'Stuck', 'workers_stuck'),
    ],
  },
  {
    key: 'queue', label: 'Accept queue', unit: 'integer',
    metrics: [gauge('listen_queue', 'Waiting connections', 'listen_queue'), gauge('queued', 'Accepted, waiting for a thread', 'queued')],
  },
  { key: 'req', label: 'Requests per minute', unit: 'float', metrics: [perMinute('requests', 'Requests', 'requests')] },
  {
    key: 'errors', label: 'Errors per minute', unit: 'float',
    metrics: [
      perMinute('exceptions', 'Exceptions', 'exceptions'), perMinute('harakiri', 'Harakiri kills', 'harakiri_count'),
      perMinute('aborted', 'Aborted requests', 'requests_aborted'),
    ],
  },
  {
    key: 'status', label: 'Responses per minute', unit: 'float', stacked: true,
    metrics: [1, 2, 3, 4, 5].map((c) => perMinute(`status_${c}xx`, `${c}xx`, `status_${c}xx`)),
  },
  {
    key: 'latency', label: 'Request time', unit: 'milliseconds',
    metrics: [
      { name: 'mean', label: 'Mean', kind: 'mean_ms', field: 'running_time', when: (s) => num(s.requests) !== undefined },
      // The format-2 gunicorn hooks keep latency histograms; their summaries carry requests_aborted.
      ...(['p50', 'p90', 'p99'] as const).map((p): MetricDef => ({ name: p, label: p, kind: 'interval_ms', field: `rt_${p}`, carried: (s) => num(s.requests_aborted) !== undefined })),
    ],
  },
  { key: 'traffic', label: 'Bytes sent', unit: 'bytes/sec', metrics: [{ name: 'tx', label: 'Sent', kind: 'per_second', field: 'tx' }] },
  { key: 'respawns', label: 'Worker spawns per minute', unit: 'float', metrics: [perMinute('respawns', 'Spawns', 'respawn_count')] },
  {
    key: 'memory', label: 'Worker memory', unit: 'bytes',
    metrics: [gauge('rss', 'Resident', 'rss', { when: memoryKnown }), gauge('vsz', 'Virtual', 'vsz', { when: memoryKnown })],
  },
  {
    key: 'cores', label: 'Cores in a request', unit: 'integer', stacked: true,
    metrics: [
      gauge('busy', 'Busy', 'cores_busy', { value: (s) => num(s.cores_busy) ?? num(s.in_flight) }),
      gauge('idle', 'Idle', 'cores', { value: (s) => (num(s.cores) === undefined || num(s.cores_busy) === undefined ? undefined : num(s.cores)! - num(s.cores_busy)!) }),
    ],
  },
  { key: 'stale', label: 'Stale status entries', unit: 'integer', metrics: [gauge('entries', 'Entries of gone workers', 'stale_entries')] },
];

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Whether a server's sample carries what this metric is made from, so that it is printed
 *  whenever there is a value: gauges now, rates once there is a previous sample. */
function carries(m: MetricDef, s: Summary): boolean {
  if (m.when && !m.when(s)) return false;
  if (m.carried) return m.carried(s);
  return m.value ? m.value(s) !== undefined : num(s[m.field]) !== undefined;
}

/** The value printed this run, or undefined: no rate without a usable previous sample, none over
 *  an interval with a reset (counters_reset is only present, and false, when rates are usable). */
function valueOf(m: MetricDef, s: Summary): number | undefined {
  if (m.kind === 'gauge') return m.value ? m.value(s) : num(s[m.field]);
  if (s.counters_reset !== false) return undefined;
  if (m.kind === 'interval_ms') {
    const ms = num(s[m.field]);
    return ms === undefined ? undefined : round(ms / 1000);
  }
  if (m.kind === 'mean_ms') {
    const mean = num(s.mean_rt);
    return mean === undefined ? undefined : round(mean / 1000);
  }
  const delta = num(s[`${m.field}_delta`]);
  const seconds = num(s.rate_interval);
  if (delta === undefined || !seconds) return undefined;
  return round((delta / seconds) * (m.kind === 'per_minute' ? 60 : 1));
}

export interface Naming {
  /** --metric-prefix; undefined: `uwsgi` or `gunicorn` by server. */
  prefix?: string;
  /** The name part of each source, by address text; undefined: none (a single unlabelled source). */
  segments: ReadonlyMap<string, string | undefined>;
}

const PART = /[^A-Za-z0-9_-]+/g;

/** A source's address as one metric name part: unix:///run/uwsgi/app.stats → run_uwsgi_app_stats. */
export function addressPart(text: string): string {
  return text.replace(/^[a-z+]+:\/\//, '').replace(PART, '_').replace(/^_+|_+$/g, '') || 'source';
}

/** Name parts for the sources: a label always; the address when several sources would share names. */
export function segmentsFor(specs: SourceSpec[]): Map<string, string | undefined> {
  const segments = new Map<string, string | undefined>();
  const owner = new Map<string, string>();
  for (const s of specs) {
    const seg = s.label ? s.label.replace(PART, '_') : specs.length > 1 ? addressPart(s.address.text) : undefined;
    if (seg !== undefined) {
      const other = owner.get(seg);
      if (other !== undefined) {
        throw new ConfigError(`--format mackerel: sources ${other} and ${s.address.text} would get the same metric names (${seg}); give them labels (label=address)`);
      }
      owner.set(seg, s.address.text);
    }
    segments.set(s.address.text, seg);
  }
  return segments;
}

function base(s: Summary, naming: Naming): { name: string; title: string } {
  const prefix = naming.prefix ?? s.server ?? 'wsgi';
  // An Emperor's vassals: one more part each, the vassal's config name without its extension.
  const vassal = typeof s.vassal === 'string' ? s.vassal.replace(/\.(ini|xml|ya?ml|json|js)$/, '').replace(PART, '_') : undefined;
  const seg = [naming.segments.get(s.source), vassal].filter(Boolean).join('.') || undefined;
  const title = naming.prefix ?? (s.server === 'uwsgi' ? 'uWSGI' : s.server ?? 'WSGI');
  return { name: seg ? `${prefix}.${seg}` : prefix, title: seg ? `${title} ${seg}` : title };
}

const summaries = (records: Rec[]): Summary[] => records.filter((r) => r.type === 'summary');

/** The metric lines of one run: `name\tvalue\tepoch\n` each. */
export function metricLines(records: Rec[], naming: Naming): string {
  let out = '';
  for (const s of summaries(records)) {
    const { name } = base(s, naming);
    const epoch = Math.floor(s.time);
    for (const g of GRAPHS) {
      for (const m of g.metrics) {
        if (!carries(m, s)) continue;
        const v = valueOf(m, s);
        if (v !== undefined) out += `${name}.${g.key}.${m.name}\t${v}\t${epoch}\n`;
      }
    }
  }
  return out;
}

export interface GraphDefinitions {
  graphs: Record<string, { label: string; unit: string; metrics: { name: string; label: string; stacked: boolean }[] }>;
}

/** The graph definitions for every metric these servers print: gauges now, rates from the next run. */
export function graphDefinitions(records: Rec[], naming: Naming): GraphDefinitions {
  const graphs: GraphDefinitions['graphs'] = {};
  for (const s of summaries(records)) {
    const { name, title } = base(s, naming);
    for (const g of GRAPHS) {
      const metrics = g.metrics.filter((m) => carries(m, s)).map((m) => ({ name: m.name, label: m.label, stacked: g.stacked === true }));
      if (metrics.length > 0) graphs[`${name}.${g.key}`] = { label: `${title} ${g.label}`, unit: g.unit, metrics };
    }
  }
  return { graphs };
}

/** What mackerel-agent reads when it runs a plugin with MACKEREL_AGENT_PLUGIN_META=1. */
export function metaOutput(records: Rec[], naming: Naming): string {
  return `# mackerel-agent-plugin\n${JSON.stringify(graphDefinitions(records, naming))}\n`;
}
