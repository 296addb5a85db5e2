// One sample of every watched source, through the same tick as every other run (collect, rates,
// error records), into one view per source. The rates' previous samples live here, per source,
// for as long as the source is watched.

import { readFileSync } from 'node:fs';
import { tick, type Rates } from '../pipeline.js';
import { readStat } from '../proc.js';
import type { Rec, RecordType } from '../records/types.js';
import type { Sink } from '../sinks/types.js';
import { createSource, sourceKey, type Source, type SourceSpec } from '../sources/index.js';
import { serverView, type ServerView } from './view.js';

const RECORDS: ReadonlySet<RecordType> = new Set(['summary', 'worker', 'core', 'emperor']);
const SHAPE = { records: RECORDS, vars: { kind: 'none' as const } };
/** A previous sample older than this gives no rates (a laptop that slept). */
const MAX_GAP_MS = 10 * 60 * 1000;

export type Watched = {
  /** Stable across samples: the source's key (label=address), or discovery's kind and pid. */
  key: string;
  /** How the screen names it (label=address, or what discovery found). */
  name: string;
} & ({ spec: SourceSpec; problem?: undefined } | { spec?: undefined; /** Found without an address it can read: shown with this line, never read. */ problem: string });

/** A source given by address. */
export const given = (spec: SourceSpec): Watched => ({ key: sourceKey(spec), name: `${spec.label ? `${spec.label}=` : ''}${spec.address.text}`, spec });

/** The key records carry back to their source: label=address, as sourceKey has it, and for an
 *  Emperor's vassal (read as a part of its sample) the vassal's name. */
const recKey = (r: Rec) => `${r.label ?? ''}=${r.source}${r.vassal !== undefined ? `#vassal=${r.vassal}` : ''}`;

/** A source's views: its own, and one per vassal when it is an Emperor. */
function views(w: Watched, bySource: Map<string, Rec[]>): ServerView[] {
  const mine = (key: string) => {
    const records = bySource.get(key) ?? [];
    addRss(records);
    return records;
  };
  const at = (records: Rec[]) => (typeof records[0]?.time === 'number' ? records[0].time : Date.now() / 1000);
  const own = mine(w.key);
  const vassals = [...bySource.keys()].filter((k) => k.startsWith(`${w.key}#vassal=`)).sort();
  return [
    serverView(w.key, w.name, own, at(own)),
    ...vassals.map((k) => {
      const records = mine(k);
      return serverView(k, `${w.name} vassal ${k.slice(w.key.length + 8)}`, records, at(records));
    }),
  ];
}

/** VmRSS of a local worker, in bytes, when the stats do not carry it (uWSGI without
 *  --memory-report, gunicorn): only when the pid is a child of the master the same sample names,
 *  so that a pid read over TCP from another host is never taken for one of ours. */
function localRss(pid: number, master: number | undefined): number | undefined {
  try {
    if (master === undefined || readStat(pid)?.ppid !== master) return undefined;
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

function addRss(records: Rec[]): void {
  const master = records.find((r) => r.type === 'summary')?.pid;
  for (const w of records) {
    if (w.type !== 'worker' || (typeof w.rss === 'number' && w.rss > 0) || typeof w.pid !== 'number') continue;
    const rss = localRss(w.pid, typeof master === 'number' ? master : undefined);
    if (rss !== undefined) w.rss = rss;
  }
}

export interface Sampler {
  /** Sets what is watched: sources kept keep their rates; new ones start without. */
  watch(list: Watched[]): void;
  /** Samples every source, waiting for them until `until` (epoch ms) at most. */
  sample(until: number): Promise<ServerView[]>;
  readonly size: number;
}

export function sampler(): Sampler {
  let watched: { w: Watched; source?: Source }[] = [];
  const rates: Rates = { states: new Map(), maxGapMs: MAX_GAP_MS };
  const inFlight = new Map<Source, { since: number }>();
  return {
    get size() {
      return watched.length;
    },
    watch(list) {
      const before = new Map(watched.map((x) => [x.w.key, x]));
      // A kept source keeps its Source: its rates and any read still in flight go on.
      watched = list.map((w) => {
        const kept = before.get(w.key);
        return kept && kept.w.problem === w.problem ? { ...kept, w } : { w, source: w.spec ? createSource(w.spec, SHAPE) : undefined };
      });
      const keys = new Set(watched.map((x) => x.w.key));
      for (const k of rates.states.keys()) if (!keys.has(k)) rates.states.delete(k);
      // A server no longer watched (it stopped, or discovery lost it) lets go of its open files.
      const now = new Set(watched.map((x) => x.source));
      for (const x of before.values()) if (x.source && !now.has(x.source)) x.source.close?.();
    },
    async sample(until) {
      let got: Rec[] = [];
      const sink: Sink = { name: 'top', write: async (records) => void (got = records), close: async () => 0 };
      const sources = watched.flatMap((x) => (x.source ? [x.source] : []));
      await tick(sources, [sink], { hostname: '', errorRecords: true, records: RECORDS, rates, overrun: { until, inFlight } });
      const bySource = new Map<string, Rec[]>();
      for (const r of got) {
        const list = bySource.get(recKey(r));
        if (list) list.push(r);
        else bySource.set(recKey(r), [r]);
      }
      return watched.flatMap(({ w }) => (w.spec ? views(w, bySource) : [{ key: w.key, name: w.name, error: w.problem, stalled: false, rows: [] }]));
    },
  };
}
