// Pure: the status directory that conf/gunicorn_wsgistat.py keeps, to flat record bodies. Format 1
// (the first hooks): master.json and one worker-<pid>.json per worker, each written whole. Format 2:
// master.json, one memory-mapped worker-<pid>.bin per worker (record.ts) and retired.json.

import { SourceError } from '../../errors.js';
import type { Body } from '../../records/types.js';
import { wantsVar, type VarsPolicy } from '../types.js';
import type { GunicornShapeOptions } from './shape.js';
import { BUCKETS, queuedOf, type WorkerRecord } from './record.js';

type Obj = Record<string, unknown>;
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const CLASSES = ['status_1xx', 'status_2xx', 'status_3xx', 'status_4xx', 'status_5xx'] as const;
/** Worker counters, as named in the file and in the records (request_time_us is running_time, µs;
 *  exceptions: requests whose app raised before start_response). */
const COUNTED: [string, string][] = [['requests', 'requests'], ['request_time_us', 'running_time'], ['exceptions', 'exceptions'], ...CLASSES.map((c) => [c, c] as [string, string])];

function request(body: Body, current: unknown, vars: VarsPolicy): void {
  if (!Array.isArray(current) || current.length === 0) return;
  const r = current[0] as Obj; // the oldest request in flight
  if (typeof r.method === 'string' && r.method) body.request_method = r.method;
  if (typeof r.path === 'string' && r.path) body.request_path = r.path;
  if (typeof r.start === 'number') body.request_start = Math.round(r.start * 1000) / 1000;
  if (typeof r.query === 'string' && r.query && wantsVar(vars, 'QUERY_STRING')) body.var_QUERY_STRING = r.query;
  if (typeof r.host === 'string' && r.host && wantsVar(vars, 'HTTP_HOST')) body.var_HTTP_HOST = r.host;
}

export function shapeGunicornDir(master: Obj, files: Obj[], opts: GunicornShapeOptions, where: string): Body[] {
  const pid = num(master.pid);
  if (!pid || !opts.alive(pid)) {
    throw new SourceError('not_found', `the gunicorn master (pid ${pid || '?'} in ${where}/master.json) is not running`);
  }
  const live = files.filter((f) => num(f.pid) > 0 && opts.alive(num(f.pid))).sort((a, b) => num(a.pid) - num(b.pid));
  const summary: Body = {
    type: 'summary', pid, workers: live.length, workers_busy: 0, workers_idle: 0,
    stale_entries: files.length - live.length, in_flight: 0,
  };
  if (typeof master.worker_class === 'string') summary.worker_class = master.worker_class;
  if (typeof master.workers === 'number') summary.workers_configured = master.workers;
  if (typeof master.threads === 'number') summary.threads = master.threads;

  for (const [, name] of COUNTED) summary[name] = 0;
  const workers: Body[] = [];
  for (const f of live) {
    const inFlight = num(f.in_flight);
    const w: Body = { type: 'worker', worker_id: num(f.pid), pid: num(f.pid), status: inFlight > 0 ? 'busy' : 'idle', in_flight: inFlight };
    for (const [from, name] of COUNTED) {
      w[name] = num(f[from]);
      summary[name] = (summary[name] as number) + num(f[from]);
    }
    if (typeof f.booted === 'number') w.last_spawn = Math.floor(f.booted);
    request(w, f.current, opts.vars);
    const key = inFlight > 0 ? 'workers_busy' : 'workers_idle';
    summary[key] = (summary[key] as number) + 1;
    summary.in_flight = (summary.in_flight as number) + inFlight;
    workers.push(w);
  }
  const out: Body[] = [];
  if (opts.records.has('summary')) out.push(summary);
  if (opts.records.has('worker')) for (const w of workers) out.push(w);
  return out;
}

/** What master.json says of the listeners, for the backlog step. */
export function listenerHint(master: Obj): { pid: number; backlog?: number; unix: string[]; tcp: string[] } {
  const bind = Array.isArray(master.bind) ? master.bind.filter((b): b is string => typeof b === 'string') : [];
  const unix = bind.filter((b) => b.startsWith('unix:'));
  const tcp = bind.filter((b) => !b.startsWith('unix:') && !b.startsWith('fd://'));
  return { pid: num(master.pid), ...(typeof master.backlog === 'number' ? { backlog: master.backlog } : {}), unix, tcp };
}

// ------------------------------------------------------------------ format 2 (memory-mapped records)


const RETIRED = ['requests', 'running_time', 'exceptions', ...CLASSES, 'status_other', 'requests_aborted'] as const;

export interface Shaped2 { bodies: Body[]; histograms: Map<string, number[]>; notices: string[] }

function counters(r: WorkerRecord): Record<string, number> {
  const c: Record<string, number> = { requests: r.requests, running_time: r.running_time, exceptions: r.exceptions };
  CLASSES.forEach((n, i) => (c[n] = r.status[i]!));
  c.status_other = r.statusOther;
  c.requests_aborted = r.aborted;
  return c;
}

