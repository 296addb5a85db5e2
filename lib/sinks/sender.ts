// The sender of one delivering sink: takes the oldest request's worth from its backlog, sends it,
// and lets the receiver's answer decide: delivered (next), refused as bad (the backlog sets it
// aside; next), or try again (network error, timeout, 5xx, 429: the backlog goes to the spool, and
// the sender backs off with full jitter, 100 ms doubling up to 30 s). close() keeps sending up to a
// deadline; abort() cuts that short. Time comes from a Clock, so that the specs run on a fake one.
// Delivery is at least once: a request whose answer was lost (a timeout after the receiver stored
// it) is sent again.

import * as log from '../log.js';
import type { Backlog } from './backlog.js';

/** What a receiver said of one batch. */
export type Outcome =
  | { ok: true }
  | { ok: false; retry: true; reason: string }
  | { ok: false; retry: false; status: number; reason: string };

export interface Receiver {
  /** Sends one batch of encoded records; never rejects. */
  send(lines: string[]): Promise<Outcome>;
}

/** A wait that can be cut short: `done` resolves after the time, or at once on cut(). */
export interface Sleep {
  readonly done: Promise<void>;
  cut(): void;
}

export interface Clock {
  /** Milliseconds, as Date.now(). */
  now(): number;
  sleep(ms: number): Sleep;
  /** In [0, 1), as Math.random(). */
  random(): number;
}

export function systemClock(random: () => number = Math.random): Clock {
  return {
    now: Date.now,
    random,
    sleep(ms) {
      let cut = () => {};
      const done = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        cut = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      return { done, cut };
    },
  };
}

const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 30_000;

export class Sender {
  private running: Promise<void> = Promise.resolve();
  /** Set while the loop waits for work. */
  private wakeUp: (() => void) | undefined;
  /** The backoff in progress. */
  private backoff: Sleep | undefined;
  /** close()'s wait for the loop, up to the deadline. */
  private closeWait: Sleep | undefined;
  private readonly idleWaiters: (() => void)[] = [];
  private attempt = 0;
  /** When the current run of failures began; undefined while delivering. */
  private failingSince: number | undefined;
  private closing = false;
  private deadline = Infinity;
  private aborted = false;
  /** Closed: an answer that comes now is too late (the request is in the spool). */
  private finished = false;

  constructor(
    private readonly backlog: Backlog,
    private readonly receiver: Receiver,
    private readonly clock: Clock,
    private readonly component: log.Component,
  ) {}

  /** Starts the loop (once: when the backlog's run takes the spool's lock). */
  start(): void {
    this.running = this.loop();
  }

  /** New work in the backlog. */
  wake(): void {
    this.wakeUp?.();
  }

  /** Resolves when the backlog is empty. */
  idle(): Promise<void> {
    return this.backlog.size === 0 ? Promise.resolve() : new Promise((r) => this.idleWaiters.push(r));
  }

  /** Cuts close() short now: no more backoff, no more waiting. */
  abort(): void {
    this.aborted = true;
    this.deadline = this.clock.now();
    this.backoff?.cut();
    this.closeWait?.cut();
  }

  /** Keeps sending up to `graceMs` (a run without the lock first waits for it as long); after it
   *  resolves, the loop acts on no answer any more. */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    this.deadline = this.aborted ? this.clock.now() : this.clock.now() + graceMs;
    if (this.backlog.waitsOnHolder && !this.aborted) await this.awaitLock();
    this.wake();
    if (this.backlog.size > 0 && this.backlog.owner) {
      const wait = this.clock.sleep(Math.max(0, this.deadline - this.clock.now()));
      this.closeWait = wait;
      // The deadline also ends a backoff in progress.
      const cutShort = wait.done.then(() => this.backoff?.cut());
      await Promise.race([this.running, cutShort]);
      wait.cut();
    }
    this.finished = true;
  }

  private async loop(): Promise<void> {
    for (;;) {
      const req = this.backlog.take();
      if (!req) {
        this.idleWaiters.splice(0).forEach((f) => f());
        if (this.closing) return;
        await new Promise<void>((r) => (this.wakeUp = r));
        this.wakeUp = undefined;
        continue;
      }
      const outcome = await this.receiver.send(req.lines);
      if (this.finished) return; // closed meanwhile: the request is in the spool, the answer comes too late
      if (outcome.ok) {
        this.backlog.settle(req);
        this.delivering();
      } else if (!outcome.retry) {
        this.backlog.reject(req, outcome.status, outcome.reason);
      } else if (!(await this.retryLater(outcome.reason))) {
        return;
      }
    }
  }

  private delivering(): void {
    if (this.failingSince !== undefined) {
      log.warn(this.component, `delivering again after ${Math.round((this.clock.now() - this.failingSince) / 1000)} s; ${this.backlog.queued()} records still to send`);
      this.failingSince = undefined;
    }
    this.attempt = 0;
  }

  /** A failure worth retrying: says so once, spools the backlog, backs off. False: stop now. */
  private async retryLater(reason: string): Promise<boolean> {
    if (this.failingSince === undefined) {
      this.failingSince = this.clock.now();
      log.error(this.component, `${reason}; keeping the records in the spool ${this.backlog.dir} and retrying`);
    }
    this.backlog.failed();
    if (this.closing && this.deadline <= this.clock.now()) return false;
    const delay = this.clock.random() * Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt++);
    this.backoff = this.clock.sleep(this.closing ? Math.min(delay, Math.max(0, this.deadline - this.clock.now())) : delay);
    await this.backoff.done;
    this.backoff = undefined;
    return !this.finished;
  }

  /** A run without the lock: polls for it until the deadline (the holder may finish first). */
  private async awaitLock(): Promise<void> {
    while (!this.aborted && !this.backlog.claim() && this.clock.now() < this.deadline) {
      if (this.backlog.waitingElsewhere() === 0) return; // the holder sent ours
      await this.clock.sleep(25 + this.clock.random() * 50).done;
    }
  }
}
