// A one-shot run: one sample, its delivery and its state. abort() (a stop signal) cuts the
// delivery short: what is not delivered yet goes to the spool at once.

import { tick } from '../pipeline.js';
import type { Sink } from '../sinks/types.js';
import type { Plan } from './plan.js';
import { sharedState } from './state.js';

export interface OneShotResult {
  /** Sources that failed. */
  failed: number;
  /** Records that did not reach an output in this run (spooled, dead-lettered, dropped). */
  undelivered: number;
}

export function oneShot(p: Plan, sinks: Sink[]): { done: Promise<OneShotResult>; abort(): void } {
  const state = p.state ? sharedState(p.config) : undefined;
  const done = (async () => {
    try {
      const { failed } = await tick(p.sources, sinks, { ...p.tick, rates: state?.rates });
      state?.done(); // before delivery: the next run need not wait for this one's receivers
      // Receivers get --retry-for to take this run's batch (and any the spool held); the rest
      // waits in the spool for the next run.
      const undelivered = await Promise.all(sinks.map((s) => s.close()));
      return { failed, undelivered: undelivered.reduce((a, b) => a + b, 0) };
    } finally {
      state?.done();
    }
  })();
  return { done, abort: () => sinks.forEach((s) => s.abort?.()) };
}
