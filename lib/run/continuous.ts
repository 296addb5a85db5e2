// A continuous run: a tick on the schedule until stop(), then the tick in flight finishes and what
// receivers have not taken stays in their spools. A slow source costs only itself its ticks.

import { holdYoungGeneration, sizeYoungGenerationFor } from '../heap.js';
import * as log from '../log.js';
import { tick, type Rates } from '../pipeline.js';
import { alignedEvery, cronNext, scheduler, type Scheduler } from '../schedule.js';
import type { Sink } from '../sinks/types.js';
import type { Source } from '../sources/index.js';
import type { Plan } from './plan.js';
import { writeState } from './state.js';

/** How long a stop leaves a receiver to take the batch in flight before it goes to the spool. */
const STOP_GRACE_MS = 2000;

export interface ContinuousRun {
  /** Resolves once stopped and closed: whether every record reached its outputs. */
  done: Promise<{ delivered: boolean }>;
  stop(): void;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function continuous(p: Plan, sinks: Sink[], rates: Rates): ContinuousRun {
  holdYoungGeneration();
  let s: Scheduler | undefined;
  let stopped = false;
  const done = (async () => {
    const next = p.config.cron ? await cronNext(p.config.cron) : alignedEvery(p.config.intervalMs!);
    s = scheduler(next);
    const inFlight = new Map<Source, { since: number }>();
    if (!stopped) await s.run(
      async (due) => {
        // Stop waiting a little before the next tick is due, so that this one has written its
        // records by then and the next is not skipped.
        const nextDue = next(due);
        const until = nextDue - Math.min(250, (nextDue - due) / 10);
        const { records } = await tick(p.sources, sinks, { ...p.tick, rates, overrun: { until, inFlight } });
        sizeYoungGenerationFor(records.length);
      },
      (due, since) => log.warn('wsgistat', `skipped the tick due at ${iso(due)}: the tick of ${iso(since)} is still running`),
      // Not expected (sources and sinks report their own failures): said, and the next tick goes on.
      (due, e) => log.error('wsgistat', `the tick due at ${iso(due)} failed: ${(e as Error)?.message ?? String(e)}; the next tick goes on`),
    );
    const undelivered = await Promise.all(sinks.map((sink) => sink.close(STOP_GRACE_MS)));
    if (p.config.stateFileGiven) writeState(p.config, rates.states);
    return { delivered: undelivered.every((n) => n === 0) };
  })();
  return {
    done,
    stop() {
      stopped = true;
      s?.stop();
    },
  };
}
