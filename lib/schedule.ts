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
  // so that cron and --interval share one skip-and-stop logic.
  const task = cron.createTask(expression, () => {});
  return (now) => {
    // getNextRuns counts from the real clock; never hand back a time that is not ahead of `now`.
    const next = task.getNextRuns(1)[0]?.getTime();
    return next !== undefined && next > now ? next : now + 1000;
  };
}

/** Checks a cron expression; returns what is wrong, or undefined. */
export async function cronProblem(expression: string): Promise<string | undefined> {
  const cron = (await import('node-cron')).default;
  const v = cron.validateDetailed(expression);
  return v.valid ? undefined : v.errors.map((e) => `${e.field}: ${e.message}`).join('; ') || 'not a cron expression';
}

export interface Scheduler {
  /** Runs `tick` at every due time until stop(); resolves once stopped and idle. */
  run(tick: (due: number) => Promise<void>, onSkip: (due: number, runningSince: number) => void): Promise<void>;
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
    run(tick, onSkip) {
      const arm = () => {
        if (stopped) return;
        const now = clock.now();
        const due = next(now);
        timer = clock.setTimer(() => fire(due), Math.max(0, due - now));
      };
      const fire = (due: number) => {
        if (stopped) return;
        if (running) {
          onSkip(due, running.since);
        } else {
          const done = tick(due).catch(() => {}).finally(() => {
            running = undefined;
            settle();
          });
          running = { since: due, done };
        }
        arm();
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
