// Pure: a gunicorn status file in the format of mackerel-plugin-gunicorn's hooks to flat record
// bodies. Measured with those hooks on gunicorn 20.1: the counts are strings and drift (negative
// IdleWorkers under gthread), entries of dead workers stay (a SIGKILLed busy worker stays "A"),
// reloads append duplicates. So busy and idle come from the entries whose pid is alive on this
// host; the file's own counters are kept apart, under their own names.

import { SourceError } from '../../errors.js';
import type { Body, RecordType } from '../../records/types.js';
import { wantsVar, type VarsPolicy } from '../types.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Counts are strings in this format; anything that is not a whole number reads as undefined. */
function count(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

export function isGunicornStatus(doc: unknown): doc is Obj {
  return isObj(doc) && Array.isArray(doc.stats) && ('TotalAccesses' in doc || 'BusyWorkers' in doc || 'IdleWorkers' in doc);
}

const STATUS: Record<string, 'busy' | 'idle'> = { A: 'busy', _: 'idle' };

export interface GunicornShapeOptions {
  records: ReadonlySet<RecordType>;
  vars: VarsPolicy;
  /** Whether a pid is a live process on this host. */
  alive: (pid: number) => boolean;
}

/** The request in progress: method and path always; query string and Host only when asked,
 *  as --vars QUERY_STRING,HTTP_HOST (or all), since they can hold secrets. */
function request(body: Body, e: Obj, vars: VarsPolicy): void {
  const uri = typeof e.uri === 'string' ? e.uri : '';
  const q = uri.indexOf('?');
  if (typeof e.method === 'string' && e.method !== '') body.request_method = e.method;
  if (uri !== '') body.request_path = q === -1 ? uri : uri.slice(0, q);
  if (q !== -1 && wantsVar(vars, 'QUERY_STRING')) body.var_QUERY_STRING = uri.slice(q + 1);
  if (typeof e.host === 'string' && e.host !== '' && wantsVar(vars, 'HTTP_HOST')) body.var_HTTP_HOST = e.host;
}

export function shapeGunicorn(doc: unknown, opts: GunicornShapeOptions): Body[] {
  if (!isGunicornStatus(doc)) {
    throw new SourceError('not_stats', 'the document is JSON but not a gunicorn status file (no "stats" list)');
  }
  // A reload or a replaced worker can leave several entries for one pid: the last one is current.
  const byPid = new Map<number, Obj>();
  for (const e of (doc.stats as unknown[]).filter(isObj)) {
    const pid = count(e.pid);
    if (pid !== undefined && pid > 0) byPid.set(pid, e);
  }
  const live = [...byPid].filter(([pid]) => opts.alive(pid));
  const summary: Body = {
    type: 'summary',
    workers: live.length,
    workers_busy: 0,
    workers_idle: 0,
    workers_other: 0,
    stale_entries: byPid.size - live.length,
  };
  const workers: Body[] = [];
  for (const [pid, e] of live) {
    const raw = typeof e.status === 'string' ? e.status : '';
    const status = STATUS[raw] ?? raw;
    const key = status === 'busy' ? 'workers_busy' : status === 'idle' ? 'workers_idle' : 'workers_other';
    summary[key] = (summary[key] as number) + 1;
    const w: Body = { type: 'worker', worker_id: pid, pid, status };
    if (status === 'busy') request(w, e, opts.vars);
    workers.push(w);
  }
  const total = count(doc.TotalAccesses);
  if (total !== undefined) {
    summary.requests = total;
    summary.file_total_accesses = total;
  }
  const busy = count(doc.BusyWorkers);
  const idle = count(doc.IdleWorkers);
  if (busy !== undefined) summary.file_busy_workers = busy;
  if (idle !== undefined) summary.file_idle_workers = idle;
  const out: Body[] = [];
  if (opts.records.has('summary')) out.push(summary);
  if (opts.records.has('worker')) for (const w of workers) out.push(w);
  return out;
}
