// Counters into honest rates. Pure: given the previous sample's state and this sample's summary
// and worker records, adds <counter>_delta, <counter>_per_sec, rate_interval, mean_rt and stalled,
// and returns the state to keep for the next sample.
//
// Reset-aware, never negative, never a spike:
// - uWSGI keeps a worker slot's counters across respawns, so a respawned worker (new pid) simply
//   continues. A slot whose respawn_count went down, or a server with a new master pid (a restart
//   or reload), started again from zero after the previous sample: its change is its current value.
//   So is any single counter that went down, and a slot that was not there before.
// - The server's change is the sum of its workers' changes, so one worker's reset does not drag the
//   total down, and a slot that disappears takes nothing away. A counter no worker carries (the
//   request total of a gunicorn status file) changes by its own difference, by the same rules.
// - First sample, a previous sample from the same millisecond or the future, or one older than
//   maxGapMs: no rate fields.
// - avg_rt is not a mean and never decays; mean_rt = Δrunning_time / Δrequests over the interval.
// - The summary says `counters_reset: true` when any of those resets happened in the interval (a
//   restart, a slot reset, a counter that went down): its changes then count from zero and miss
//   what was served before the reset. Consumers that prefer no value to a low one (the mackerel
//   format) skip such a sample. A new or vanished slot is not a reset: nothing is missed.

import { COUNTERS } from './counters.js';
import { histogramDelta, percentiles, toSparse, type Sparse } from './latency.js';
import type { Body } from './types.js';

type Counts = Partial<Record<(typeof COUNTERS)[number], number>>;

export interface SlotState { pid?: number; respawn_count?: number; c: Counts; /** latency histogram */ h?: Sparse }

/** What is kept of a sample, in memory or in the state file, to compute the next one's rates. */
export interface RateState {
  /** Epoch milliseconds. */
  time: number;
  pid?: number;
  listen_queue?: number;
  workers: Record<string, SlotState>;
  /** The summary's own counters, for those no worker carries (gunicorn's status file). */
  summary?: Counts;
  /** The summary's latency histogram (gunicorn format-2 hooks). */
  summaryHist?: Sparse;
}

/** What a source knows beyond the bodies (lib/sources/types.ts Sample). */
export interface RateExtras {
  /** Latency histograms by worker id, and 'summary' for the server's. */
  histograms?: ReadonlyMap<string, readonly number[]>;
  /** Their buckets' upper bounds, µs, when not the hooks' 128 (a Prometheus histogram). */
  histogramBounds?: readonly number[];
  /** The summary's counters are the server's own totals (dead workers' counts kept by the
   *  master): their change is their own difference, not the sum of the live workers' changes,
   *  which would miss what a worker served in its last interval. */
  ownTotals?: boolean;
}