/** A live worker's record: its counters, and the oldest request it is serving. */
function workerBody(r: WorkerRecord, gthread: boolean, opts: GunicornShapeOptions): Body {
  const w: Body = { type: 'worker', worker_id: r.pid, pid: r.pid, status: r.inFlight > 0 ? 'busy' : 'idle', in_flight: r.inFlight };
  if (gthread) Object.assign(w, { queued: queuedOf(r), connections: r.conns });
  Object.assign(w, counters(r));
  w.last_spawn = Math.floor(r.bootedUs / 1e6);
  const oldest = r.current[0];
  if (oldest) {
    if (oldest.method) w.request_method = oldest.method;
    if (oldest.path) w.request_path = oldest.path;
    w.request_start = Math.round(oldest.startUs / 1000) / 1000;
    if (oldest.query && wantsVar(opts.vars, 'QUERY_STRING')) w.var_QUERY_STRING = oldest.query;
    if (oldest.host && wantsVar(opts.vars, 'HTTP_HOST')) w.var_HTTP_HOST = oldest.host;
  }
  return w;
}

/** The format-2 directory: master.json, the live workers' records and retired.json (what the
 *  master kept of its dead workers). The summary's counters are the server's totals: live workers,
 *  plus workers that died and are not yet reaped (their counts are final), plus the retired ones.
 *  A record the master already added to retired.json (its ident is in "absorbed") is skipped. */
export function shapeGunicornDir2(master: Obj, records: WorkerRecord[], retired: Obj | undefined, opts: GunicornShapeOptions, where: string): Shaped2 {
  const pid = num(master.pid);
  if (!pid || !opts.alive(pid)) {
    throw new SourceError('not_found', `the gunicorn master (pid ${pid || '?'} in ${where}/master.json) is not running`);
  }
  const notices: string[] = [];
  const absorbed = new Set(Array.isArray(retired?.absorbed) ? (retired!.absorbed as unknown[]).filter((x) => typeof x === 'number') : []);
  const foreign = records.filter((r) => r.master !== pid);
  if (foreign.length) {
    const masters = [...new Set(foreign.map((r) => r.master))].slice(0, 3).join(', ');
    notices.push(`${where} holds ${foreign.length} worker record(s) of another gunicorn master (pid ${masters}), left out: give each gunicorn its own WSGISTAT_GUNICORN_DIR`);
  }
  const mine = records.filter((r) => r.master === pid && !absorbed.has(r.ident));
  const live = mine.filter((r) => opts.alive(r.pid)).sort((a, b) => a.pid - b.pid);
  const gthread = master.worker_class === 'gthread';
  const summary: Body = { type: 'summary', pid, workers: live.length, workers_busy: 0, workers_idle: 0, stale_entries: mine.length - live.length, in_flight: 0 };
  if (gthread) Object.assign(summary, { queued: 0, connections: 0 });
  if (typeof master.worker_class === 'string') summary.worker_class = master.worker_class;
  if (typeof master.workers === 'number') summary.workers_configured = master.workers;
  if (typeof master.threads === 'number') summary.threads = master.threads;
  if (gthread && typeof master.worker_connections === 'number') summary.worker_connections = master.worker_connections;

  const total: Record<string, number> = {};
  for (const k of RETIRED) total[k] = num(retired?.[k]);
  const hist = new Array<number>(BUCKETS).fill(0);
  const retiredHist = Array.isArray(retired?.histogram) ? (retired!.histogram as unknown[]) : [];
  for (let k = 0; k < BUCKETS; k++) hist[k] = num(retiredHist[k]);
  const histograms = new Map<string, number[]>();
  for (const r of mine) {
    for (const [k, v] of Object.entries(counters(r))) total[k] = total[k]! + v;
    r.histogram.forEach((c, k) => (hist[k] = hist[k]! + c));
  }
  const workers: Body[] = [];
  for (const r of live) {
    const w = workerBody(r, gthread, opts);
    summary[r.inFlight > 0 ? 'workers_busy' : 'workers_idle'] = (summary[r.inFlight > 0 ? 'workers_busy' : 'workers_idle'] as number) + 1;
    summary.in_flight = (summary.in_flight as number) + r.inFlight;
    if (gthread) {
      summary.queued = (summary.queued as number) + queuedOf(r);
      summary.connections = (summary.connections as number) + r.conns;
    }
    histograms.set(String(r.pid), r.histogram);
    workers.push(w);
  }
  Object.assign(summary, total);
  summary.workers_retired = num(retired?.workers_retired);
  histograms.set('summary', hist);
  const bodies: Body[] = [];
  if (opts.records.has('summary')) bodies.push(summary);
  if (opts.records.has('worker')) for (const w of workers) bodies.push(w);
  return { bodies, histograms, notices };
}
