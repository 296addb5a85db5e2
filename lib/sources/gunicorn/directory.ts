// Pure: the status directory that conf/gunicorn_wsgistat.py keeps (master.json, and one
// worker-<pid>.json per worker, each written whole) to flat record bodies.

import { SourceError } from '../../errors.js';
import type { Body } from '../../records/types.js';
import { wantsVar, type VarsPolicy } from '../types.js';
import type { GunicornShapeOptions } from './shape.js';

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
  if (opts.records.has('worker')) out.push(...workers);
  return out;
}

/** What master.json says of the listeners, for the backlog step. */
export function listenerHint(master: Obj): { pid: number; backlog?: number; unix: string[]; tcp: string[] } {
  const bind = Array.isArray(master.bind) ? master.bind.filter((b): b is string => typeof b === 'string') : [];
  const unix = bind.filter((b) => b.startsWith('unix:'));
  const tcp = bind.filter((b) => !b.startsWith('unix:') && !b.startsWith('fd://'));
  return { pid: num(master.pid), ...(typeof master.backlog === 'number' ? { backlog: master.backlog } : {}), unix, tcp };
}