export interface RateResult {
  state: RateState;
  /** Why no rates were added, when that is worth saying. */
  notice?: string;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const round = (x: number, places: number) => Math.round(x * 10 ** places) / 10 ** places;

function counts(b: Body): Counts {
  const c: Counts = {};
  for (const k of COUNTERS) {
    const v = num(b[k]);
    if (v !== undefined) c[k] = v;
  }
  return c;
}

/** Changes of one worker slot's counters since the previous sample; `reset` when they count from
 *  zero because the slot or a counter started again (not merely because the slot is new). */
function slotDeltas(now: Counts, prev: SlotState | undefined, restarted: boolean, respawns?: number): { d: Counts; reset: boolean } {
  let reset = prev !== undefined && (restarted || (respawns !== undefined && prev.respawn_count !== undefined && respawns < prev.respawn_count));
  const d: Counts = {};
  for (const k of COUNTERS) {
    const cur = now[k];
    if (cur === undefined) continue;
    const before = reset || !prev ? undefined : prev.c[k];
    if (before !== undefined && cur < before) reset = true;
    d[k] = before === undefined || cur < before ? cur : cur - before;
  }
  return { d, reset };
}

const NAMES = COUNTERS.map((k) => [k, `${k}_delta`, `${k}_per_sec`] as const);

function addRates(b: Body, d: Counts, seconds: number, hist?: number[], bounds?: readonly number[]): void {
  b.rate_interval = round(seconds, 3);
  if (d.requests !== undefined && d.running_time !== undefined && d.requests > 0) b.mean_rt = round(d.running_time / d.requests, 1);
  if (hist) Object.assign(b, percentiles(hist, bounds));
  for (const [k, delta, perSec] of NAMES) {
    const v = d[k];
    if (v === undefined) continue;
    b[delta] = v;
    b[perSec] = round(v / seconds, 3);
  }
}

/** The stall signature of a uWSGI whose recycled workers deadlocked (measured on uWSGI 2.0.21): its
 *  stats server calls every worker idle and accepting while connections wait in the listen queue
 *  and no counter moves. So: connections wait, nobody works, nothing moves. */
function stalled(summary: Body, d: Counts, prevQueue: number | undefined): boolean {
  const queue = num(summary.listen_queue) ?? 0;
  const moved = COUNTERS.some((k) => k !== 'respawn_count' && (d[k] ?? 0) > 0);
  return queue > 0 && queue >= (prevQueue ?? 0) && (num(summary.workers_busy) ?? 0) === 0 && !moved;
}

/** uWSGI: a worker that the stats server calls idle and accepting, whose counters have not moved
 *  over an interval in which connections waited in the listen queue (at both samples) and at least
 *  one sibling served, is frozen: a deadlock inside a live process, which /proc cannot see. Only a
 *  worker with the same pid at both samples (a new one may not have had its turn yet), not already
 *  found stuck. Marked stuck (reason frozen) and taken out of the idle and accepting counts. */
function markFrozen(summary: Body, workers: Body[], prev: RateState): void {
  if (!((num(summary.listen_queue) ?? 0) > 0 && (prev.listen_queue ?? 0) > 0)) return;
  const moved = (w: Body) => (num(w.requests_delta) ?? 0) > 0;
  if (!workers.some(moved)) return; // nobody served: the whole server, which `stalled` tells
  for (const w of workers) {
    const before = prev.workers[String(w.worker_id)];
    const still = COUNTERS.every((k) => k === 'respawn_count' || (num(w[`${k}_delta`]) ?? 0) === 0);
    if (w.stuck === true || w.status !== 'idle' || num(w.accepting) !== 1 || !before || before.pid !== num(w.pid) || !still) continue;
    w.stuck = true;
    w.stuck_reason = 'frozen';
    summary.workers_idle_reported ??= summary.workers_idle;
    summary.workers_accepting_reported ??= summary.workers_accepting;
    summary.workers_stuck = (num(summary.workers_stuck) ?? 0) + 1;
    summary.workers_idle = (num(summary.workers_idle) ?? 1) - 1;
    summary.workers_accepting = (num(summary.workers_accepting) ?? 1) - 1;
  }
}

/** Adds rate fields to the summary and worker bodies of one sample (in place). */
export function applyRates(bodies: Body[], timeMs: number, prev: RateState | undefined, maxGapMs: number, extras: RateExtras = {}): RateResult {
  const hists = extras.histograms;
  const summary = bodies.find((b) => b.type === 'summary');
  const workers = bodies.filter((b) => b.type === 'worker');
  const state: RateState = { time: timeMs, pid: num(summary?.pid), listen_queue: num(summary?.listen_queue), workers: {} };
  if (summary) state.summary = counts(summary);
  const summaryHist = hists?.get('summary');
  if (summaryHist) state.summaryHist = toSparse(summaryHist);
  for (const w of workers) {
    const id = String(w.worker_id);
    state.workers[id] = { pid: num(w.pid), respawn_count: num(w.respawn_count), c: counts(w) };
    const h = hists?.get(id);
    if (h) state.workers[id]!.h = toSparse(h);
  }
  if (!prev) return { state };
  const gap = timeMs - prev.time;
  // Two samples in the same millisecond (ticks far shorter than any real interval): nothing to say.
  if (gap === 0) return { state };
  if (gap < 0) return { state, notice: 'the previous sample is newer than this one (the clock went back?): no rates this time' };
  if (gap > maxGapMs) return { state, notice: `the previous sample is ${Math.round(gap / 1000)} s old, more than --max-gap (${maxGapMs / 1000} s): no rates this time` };
  const seconds = gap / 1000;
  const restarted = state.pid !== undefined && prev.pid !== undefined && state.pid !== prev.pid;
  const total: Counts = {};
  let reset = restarted;
  for (const w of workers) {
    const id = String(w.worker_id);
    const { d, reset: slotReset } = slotDeltas(state.workers[id]!.c, prev.workers[id], restarted, state.workers[id]!.respawn_count);
    reset ||= slotReset;
    const h = hists?.get(id);
    const before = prev.workers[id];
    addRates(w, d, seconds, h && histogramDelta(h, slotReset || !before ? undefined : before.h).delta, extras.histogramBounds);
    for (const k of COUNTERS) if (d[k] !== undefined) total[k] = (total[k] ?? 0) + d[k]!;
  }
  if (summary && extras.ownTotals) {
    const own = slotDeltas(state.summary!, prev.summary ? { c: prev.summary } : undefined, restarted);
    const h = summaryHist && histogramDelta(summaryHist, restarted || own.reset ? undefined : prev.summaryHist);
    addRates(summary, own.d, seconds, h?.delta, extras.histogramBounds);
    summary.stalled = stalled(summary, own.d, restarted ? undefined : prev.listen_queue);
    summary.counters_reset = restarted || own.reset || (h?.reset ?? false);
  } else if (summary) {
    const own = slotDeltas(state.summary!, prev.summary ? { c: prev.summary } : undefined, restarted);
    for (const k of COUNTERS) {
      if (total[k] === undefined && own.d[k] !== undefined && workers.every((w) => w[k] === undefined)) {
        total[k] = own.d[k];
        // Only a counter the summary owns can reset here; the others are the workers' sums.
        if (prev.summary?.[k] !== undefined && state.summary![k]! < prev.summary[k]!) reset = true;
      }
    }
    addRates(summary, total, seconds);
    summary.stalled = stalled(summary, total, restarted ? undefined : prev.listen_queue);
    summary.counters_reset = reset;
    if (!restarted) markFrozen(summary, workers, prev);
  }
  return { state };
}
