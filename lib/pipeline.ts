// One tick: collect from every source at once, turn counters into rates, stamp the common fields,
// turn failures into error records, and hand the lot to every sink. One failing source never
// stops the others.

import { SourceError } from './errors.js';
import * as log from './log.js';
import { applyRates, type RateState } from './records/rates.js';
import type { Body, Rec, RecordType } from './records/types.js';
import type { Sink } from './sinks/types.js';
import { sourceKey, type Sample, type Source } from './sources/index.js';

export interface TickOptions {
  hostname: string;
  errorRecords: boolean;
  /** Record types to hand to the sinks. */
  records: ReadonlySet<RecordType>;
  /** Previous samples by source key, updated in place; undefined: no rates. A function is called
   *  once the sources are read (a one-shot run reads the state file then, under its lock, so that
   *  runs at once never both count the same interval). */
  rates?: Rates | (() => Promise<Rates>);
  /** Injectable clock, epoch milliseconds. */
  now?: () => number;
  /** Continuous runs: wait for the sources only until `until` (epoch ms, when the next tick is
   *  due). A source not done by then, or still busy with an earlier tick's read, is reported for
   *  itself (code still_reading) and the others are written on time; its read goes on, bounded by
   *  its own --timeout, and no second read of it starts meanwhile. */
  overrun?: { until: number; inFlight: Map<Source, { since: number }> };
}

export interface Rates { states: Map<string, RateState>; maxGapMs: number }

export interface TickResult {
  records: Rec[];
  failed: number;
}

/** How a source is named in diagnostics: `source app1=unix:///run/app1.stats`. */
export const sourceName = (s: Source): `source ${string}` =>
  `source ${s.spec.label ? `${s.spec.label}=` : ''}${s.spec.address.text}`;

/** Adds the common fields to each body, in place: bodies are fresh every tick, and copying ~50
 *  fields per record was the largest cost of a tick. (Serializers write the common fields first.) */
function stamp(bodies: Body[], s: Source, server: Rec['server'], time: number, hostname: string): Rec[] {
  const source = s.spec.address.text;
  const label = s.spec.label;
  for (const b of bodies) {
    b.time = time;
    b.host = hostname;
    b.source = source;
    if (label) b.label = label;
    if (server) b.server = server;
  }
  return bodies as Rec[];
}

function asSourceError(err: unknown): SourceError {
  if (err instanceof SourceError) return err;
  // Not an expected failure: say what it was, still as one line, and go on with the others.
  return new SourceError('io_error', `unexpected failure: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

/** The notices each source gave at its last sample: in a continuous run, the same notice tick
 *  after tick (a damaged worker file, a repaired document) is said once, and again only after a
 *  sample without it. */
const said = new WeakMap<Source, Set<string>>();

function warnOnce(s: Source, notices: string[]): void {
  const before = said.get(s);
  for (const notice of notices) if (!before?.has(notice)) log.warn(sourceName(s), notice);
  said.set(s, new Set(notices));
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Reads a source, noting how long it took (for outputs that report it). */
function timed(s: Source, readMs: Map<string, number>): Promise<Sample> {
  // hrtime, not performance.now(): the global `performance` loads perf_hooks, ~1.4 ms of every start.
  const t0 = process.hrtime.bigint();
  const settle = () => void readMs.set(sourceKey(s.spec), Math.round(Number(process.hrtime.bigint() - t0) / 1000) / 1000);
  const p = s.collect();
  p.then(settle, settle);
  return p;
}

async function collectAll(sources: Source[], overrun: TickOptions['overrun'], readMs: Map<string, number>): Promise<PromiseSettledResult<Sample>[]> {
  if (!overrun) return Promise.allSettled(sources.map((s) => timed(s, readMs)));
  const { inFlight, until } = overrun;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, until - Date.now()))));
  const settled = sources.map((s): Promise<PromiseSettledResult<Sample>> => {
    const busy = inFlight.get(s);
    if (busy) {
      return Promise.resolve({ status: 'rejected', reason: new SourceError('still_reading', `its read of ${iso(busy.since)} has not finished (it ends within --timeout); this tick goes on without it`) });
    }
    const since = Date.now();
    const read = timed(s, readMs);
    inFlight.set(s, { since });
    const done = read.then((value) => ({ status: 'fulfilled', value }) as const, (reason: unknown) => ({ status: 'rejected', reason }) as const);
    void done.then(() => inFlight.delete(s));
    return Promise.race([done, late.then(() => ({
      status: 'rejected' as const,
      reason: new SourceError('still_reading', `not read by the time the next tick was due (its read of ${iso(since)} goes on, within --timeout); the other sources went on without it`),
    }))]);
  });
  try {
    return await Promise.all(settled);
  } finally {
    clearTimeout(timer);
  }
}

export async function tick(sources: Source[], sinks: Sink[], opts: TickOptions): Promise<TickResult> {
  const now = opts.now ?? Date.now;
  const readMs = new Map<string, number>();
  const results = await collectAll(sources, opts.overrun, readMs);
  const rates = typeof opts.rates === 'function' ? await opts.rates() : opts.rates;
  // One time for the whole tick, so that its records group together downstream.
  const timeMs = Math.round(now());
  const time = timeMs / 1000;
  const records: Rec[] = [];
  let failed = 0;
  /** A sample's records, with rates under `key`; a vassal's carry its name. */
  const take = (s: Source, sample: Sample, key: string, vassal?: string) => {
    let bodies = sample.bodies;
    if (vassal !== undefined) for (const b of bodies) b.vassal = vassal;
    if (rates) {
      const r = applyRates(bodies, timeMs, rates.states.get(key), rates.maxGapMs, { histograms: sample.histograms, histogramBounds: sample.histogramBounds, ownTotals: sample.ownTotals });
      rates.states.set(key, r.state);
      if (r.notice) log.warn(`${sourceName(s)}${vassal !== undefined ? ` vassal ${vassal}` : ''}`, r.notice);
      bodies = bodies.filter((b) => opts.records.has(b.type as RecordType));
    }
    // A loop, not push(...): a spread of ~130,000 records (a large server's cores, a big /metrics)
    // overflows the stack.
    for (const r of stamp(bodies, s, sample.server, time, opts.hostname)) records.push(r);
  };
  /** A failure: one line on stderr and, as asked, an error record. The previous sample is kept:
   *  the next good one gets rates over the longer gap. */
  const fail = (s: Source, reason: unknown, vassal?: string) => {
    failed++;
    const err = asSourceError(reason);
    log.error(`${sourceName(s)}${vassal !== undefined ? ` vassal ${vassal}` : ''}`, err.message);
    if (opts.errorRecords) {
      const body: Body = { type: 'error', code: err.code, message: err.message, ...(vassal !== undefined ? { vassal } : {}) };
      records.push(stamp([body], s, s.server, time, opts.hostname)[0]!);
    }
  };
  results.forEach((result, i) => {
    const s = sources[i]!;
    if (result.status === 'rejected') return fail(s, result.reason);
    warnOnce(s, result.value.notices);
    const key = sourceKey(s.spec);
    take(s, result.value, key);
    for (const part of result.value.parts ?? []) {
      if (part.result.status === 'rejected') fail(s, part.result.reason, part.vassal);
      else take(s, part.result.value, `${key}#vassal=${part.vassal}`, part.vassal);
    }
  });
  await Promise.all(sinks.map((sink) => sink.write(records, { readMs })));
  return { records, failed };
}
