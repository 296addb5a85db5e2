// wsgistat's records as Prometheus metric families: uWSGI under the names timonwong/uwsgi_exporter
// uses (uwsgi_listen_queue_length, uwsgi_worker_requests_total, ...), gunicorn under the same
// scheme (gunicorn_...), counters as `_total`, µs as seconds. Rates and deltas are left out:
// Prometheus computes them from the counters. Every sample carries the source (and its label),
// and each source gets `wsgistat_up`, so that a failed read is a 0, not a gap.
// Pure: records in, families out.

import type { MetricFamily, MetricType } from '../../sources/prometheus/parse.js';
import type { Rec } from '../../records/types.js';

type Kind = Extract<MetricType, 'counter' | 'gauge'>;

/** One field of a record type as a metric: [field, name after the prefix, type, help, divisor]. */
type Row = readonly [string, string, Kind, string, number?];

/** µs to seconds: a division, so that 400 µs is 0.0004 exactly. */
const US = 1e6;

const SUMMARY: readonly Row[] = [
  ['listen_queue', 'listen_queue_length', 'gauge', 'Length of listen queue.'],
  ['listen_queue_errors', 'listen_queue_errors', 'gauge', 'Number of listen queue errors.'],
  ['signal_queue', 'signal_queue_length', 'gauge', 'Length of signal queue.'],
  ['workers', 'workers', 'gauge', 'Number of workers.'],
  ['workers_busy', 'workers_busy', 'gauge', 'Workers serving a request.'],
  ['workers_idle', 'workers_idle', 'gauge', 'Workers waiting for a request.'],
  ['workers_stuck', 'workers_stuck', 'gauge', 'Workers that cannot serve (zombie, stopped, frozen).'],
  ['workers_configured', 'workers_configured', 'gauge', 'Workers the server is configured for.'],
  ['threads', 'threads', 'gauge', 'Threads per worker.'],
  ['worker_connections', 'worker_connections_max', 'gauge', 'Connections a worker may hold.'],
  ['backlog', 'backlog_length', 'gauge', 'Connections waiting to be accepted on the TCP listener (kernel).'],
  ['backlog_max', 'backlog_max_length', 'gauge', 'The TCP listener\'s backlog limit.'],
  ['in_flight', 'requests_in_flight', 'gauge', 'Requests being served now.'],
  ['queued', 'requests_queued', 'gauge', 'Requests accepted by a worker that wait for a thread.'],
  ['connections', 'connections', 'gauge', 'Connections the workers hold open.'],
  ['rss', 'rss_bytes', 'gauge', 'Resident memory of the workers, bytes.'],
  ['vsz', 'vsz_bytes', 'gauge', 'Virtual memory of the workers, bytes.'],
  ['stalled', 'stalled', 'gauge', '1 when connections wait while no worker is busy and no counter moves.'],
  ['requests', 'requests_total', 'counter', 'Requests served.'],
  ['exceptions', 'exceptions_total', 'counter', 'Uncaught exceptions.'],
  ['requests_aborted', 'requests_aborted_total', 'counter', 'Requests lost with a worker that died serving them.'],
  ['harakiri_count', 'harakiri_count_total', 'counter', 'Requests killed by harakiri.'],
  ['signals', 'signals_total', 'counter', 'uWSGI signals handled.'],
  ['respawn_count', 'respawn_count_total', 'counter', 'Worker spawns.'],
  ['workers_retired', 'workers_retired_total', 'counter', 'Workers that exited and whose counts the master kept.'],
  ['tx', 'transmitted_bytes_total', 'counter', 'Bytes sent.'],
  ['running_time', 'request_time_seconds_total', 'counter', 'Time spent serving requests, seconds.', US],
];

