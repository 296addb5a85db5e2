// Prometheus families as wsgistat's records: what a gunicorn instrumented with prometheus_client
// exposes (the setups this project grew from: gunicorn's own pool gauges per pid, and an app's
// request counter, latency histogram and in-progress gauge), as the summary and worker records a
// wsgistat-hooks user gets. The names differ between setups: each role has the names the known
// setups use, and a source may name its own ("metrics" in the config file). Pure.

import type { Body } from '../../records/types.js';
import type { MetricFamily, MetricSample } from './parse.js';

/** What a family is to wsgistat, and the names the known setups give it. */
export const ROLES = {
  requests: ['http_requests_total', 'requests_total', 'flask_http_request_total', 'gunicorn_requests_total'],
  latency: ['http_request_latency_seconds', 'request_latency_seconds', 'http_request_duration_seconds', 'flask_http_request_duration_seconds'],
  in_flight: ['http_requests_in_progress_total', 'requests_in_progress_total', 'http_requests_in_progress', 'inprogress_requests'],
  backlog: ['gunicorn_pending_connections'],
  connections: ['gunicorn_active_worker_connections'],
  connections_max: ['gunicorn_max_worker_connections'],
  threads: ['gunicorn_max_worker_threads'],
  threads_active: ['gunicorn_active_worker_threads'],
  pending: ['gunicorn_pending_requests'],
} as const;

export type Role = keyof typeof ROLES;
export const STATUS_LABELS = ['http_status', 'status', 'code', 'status_code'];

export interface MapOptions {
  /** Family names chosen by the user, by role (and `status_label`). */
  names?: Partial<Record<Role | 'status_label', string>>;
  /** Whether a pid is alive here; undefined: the endpoint is remote, every pid is kept. */
  alive?: (pid: number) => boolean;
  /** A pid's parent, to tell the master (whose children are in the exposition) from workers. */
  parentOf?: (pid: number) => number | undefined;
  /** Read over HTTP: the endpoint's name (`metrics`). Its samples (this very scrape in flight, the
   *  scrapes counted) are wsgistat's own requests, left out. */
  scrapeEndpoint?: string;
}

export interface Mapped {
  bodies: Body[];
  histogram?: number[];
  /** The histogram's bucket upper bounds, µs. */
  bounds?: number[];
  notices: string[];
  /** The families mapped to a role (the rest can be given as `metric` records: series.ts). */
  mapped: Set<string>;
}

const base = (n: string) => n.replace(/_total$/, '');

function find(families: readonly MetricFamily[], role: Role, names: MapOptions['names']): MetricFamily | undefined {
  const wanted = names?.[role] ? [names[role]!] : ROLES[role];
  for (const w of wanted) {
    const f = families.find((x) => x.name === w || base(x.name) === base(w));
    if (f) return f;
  }
  return undefined;
}

const pidOf = (s: MetricSample) => (s.labels.pid !== undefined && /^\d+$/.test(s.labels.pid) ? Number(s.labels.pid) : undefined);
const sum = (xs: readonly MetricSample[]) => xs.reduce((a, s) => a + (Number.isFinite(s.value) ? s.value : 0), 0);

/** Per pid: the sum of a family's samples (its label series). */
function perPid(f: MetricFamily | undefined): Map<number, number> {
  const m = new Map<number, number>();
  for (const s of f?.samples ?? []) {
    const pid = pidOf(s);
    if (pid !== undefined && Number.isFinite(s.value)) m.set(pid, (m.get(pid) ?? 0) + s.value);
  }
  return m;
}

