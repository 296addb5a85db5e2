// When ticks happen: on the wall clock (--interval 10s ticks at :00, :10, ...) or on a cron
// expression (--cron, through node-cron, loaded only then). Knows nothing of sources.
// A tick still running when the next is due makes that next one skip. stop() lets the tick in
// flight finish. The clock is injectable, so the specs drive it without sleeping.

export interface Clock {
  now(): number;
  setTimer(fn: () => void, ms: number): { clear(): void };
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, ms);
    return { clear: () => clearTimeout(t) };
  },
};

/** Given the time now (epoch ms), when the next tick is due. */
export type Next = (now: number) => number;

/** Ticks on multiples of `ms` since the epoch, so that samples of many hosts line up. */
export function alignedEvery(ms: number): Next {
  return (now) => (Math.floor(now / ms) + 1) * ms;
}

/** Ticks when a cron expression (with an optional leading seconds field) matches. */
export async function cronNext(expression: string): Promise<Next> {
  const cron = (await import('node-cron')).default;
  // A task that is never started: only its matcher is used, and our scheduler does the timing,
  // so that cron and --interval share one skip-and-stop logic. The matcher's getNextMatch(from)
  // counts from the time we give it; the public getNextRuns() counts from the real clock, and is
  // only the fallback should a node-cron release rename the matcher.
  const task = cron.createTask(expression, () => {}) as unknown as {
    timeMatcher?: { getNextMatch(from: Date): Date };
    getNextRuns(n: number): Date[];
  };
  return (now) => {
    let next = task.timeMatcher?.getNextMatch(new Date(now)).getTime();
    if (next === undefined || !(next > now)) next = task.getNextRuns(3).map((d) => d.getTime()).find((t) => t > now);
    // An expression that never matches again (it cannot be valid and do so): wait a day and ask again.
    return next ?? now + 86_400_000;
  };
}

/** Checks a cron expression; returns what is wrong, or undefined. */
export async function cronProblem(expression: string): Promise<string | undefined> {
  const cron = (await import('node-cron')).default;
  const v = cron.validateDetailed(expression);
  return v.valid ? undefined : v.errors.map((e) => `${e.field}: ${e.message}`).join('; ') || 'not a cron expression';
}

/** The longest delay a Node timer takes. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface Scheduler {
  /** Runs `tick` at every due time until stop(); resolves once stopped and idle. */
  /** A tick that rejects is reported to onError (it does not stop the schedule). */
  run(tick: (due: number) => Promise<void>, onSkip: (due: number, runningSince: number) => void, onError?: (due: number, error: unknown) => void): Promise<void>;
  /** Stops scheduling; run() resolves when the tick in flight, if any, has finished. */
  stop(): void;
}

export function scheduler(next: Next, clock: Clock = realClock): Scheduler {
  let timer: { clear(): void } | undefined;
  let stopped = false;
  let running: { since: number; done: Promise<void> } | undefined;
  let finish: () => void = () => {};

  const settle = () => {
    if (stopped && !running) finish();
  };
  return {
    run(tick, onSkip, onError = () => {}) {
      // From the later of now and the tick just fired: a timer that fires a little early must not
      // make the same due time fire twice.
      const arm = (after = 0) => {
        if (stopped) return;
        wait(next(Math.max(clock.now(), after)));
      };
      // setTimeout takes at most 2^31-1 ms (~24.8 days); a longer delay fires at once, which made
      // a far cron match or a long --interval tick in a storm. Wait in steps until it is due.
      const wait = (due: number) => {
        const left = due - clock.now();
        timer = left > MAX_TIMER_MS
          ? clock.setTimer(() => !stopped && wait(due), MAX_TIMER_MS)
          : clock.setTimer(() => fire(due), Math.max(0, left));
      };
      const fire = (due: number) => {
        if (stopped) return;
        if (running) {
          onSkip(due, running.since);
        } else {
          const done = tick(due).catch((e) => onError(due, e)).finally(() => {
            running = undefined;
            settle();
          });
          running = { since: due, done };
        }
        arm(due);
      };
      return new Promise<void>((resolve) => {
        finish = resolve;
        arm();
      });
    },
    stop() {
      stopped = true;
      timer?.clear();
      settle();
    },
  };
}