const WORKER: readonly Row[] = [
  ['accepting', 'accepting', 'gauge', 'Is this worker accepting requests?'],
  ['delta_requests', 'delta_requests', 'gauge', 'Number of delta requests'],
  ['signal_queue', 'signal_queue_length', 'gauge', 'Length of signal queue.'],
  ['rss', 'rss_bytes', 'gauge', 'Worker RSS bytes.'],
  ['vsz', 'vsz_bytes', 'gauge', 'Worker VSZ bytes.'],
  ['running_time', 'running_time_seconds', 'gauge', 'Worker running time in seconds.', US],
  ['last_spawn', 'last_spawn_time_seconds', 'gauge', 'Last spawn time in seconds since epoch.'],
  ['avg_rt', 'average_response_time_seconds', 'gauge', 'Average response time in seconds.', US],
  ['apps', 'apps', 'gauge', 'Number of apps.'],
  ['cores', 'cores', 'gauge', 'Number of cores.'],
  ['stuck', 'stuck', 'gauge', '1 when the worker cannot serve (zombie, stopped, frozen).'],
  ['in_flight', 'requests_in_flight', 'gauge', 'Requests this worker is serving now.'],
  ['queued', 'requests_queued', 'gauge', 'Requests this worker accepted that wait for a thread.'],
  ['connections', 'connections', 'gauge', 'Connections this worker holds open.'],
  ['requests', 'requests_total', 'counter', 'Total number of requests.'],
  ['exceptions', 'exceptions_total', 'counter', 'Total number of exceptions.'],
  ['requests_aborted', 'requests_aborted_total', 'counter', 'Requests lost with this worker when it died.'],
  ['harakiri_count', 'harakiri_count_total', 'counter', 'Total number of harakiri count.'],
  ['signals', 'signals_total', 'counter', 'Total number of signals.'],
  ['respawn_count', 'respawn_count_total', 'counter', 'Total number of respawn count.'],
  ['tx', 'transmitted_bytes_total', 'counter', 'Worker transmitted bytes.'],
];

const SOCKET: readonly Row[] = [
  ['queue', 'queue_length', 'gauge', 'Length of socket queue.'],
  ['max_queue', 'max_queue_length', 'gauge', 'Max length of socket queue.'],
  ['shared', 'shared', 'gauge', 'Is shared socket?'],
  ['can_offload', 'can_offload', 'gauge', 'Can socket offload?'],
];

const CORE: readonly Row[] = [
  ['in_request', 'busy', 'gauge', 'Is core busy'],
  ['requests', 'requests_total', 'counter', 'Total number of requests.'],
  ['static_requests', 'static_requests_total', 'counter', 'Total number of static requests.'],
  ['routed_requests', 'routed_requests_total', 'counter', 'Total number of routed requests.'],
  ['offloaded_requests', 'offloaded_requests_total', 'counter', 'Total number of offloaded requests.'],
  ['write_errors', 'write_errors_total', 'counter', 'Total number of write errors.'],
  ['read_errors', 'read_errors_total', 'counter', 'Total number of read errors.'],
];

const APP: readonly Row[] = [
  ['startup_time', 'startup_time_seconds', 'gauge', 'How long this app took to start.'],
  ['requests', 'requests_total', 'counter', 'Total number of requests.'],
  ['exceptions', 'exceptions_total', 'counter', 'Total number of exceptions.'],
];

const EMPEROR: readonly Row[] = [
  ['vassals', 'vassals', 'gauge', 'Vassals the Emperor runs.'],
  ['vassals_ready', 'vassals_ready', 'gauge', 'Vassals whose server is ready.'],
  ['vassals_accepting', 'vassals_accepting', 'gauge', 'Vassals accepting requests.'],
  ['vassals_cursed', 'vassals_cursed', 'gauge', 'Vassals the Emperor is stopping.'],
  ['blacklist', 'blacklisted', 'gauge', 'Configs blacklisted after repeated failures to start.'],
  ['throttle_level', 'throttle_level_seconds', 'gauge', 'How much the Emperor slows respawns of failing vassals.', 1000],
];

const VASSAL: readonly Row[] = [
  ['ready', 'ready', 'gauge', 'Is the vassal ready?'],
  ['accepting', 'accepting', 'gauge', 'Does the vassal accept requests?'],
  ['loyal', 'loyal', 'gauge', 'Has the vassal been up long enough to be loyal?'],
  ['cursed', 'cursed', 'gauge', 'Is the Emperor stopping the vassal?'],
  ['respawns', 'respawns_total', 'counter', 'Times the Emperor started the vassal again.'],
  ['last_run', 'last_run_timestamp_seconds', 'gauge', 'When the vassal last (re)started.'],
];

/** Per record type: the subsystem (uwsgi_exporter's), the rows, and the labels from its fields. */
const TYPES: Record<string, { subsystem: string; rows: readonly Row[]; labels: readonly string[] }> = {
  summary: { subsystem: '', rows: SUMMARY, labels: [] },
  worker: { subsystem: 'worker_', rows: WORKER, labels: ['worker_id'] },
  socket: { subsystem: 'socket_', rows: SOCKET, labels: ['name', 'proto'] },
  core: { subsystem: 'worker_core_', rows: CORE, labels: ['worker_id', 'core_id'] },
  app: { subsystem: 'worker_app_', rows: APP, labels: ['worker_id', 'app_id', 'mountpoint', 'chdir'] },
  // An Emperor (--emperor-stats): its vassals carry the label `vassal` (addRecord).
  emperor: { subsystem: 'emperor_', rows: EMPEROR, labels: [] },
  vassal: { subsystem: 'vassal_', rows: VASSAL, labels: [] },
};

