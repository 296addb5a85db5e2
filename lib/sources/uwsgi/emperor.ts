// The uWSGI Emperor's stats document (--emperor-stats): an `emperor` record, a `vassal` record per
// vassal, and each vassal's own stats server read as a part of the same sample (pipeline.ts gives
// every part its own rates). The Emperor's document names no vassal's stats address; it is found
// from /proc the way `wsgistat discover` finds it (lib/discover/uwsgi.ts: the listening socket the
// vassal's master alone holds, its --stats and --stats-http), once per vassal pid.
//
// Measured on uWSGI 2.0.21: the document has `emperor` (the monitored directories or globs),
// `emperor_tyrant`, `throttle_level`, `vassals` (id = the config file name, pid, ready,
// accepting, loyal, cursed, respawns, born, last_mod, uid, gid, monitor ...) and `blacklist`.

import type { Body, Scalar } from '../../records/types.js';
import type { ShapeOptions } from '../types.js';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: unknown): v is Scalar =>
  v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean';
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** Tells the Emperor's stats document from a server's. */
export function isEmperorStats(doc: unknown): doc is Obj {
  return isObj(doc) && Array.isArray(doc.vassals) && 'emperor' in doc && !Array.isArray(doc.workers);
}

/** The vassals the document lists, each with a name and a pid. */
export function vassalsIn(doc: Obj): { name: string; pid: number; v: Obj }[] {
  const vs = (doc.vassals as unknown[]).filter(isObj);
  return vs.map((v) => ({ name: String(v.id ?? ''), pid: num(v.pid), v }));
}

const TOP = ['version', 'pid', 'uid', 'gid', 'cwd', 'emperor_tyrant', 'throttle_level'];

/** The emperor record and the vassal records, as the record types asked for say. */
export function shapeEmperor(doc: Obj, shape: ShapeOptions, addresses: ReadonlyMap<string, string | null>): Body[] {
  const vassals = vassalsIn(doc);
  const out: Body[] = [];
  if (shape.records.has('emperor')) {
    const b: Body = { type: 'emperor' };
    for (const k of TOP) if (isScalar(doc[k])) b[k] = doc[k] as Scalar;
    const monitors = Array.isArray(doc.emperor) ? doc.emperor.filter((m) => typeof m === 'string') : [];
    b.monitors = monitors.join(',');
    b.vassals = vassals.length;
    b.vassals_ready = vassals.filter((x) => num(x.v.ready) === 1).length;
    b.vassals_accepting = vassals.filter((x) => num(x.v.accepting) === 1).length;
    b.vassals_loyal = vassals.filter((x) => num(x.v.loyal) === 1).length;
    b.vassals_cursed = vassals.filter((x) => num(x.v.cursed) !== 0).length;
    b.vassals_respawns = vassals.reduce((n, x) => n + num(x.v.respawns), 0);
    b.blacklist = Array.isArray(doc.blacklist) ? doc.blacklist.length : 0;
    out.push(b);
  }
  if (shape.records.has('vassal')) {
    for (const { name, v } of vassals) {
      const b: Body = { type: 'vassal', vassal: name };
      for (const k in v) if (k !== 'id' && isScalar(v[k]) && b[k] === undefined) b[k] = v[k] as Scalar;
      const address = addresses.get(name);
      if (address) b.stats_address = address;
      out.push(b);
    }
  }
  return out;
}