/** The latency histogram summed over its series: per-bucket counts, bounds in µs, sum and count. */
function histogramOf(f: MetricFamily, notices: string[]): { counts: number[]; bounds: number[]; sumUs: number; count: number } | undefined {
  const series = new Map<string, { le: number; v: number }[]>();
  let sumS = 0;
  let count = 0;
  for (const s of f.samples) {
    const le = s.labels.le;
    if (le !== undefined && s.name.endsWith('_bucket')) {
      // The series' key: its labels but le (a histogram of 10,000 series spends its time here).
      let key = '';
      for (const k in s.labels) if (k !== 'le') key += `${k}\u0000${s.labels[k]}\u0001`;
      let list = series.get(key);
      if (!list) series.set(key, (list = []));
      list.push({ le: le === '+Inf' ? Infinity : Number(le), v: s.value });
    } else if (s.name.endsWith('_sum')) sumS += s.value;
    else if (s.name.endsWith('_count')) count += s.value;
  }
  // prometheus_client writes buckets in order: sort only a series that is not.
  const all = [...series.values()].map((l) => (l.every((b, k) => k === 0 || l[k - 1]!.le <= b.le) ? l : l.sort((a, b) => a.le - b.le)));
  if (all.length === 0) return undefined;
  const bounds = all[0]!.map((b) => b.le);
  if (all.some((l) => l.length !== bounds.length || l.some((b, k) => b.le !== bounds[k]))) {
    notices.push(`the series of ${f.name} have different buckets: no percentiles`);
    return undefined;
  }
  const counts = bounds.map((_, k) => all.reduce((a, l) => a + l[k]!.v - (k > 0 ? l[k - 1]!.v : 0), 0));
  return { counts, bounds: bounds.map((b) => (Number.isFinite(b) ? b * 1e6 : Infinity)), sumUs: Math.round(sumS * 1e6), count };
}

function statusCounts(f: MetricFamily | undefined, label: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  if (!f) return out;
  const l = label ?? STATUS_LABELS.find((x) => f.samples.some((s) => s.labels[x] !== undefined));
  if (!l) return out;
  for (const s of f.samples) {
    if (s.name.endsWith('_created')) continue;
    const code = s.labels[l];
    const cls = code && /^[1-5]\d\d$/.test(code) ? `status_${code[0]}xx` : 'status_other';
    out[cls] = (out[cls] ?? 0) + s.value;
  }
  return out;
}

/** Whether a sample is of the scrape's own endpoint (`endpoint="metrics"`): wsgistat's doing. */
const ENDPOINT_LABELS = ['endpoint', 'handler', 'path'];
function ofScrape(s: MetricSample, endpoint: string | undefined): boolean {
  return endpoint !== undefined && ENDPOINT_LABELS.some((l) => s.labels[l] === endpoint || s.labels[l] === `/${endpoint}`);
}

/** A family without the samples of the scrape's own endpoint. */
function withoutScrape(f: MetricFamily | undefined, endpoint: string | undefined): MetricFamily | undefined {
  return f && endpoint ? { ...f, samples: f.samples.filter((s) => !ofScrape(s, endpoint)) } : f;
}

/** The accept backlog summed over listeners, each listener's gauge taken once (the max over the
 *  per-pid copies of live pids), and the listeners' labels. */
function listenerBacklog(backlogFam: MetricFamily, alive: MapOptions['alive']): { total: number; listeners: string[] } {
  const byListener = new Map<string, number>();
  for (const s of backlogFam.samples) {
    const pid = pidOf(s);
    if (pid !== undefined && alive && !alive(pid)) continue;
    const key = s.labels.listener ?? '';
    byListener.set(key, Math.max(byListener.get(key) ?? 0, s.value));
  }
  return { total: [...byListener.values()].reduce((a, b) => a + b, 0), listeners: [...byListener.keys()] };
}

/** gunicorn names a TCP listener `http://127.0.0.1:8000` (`https://`, `http://[::1]:8000`); a
 *  unix one `unix:/path`, which has no host:port. */
const hostPort = (listener: string) => /^https?:\/\/((?:\[[0-9a-fA-F:.]+\]|[^/:]+):\d+)$/.exec(listener)?.[1];

/** The summary's backlog fields, as the wsgistat hooks give them: the backlog is gunicorn's accept
 *  queue figure (listen_queue, which the stall check reads), with its address when one listener. */
function addBacklog(summary: Body, backlogFam: MetricFamily, alive: MapOptions['alive']): void {
  const b = listenerBacklog(backlogFam, alive);
  summary.backlog = b.total;
  summary.listen_queue = b.total;
  const address = b.listeners.length === 1 ? hostPort(b.listeners[0]!) : undefined;
  if (address) summary.backlog_address = address;
}

type Gauges = Record<'inFlight' | 'conns' | 'connsMax' | 'threads' | 'active' | 'pending', Map<number, number>>;

