// Pure: a uWSGI stats document (2.0.x) to flat record bodies. No I/O, no clock.
// What each field means, as measured on uWSGI 2.0.21, is in the README's field tables and in
// records/schemas.ts; the quirks this file copes with are said where it copes with them.

import { SourceError } from '../../errors.js';
import type { Body, Scalar } from '../../records/types.js';
import { wantsVar, type ShapeOptions, type VarsPolicy } from '../types.js';
import { stuckReason, type Liveness } from './liveness.js';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
// A number too large for a double (JSON allows any length) reads as Infinity: left out, not printed as null.
const isScalar = (v: unknown): v is Scalar =>
  v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean';
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);

/** Copies the scalar fields of `from` onto `to`, leaving out `skip` (nested lists are not fields). */
function scalars(to: Body, from: Obj, skip: ReadonlySet<string>): Body {
  for (const key in from) {
    const v = from[key];
    if (isScalar(v) && !skip.has(key) && to[key] === undefined) to[key] = v;
  }
  return to;
}

const SKIP_ID = new Set(['id']);
const SKIP_TOP = new Set(['workers', 'sockets', 'locks']);
const SKIP_CORE = new Set(['id', 'vars', 'req_info']);
const NO_SKIP = new Set<string>();

/** Tells a uWSGI stats document from anything else. */
export function isUwsgiStats(doc: unknown): doc is Obj {
  return isObj(doc) && Array.isArray(doc.workers) && ('version' in doc || 'listen_queue' in doc);
}

/** Worker slots that exist: `id: 0` marks a slot that was never spawned. */
function spawnedWorkers(doc: Obj): Obj[] {
  return list(doc.workers).filter((w) => num(w.id) !== 0);
}

