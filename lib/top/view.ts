// Pure: one source's records of one sample (summary, worker and core records, rates applied) to
// what the screen shows of that server: a header and one row per worker, sorted as asked.

import type { Rec, Scalar } from '../records/types.js';

export type SortKey = 'id' | 'rps' | 'busy' | 'rss';

export const SORTS: Record<SortKey, { key: string; label: string }> = {
  id: { key: 'i', label: 'id' },
  rps: { key: 'r', label: 'req/s' },
  busy: { key: 'b', label: 'busy time' },
  rss: { key: 'm', label: 'rss' },
};

export interface CoreRow {
  id: number;
  busyMs?: number;
  requests?: number;
  errors?: number;
}

export interface WorkerRow {
  id: number;
  pid?: number;
  /** busy, idle, cheap, pause, ...; a stuck worker: stuck (its reason). */
  status: string;
  stuck?: string;
  /** How long its oldest request in flight has run, ms. */
  busyMs?: number;
  rps?: number;
  meanRtUs?: number;
  requests?: number;
  exceptions?: number;
  respawns?: number;
  rss?: number;
  /** uWSGI: its cores; gunicorn gthread: threads busy of threads. */
  cores: CoreRow[];
  threads?: { busy: number; total: number };
}

export interface ServerView {
  /** The source's key (label=address), stable across samples. */
  key: string;
  /** What the source is called on screen: label, kind and address. */
  name: string;
  server?: 'uwsgi' | 'gunicorn';
  /** A source that failed this tick: its error line, in its place. */
  error?: string;
  version?: string;
  pid?: number;
  workers?: { total: number; busy: number; idle: number; stuck: number };
  listenQueue?: number;
  /** uWSGI: the listen queue's size (sockets_max_queue). */
  queueMax?: number;
  backlog?: { queue: number; max?: number; address?: string };
  rps?: number;
  meanRtUs?: number;
  pct?: { p50?: number; p90?: number; p99?: number };
  eps?: number;
  stalled: boolean;
  /** An Emperor: no workers of its own; its vassals are shown after it. */
  emperor?: boolean;
  /** The interval the rates are over, s; undefined on the first sample. */
  rateInterval?: number;
  rows: WorkerRow[];
}

const num = (v: Scalar | undefined): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** How long since the oldest of the request starts (epoch s), at `nowS`. */
function since(starts: (number | undefined)[], nowS: number): number | undefined {
  const known = starts.filter((s): s is number => s !== undefined && s > 0);
  return known.length ? Math.max(0, Math.round((nowS - Math.min(...known)) * 1000)) : undefined;
}

function coreRows(cores: Rec[], nowS: number): CoreRow[] {
  return cores.map((c) => ({
    id: num(c.core_id) ?? 0,
    busyMs: num(c.in_request) ? since([num(c.request_start)], nowS) ?? 0 : undefined,
    requests: num(c.requests),
    errors: (num(c.read_errors) ?? 0) + (num(c.write_errors) ?? 0),
  }));
}

function workerRow(w: Rec, cores: Rec[], threads: number | undefined, nowS: number): WorkerRow {
  const rows = coreRows(cores, nowS);
  const busy = w.status === 'busy' || rows.some((c) => c.busyMs !== undefined);
  const fromCores = rows.map((c) => (c.busyMs === undefined ? undefined : nowS - c.busyMs / 1000));
  const row: WorkerRow = {
    id: num(w.worker_id) ?? 0,
    pid: num(w.pid),
    status: w.stuck === true ? 'stuck' : String(w.status ?? '?'),
    busyMs: busy ? since([num(w.request_start), ...fromCores], nowS) : undefined,
    rps: num(w.requests_per_sec),
    meanRtUs: num(w.mean_rt),
    requests: num(w.requests),
    exceptions: num(w.exceptions),
    respawns: num(w.respawn_count),
    rss: num(w.rss) || undefined,
    cores: rows,
  };
  if (w.stuck === true && typeof w.stuck_reason === 'string') row.stuck = w.stuck_reason;
  const inFlight = num(w.in_flight);
  if (threads !== undefined && threads > 1 && inFlight !== undefined) row.threads = { busy: inFlight, total: threads };
  return row;
}

function header(view: ServerView, s: Rec): void {
  if (typeof s.version === 'string') view.version = s.version;
  view.pid = num(s.pid);
  view.workers = { total: num(s.workers) ?? 0, busy: num(s.workers_busy) ?? 0, idle: num(s.workers_idle) ?? 0, stuck: num(s.workers_stuck) ?? 0 };
  view.listenQueue = num(s.listen_queue);
  view.queueMax = num(s.sockets_max_queue) || undefined;
  const backlog = num(s.backlog);
  if (backlog !== undefined) view.backlog = { queue: backlog, max: num(s.backlog_max), address: typeof s.backlog_address === 'string' ? s.backlog_address : undefined };
  view.rps = num(s.requests_per_sec);
  view.meanRtUs = num(s.mean_rt);
  if (s.rt_p50 !== undefined) view.pct = { p50: num(s.rt_p50), p90: num(s.rt_p90), p99: num(s.rt_p99) };
  view.eps = num(s.exceptions_per_sec);
  view.stalled = s.stalled === true;
  view.rateInterval = num(s.rate_interval);
}

/** The view of one source from its records of one sample (`nowS`: the sample's time, epoch s). */
export function serverView(key: string, name: string, records: Rec[], nowS: number): ServerView {
  const view: ServerView = { key, name, stalled: false, rows: [] };
  const err = records.find((r) => r.type === 'error');
  if (err) {
    view.error = `${String(err.code)}: ${String(err.message)}`;
    return view;
  }
  const s = records.find((r) => r.type === 'summary');
  view.server = records[0]?.server;
  if (s) header(view, s);
  const emperor = records.find((r) => r.type === 'emperor');
  if (emperor && !s) {
    // An Emperor: its vassals follow, each a server of its own.
    view.emperor = true;
    if (typeof emperor.version === 'string') view.version = emperor.version;
    view.pid = num(emperor.pid);
  }
  const threads = s ? num(s.threads) : undefined;
  const cores = new Map<number, Rec[]>();
  for (const c of records) if (c.type === 'core') cores.set(num(c.worker_id) ?? 0, [...(cores.get(num(c.worker_id) ?? 0) ?? []), c]);
  view.rows = records.filter((r) => r.type === 'worker').map((w) => workerRow(w, cores.get(num(w.worker_id) ?? 0) ?? [], threads, nowS));
  return view;
}

/** Rows sorted by `key`: the largest first for figures (those without one last), id ascending. */
export function sortRows(rows: readonly WorkerRow[], key: SortKey): WorkerRow[] {
  const by = (r: WorkerRow): number | undefined => (key === 'rps' ? r.rps : key === 'busy' ? r.busyMs : key === 'rss' ? r.rss : undefined);
  return [...rows].sort((a, b) => {
    if (key !== 'id') {
      const [x, y] = [by(a) ?? -1, by(b) ?? -1];
      if (x !== y) return y - x;
    }
    return a.id - b.id;
  });
}