/** One worker record per live worker pid; counts busy and idle workers into the summary. */
function workerBodies(workerPids: number[], gauges: Gauges, hasInFlight: boolean, summary: Body): Body[] {
  const workers: Body[] = [];
  for (const pid of workerPids) {
    const w: Body = { type: 'worker', worker_id: pid, pid };
    const flight = hasInFlight ? gauges.inFlight.get(pid) ?? 0 : gauges.active.get(pid);
    if (flight !== undefined) w.in_flight = flight;
    const pending = gauges.pending.get(pid);
    const active = gauges.active.get(pid);
    if (pending !== undefined && active !== undefined) w.queued = Math.max(0, pending - active);
    if (gauges.conns.has(pid)) w.connections = gauges.conns.get(pid);
    w.status = (flight ?? 0) > 0 ? 'busy' : 'idle';
    const key = w.status === 'busy' ? 'workers_busy' : 'workers_idle';
    summary[key] = (summary[key] as number) + 1;
    workers.push(w);
  }
  return workers;
}

export function mapFamilies(families: readonly MetricFamily[], opts: MapOptions = {}): Mapped {
  const notices: string[] = [];
  const mapped = new Set<string>();
  const fam = (r: Role) => {
    const f = find(families, r, opts.names);
    if (f) mapped.add(f.name);
    return f;
  };
  // The scrapes of /metrics are wsgistat's own requests, not the app's traffic.
  const requests = withoutScrape(fam('requests'), opts.scrapeEndpoint);
  const latency = withoutScrape(fam('latency'), opts.scrapeEndpoint);
  const h = latency ? histogramOf(latency, notices) : undefined;
  const inFlight = withoutScrape(fam('in_flight'), opts.scrapeEndpoint);
  const gauges: Gauges = { inFlight: perPid(inFlight), conns: perPid(fam('connections')), connsMax: perPid(fam('connections_max')), threads: perPid(fam('threads')), active: perPid(fam('threads_active')), pending: perPid(fam('pending')) };
  const backlogFam = fam('backlog');
  const pids = new Set<number>();
  for (const m of Object.values(gauges)) for (const p of m.keys()) pids.add(p);
  // A worker that has served only scrapes is a worker too.
  for (const p of perPid(fam('in_flight')).keys()) pids.add(p);
  for (const s of backlogFam?.samples ?? []) if (pidOf(s) !== undefined) pids.add(pidOf(s)!);
  // Gauges of pids that are gone stay in the multiprocess files forever: not this server's now.
  const live = [...pids].filter((p) => !opts.alive || opts.alive(p)).sort((a, b) => a - b);
  const stale = pids.size - live.length;
  // Each pid's parent read once (/proc/<pid>/stat), not once per pair.
  const parents = new Set(live.map((c) => opts.parentOf?.(c)));
  const master = live.find((p) => parents.has(p));
  const workerPids = live.filter((p) => p !== master);

  const summary: Body = { type: 'summary', workers: workerPids.length, workers_busy: 0, workers_idle: 0, stale_entries: stale };
  if (master !== undefined) summary.pid = master;
  const reqTotal = requests ? sum(requests.samples.filter((s) => !s.name.endsWith('_created'))) : undefined;
  if (h) {
    summary.requests = h.count;
    summary.running_time = h.sumUs;
  } else if (reqTotal !== undefined) summary.requests = reqTotal;
  Object.assign(summary, statusCounts(requests, opts.names?.status_label));

  // The backlog of each listener, once: every pid may hold a copy of the same gauge.
  if (backlogFam) addBacklog(summary, backlogFam, opts.alive);

  const workers = workerBodies(workerPids, gauges, inFlight !== undefined, summary);
  const total = (k: string) => (workers.some((w) => w[k] !== undefined) ? workers.reduce((a, w) => a + ((w[k] as number | undefined) ?? 0), 0) : undefined);
  for (const k of ['in_flight', 'queued', 'connections']) {
    const t = total(k);
    if (t !== undefined) summary[k] = t;
  }
  // A gauge without a pid (livesum, or one process): the server's own in-flight count.
  if (summary.in_flight === undefined && inFlight) summary.in_flight = sum(inFlight.samples.filter((x) => pidOf(x) === undefined));
  const max = (m: Map<number, number>) => (m.size ? Math.max(...m.values()) : undefined);
  if (max(gauges.threads) !== undefined) summary.threads = max(gauges.threads);
  if (max(gauges.connsMax) !== undefined) summary.worker_connections = max(gauges.connsMax);
  if (!requests && !latency && pids.size === 0) notices.push('no family wsgistat knows (name them with "metrics" in the config file): only wsgistat_up-like facts to report');
  return { bodies: [summary, ...workers], ...(h ? { histogram: h.counts, bounds: h.bounds } : {}), notices, mapped };
}