/** uWSGI has reported the same socket twice; one record per name and protocol. */
function distinctSockets(doc: Obj): Obj[] {
  const seen = new Set<string>();
  return list(doc.sockets).filter((s) => {
    const key = `${String(s.name)}\0${String(s.proto)}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
}

const TOTALS = ['requests', 'exceptions', 'harakiri_count', 'signals', 'tx', 'rss', 'vsz', 'running_time', 'respawn_count'] as const;
const TOP = ['version', 'pid', 'uid', 'gid', 'cwd', 'listen_queue', 'listen_queue_errors', 'signal_queue', 'load'];
const STATUSES: Record<string, 'workers_busy' | 'workers_idle' | 'workers_cheap' | 'workers_pause'> = {
  busy: 'workers_busy', idle: 'workers_idle', cheap: 'workers_cheap', pause: 'workers_pause',
};

/** Cores of a worker and how many are in a request; undefined under --stats-no-cores. */
function coreCounts(w: Obj): [number, number] | undefined {
  if (!Array.isArray(w.cores)) return undefined;
  let busy = 0;
  for (const c of w.cores) if (isObj(c) && num(c.in_request) !== 0) busy++;
  return [w.cores.length, busy];
}

/** Why this worker serves nothing, from the /proc check; undefined when it may serve or is unknown. */
function stuckOf(w: Obj, live: Liveness | undefined): 'zombie' | 'stopped' | undefined {
  return live?.check === 'made' ? stuckReason(live.states.get(num(w.pid))) : undefined;
}

/** With a liveness check: uWSGI's own idle and accepting counts under their own names, the ones
 *  without stuck workers (they are no capacity) under the usual names, and the check's outcome. */
function addLiveness(body: Body, workers: Obj[], live: Liveness): void {
  body.workers_idle_reported = body.workers_idle!;
  body.workers_accepting_reported = body.workers_accepting!;
  body.proc_check = live.check;
  if (live.check !== 'made') return;
  let stuck = 0;
  for (const w of workers) {
    if (!stuckOf(w, live)) continue;
    stuck++;
    if (String(w.status) === 'idle') (body.workers_idle as number)--;
    if (num(w.accepting) === 1) (body.workers_accepting as number)--;
  }
  body.workers_stuck = stuck;
}

function summary(doc: Obj, workers: Obj[], sockets: Obj[], live: Liveness | undefined): Body {
  const body: Body = { type: 'summary' };
  for (const key of TOP) if (isScalar(doc[key])) body[key] = doc[key] as Scalar;
  const counts = { workers_busy: 0, workers_idle: 0, workers_cheap: 0, workers_pause: 0, workers_other: 0 };
  const totals = [0, 0, 0, 0, 0, 0, 0, 0, 0];
  let accepting = 0;
  let cores: number | undefined;
  let coresBusy = 0;
  for (const w of workers) {
    counts[STATUSES[String(w.status)] ?? 'workers_other']++;
    if (num(w.accepting) === 1) accepting++;
    for (let i = 0; i < TOTALS.length; i++) totals[i]! += num(w[TOTALS[i]!]);
    const cc = coreCounts(w);
    if (cc) {
      cores = (cores ?? 0) + cc[0];
      coresBusy += cc[1];
    }
  }
  body.workers = workers.length;
  Object.assign(body, counts);
  body.workers_accepting = accepting;
  if (live) addLiveness(body, workers, live);
  TOTALS.forEach((k, i) => (body[k] = totals[i]!));
  if (cores !== undefined) {
    body.cores = cores;
    body.cores_busy = coresBusy;
  }
  body.sockets = sockets.length;
  let queue = 0;
  let maxQueue = 0;
  for (const s of sockets) {
    queue += num(s.queue);
    maxQueue += num(s.max_queue);
  }
  body.sockets_queue = queue;
  body.sockets_max_queue = maxQueue;
  return scalars(body, doc, SKIP_TOP);
}

function worker(w: Obj, live: Liveness | undefined): Body {
  const body: Body = { type: 'worker', worker_id: num(w.id) };
  scalars(body, w, SKIP_ID);
  if (live?.check === 'made') {
    const state = live.states.get(num(w.pid));
    if (state !== undefined) body.proc_state = state;
    const reason = stuckOf(w, live);
    body.stuck = reason !== undefined;
    if (reason) body.stuck_reason = reason;
  }
  const cc = coreCounts(w);
  if (cc) {
    body.cores = cc[0];
    body.cores_busy = cc[1];
  }
  body.apps = Array.isArray(w.apps) ? w.apps.length : 0;
  return body;
}

function core(workerId: number, c: Obj, vars: VarsPolicy): Body {
  const body: Body = { type: 'core', worker_id: workerId, core_id: num(c.id) };
  scalars(body, c, SKIP_CORE);
  const info = isObj(c.req_info) ? c.req_info : {};
  if (num(c.in_request) !== 0 && typeof info.request_start === 'number') body.request_start = info.request_start;
  if (vars.kind !== 'none' && Array.isArray(c.vars)) addVars(body, c.vars, vars);
  return body;
}

/** `vars` entries are "NAME=value" strings (the last one is ""); emitted as `var_NAME` fields. */
function addVars(body: Body, vars: unknown[], policy: VarsPolicy): void {
  for (const entry of vars) {
    if (typeof entry !== 'string') continue;
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const name = entry.slice(0, eq);
    if (!wantsVar(policy, name)) continue;
    body[`var_${name}`] = entry.slice(eq + 1);
  }
}

function app(workerId: number, a: Obj): Body {
  return scalars({ type: 'app', worker_id: workerId, app_id: num(a.id) }, a, SKIP_ID);
}

function socket(s: Obj): Body {
  return scalars({ type: 'socket' }, s, NO_SKIP);
}

/** The pids the /proc check is asked about: the master, and every spawned worker's. */
export function reportedPids(doc: unknown): { master: number; workers: number[] } | undefined {
  if (!isUwsgiStats(doc)) return undefined;
  return { master: num(doc.pid), workers: spawnedWorkers(doc).map((w) => num(w.pid)) };
}

/** Shapes one stats document into the record bodies asked for, summary first. `live`: the /proc
 *  check of its pids (liveness.ts), when the document was read from a stats server just now. */
export function shapeUwsgi(doc: unknown, opts: ShapeOptions, live?: Liveness): Body[] {
  if (!isUwsgiStats(doc)) {
    throw new SourceError('not_stats', 'the document is JSON but not a uWSGI stats document (no "workers" list)');
  }
  const want = opts.records;
  const workers = spawnedWorkers(doc);
  const sockets = distinctSockets(doc);
  const out: Body[] = [];
  if (want.has('summary')) out.push(summary(doc, workers, sockets, live));
  if (want.has('worker')) for (const w of workers) out.push(worker(w, live));
  if (want.has('core')) {
    for (const w of workers) for (const c of list(w.cores)) out.push(core(num(w.id), c, opts.vars));
  }
  if (want.has('app')) for (const w of workers) for (const a of list(w.apps)) out.push(app(num(w.id), a));
  if (want.has('socket')) for (const s of sockets) out.push(socket(s));
  return out;
}