const STATUS = ['1xx', '2xx', '3xx', '4xx', '5xx', 'other'] as const;
const QUANTILES = [['0.5', 'rt_p50'], ['0.9', 'rt_p90'], ['0.99', 'rt_p99']] as const;

/** What a source's latest tick said: its records, or the error that took their place. */
export interface SourceSample {
  source: string;
  label?: string;
  server?: string;
  /** Epoch seconds of the sample. */
  time: number;
  records: readonly Rec[];
  /** How long the source took to read, seconds, when known. */
  readSeconds?: number;
}

class Families {
  private readonly byName = new Map<string, MetricFamily>();
  add(name: string, type: MetricType, help: string, labels: Record<string, string>, value: number, sampleName = name): void {
    let f = this.byName.get(name);
    if (!f) this.byName.set(name, (f = { name, type, help, samples: [] }));
    f.samples.push({ name: sampleName, labels, value });
  }
  list(): MetricFamily[] {
    return [...this.byName.values()];
  }
}

const numeric = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'boolean' ? Number(v) : undefined);

function addRecord(out: Families, r: Rec, prefix: string, base: Record<string, string>): void {
  const t = TYPES[r.type];
  if (!t) return;
  const body = r as unknown as Record<string, unknown>;
  const labels = { ...base };
  if (r.vassal !== undefined) labels.vassal = r.vassal;
  for (const l of t.labels) if (body[l] !== undefined) labels[l] = String(body[l]);
  for (const [field, name, kind, help, scale] of t.rows) {
    const v = numeric(body[field]);
    if (v !== undefined) out.add(`${prefix}_${t.subsystem}${name}`, kind, help, labels, scale ? v / scale : v);
  }
  if (r.type === 'worker' && typeof body.status === 'string') {
    for (const st of ['busy', 'idle', 'cheap']) out.add(`${prefix}_worker_${st}`, 'gauge', `Is the worker ${st}`, labels, body.status === st ? 1 : 0);
  }
  if (r.type !== 'summary' && r.type !== 'worker') return;
  for (const s of STATUS) {
    const v = numeric(body[`status_${s}`]);
    if (v !== undefined) out.add(`${prefix}_${t.subsystem}responses_total`, 'counter', 'Responses by status class.', { ...labels, status: s }, v);
  }
  // The latency percentiles of the interval (gunicorn hooks), as a summary with the totals.
  if (r.type === 'summary' && QUANTILES.some(([, k]) => numeric(body[k]) !== undefined)) {
    const name = `${prefix}_request_duration_seconds`;
    const help = 'Request time: quantiles over the last sample interval, sum and count since the server started.';
    for (const [q, k] of QUANTILES) {
      const v = numeric(body[k]);
      if (v !== undefined) out.add(name, 'summary', help, { ...labels, quantile: q }, v / US);
    }
    const sum = numeric(body.running_time);
    const count = numeric(body.requests);
    if (sum !== undefined) out.add(name, 'summary', help, labels, sum / US, `${name}_sum`);
    if (count !== undefined) out.add(name, 'summary', help, labels, count, `${name}_count`);
  }
}

/** The families of the latest sample of every source, in a stable order. */
export function familiesOf(samples: readonly SourceSample[]): MetricFamily[] {
  const out = new Families();
  for (const s of samples) {
    const base: Record<string, string> = { source: s.source, ...(s.label ? { label: s.label } : {}) };
    const failed = s.records.some((r) => r.type === 'error');
    out.add('wsgistat_up', 'gauge', 'Whether the last read of the source succeeded.', { ...base, ...(s.server ? { server: s.server } : {}) }, failed ? 0 : 1);
    out.add('wsgistat_last_sample_timestamp_seconds', 'gauge', 'When the source was last sampled, epoch seconds.', base, s.time);
    if (s.readSeconds !== undefined) out.add('wsgistat_scrape_duration_seconds', 'gauge', 'How long the last read of the source took.', base, s.readSeconds);
    const prefix = s.server ?? 'wsgi';
    for (const r of s.records) addRecord(out, r, prefix, base);
  }
  return out.list();
}

/** Groups one tick's records by source. */
export function bySource(records: readonly Rec[]): SourceSample[] {
  const map = new Map<string, SourceSample>();
  for (const r of records) {
    const key = `${r.label ?? ''}=${r.source}`;
    let s = map.get(key);
    if (!s) map.set(key, (s = { source: r.source, ...(r.label ? { label: r.label } : {}), ...(r.server ? { server: r.server } : {}), time: r.time, records: [] }));
    (s.records as Rec[]).push(r);
  }
  return [...map.values()];
}
