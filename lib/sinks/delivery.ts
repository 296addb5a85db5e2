// Delivery to a receiver that can be down, slow or restarting, losing nothing (issue #5):
//
// - Each tick's records become one batch, queued in order; `write` never waits for the network, so
//   a slow receiver never delays another sink or the next tick.
// - One sender per sink sends the oldest batch (with the batches queued behind it, when a backlog
//   is being caught up, up to 5,000 records a request); the receiver's answer decides: delivered (next),
//   refused as bad (4xx: the dead-letter file, with the status and reason; next), or try again
//   (network error, timeout, 5xx, 429: backoff with full jitter, 100 ms doubling up to 30 s).
// - A batch waits in memory while the receiver keeps up (at most QUEUE_MAX batches). From the first
//   failure on, every waiting batch is in the spool on disk, so a crash or kill -9 loses at most the
//   batch in flight, and memory stays flat however long the receiver is away. The spool is read
//   back in order when it returns; a run finds the spool of earlier runs and sends it first.
// - close(): one-shot runs keep trying for --retry-for, SIGTERM gives the batch in flight a moment;
//   whatever is still pending then goes to the spool for the next run.
// Delivery is at least once: a batch whose answer was lost (a timeout after the receiver stored it)
// is sent again.

import * as log from '../log.js';
import type { Rec } from '../records/types.js';
import { Spool } from './spool.js';
import type { Sink } from './types.js';

/** What a receiver said of one batch. */
export type Outcome =
  | { ok: true }
  | { ok: false; retry: true; reason: string }
  | { ok: false; retry: false; status: number; reason: string };

export interface Transport {
  /** The sink's name in diagnostics (no credentials). */
  readonly name: string;
  /** One record as this receiver wants it, as one JSON text. */
  encode(record: Rec): string;
  /** Sends one batch of encoded records; never rejects. */
  send(lines: string[]): Promise<Outcome>;
  close(): void;
}

export interface DeliveryOptions {
  spool: Spool;
  /** One-shot runs: how long close() keeps trying before leaving the rest to the next run. */
  retryForMs: number;
  /** Injectable for the specs. */
  random?: () => number;
}

export const QUEUE_MAX = 64;
/** One request carries at most this much of a backlog. */
const POST_MAX_RECORDS = 5000;
const POST_MAX_BYTES = 4 * 1024 * 1024;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 30_000;

interface Pending {
  seq: number;
  count: number;
  /** In memory until spooled; undefined: read it back from the spool. */
  lines?: string[];
  spooled: boolean;
}

export interface DeliverySink extends Sink {
  /** Records not delivered yet (memory and spool). */
  pending(): number;
  /** Whether the receiver took everything so far. */
  idle(): Promise<void>;
  /** Ends the run: keeps sending up to `graceMs` (default --retry-for), then spools the rest and
   *  resolves with how many records that is. */
  close(graceMs?: number): Promise<number>;
}

export function deliverySink(transport: Transport, opts: DeliveryOptions): DeliverySink {
  const { spool } = opts;
  const random = opts.random ?? Math.random;
  const component = `sink ${transport.name}` as const;
  const owner = spool.lock();
  const queue: Pending[] = owner ? spool.list().map((e) => ({ seq: e.seq, count: e.count, spooled: true })) : [];
  if (queue.length > 0) log.warn(component, `${spool.records} records from earlier runs wait in the spool ${spool.dir}; sending them first`);
  if (!owner) log.warn(component, `another wsgistat is sending the spool ${spool.dir} now; this run's records wait in it for the next run`);
  let failing = false;
  let failedSince = 0;
  let attempt = 0;
  let closing = false;
  let single = false;
  let wake: (() => void) | undefined;
  let sleeping: { timer: NodeJS.Timeout; done: () => void } | undefined;
  const idleWaiters: (() => void)[] = [];

  const queued = () => queue.reduce((n, p) => n + p.count, 0);

  /** Forgets the batches the spool no longer has: dropped when it was full, or sent by another run. */
  function dropGone(): void {
    let j = 0;
    for (const p of queue) if (!p.spooled || spool.has(p.seq)) queue[j++] = p;
    queue.length = j;
  }

  function spoolOne(p: Pending): void {
    if (p.spooled || !p.lines) return;
    const { droppedRecords, droppedBatches } = spool.put(p.seq, p.lines);
    p.spooled = true;
    p.lines = undefined;
    if (droppedRecords > 0) {
      dropGone();
      log.error(component, `spool full (${spool.dir}): dropped the oldest ${droppedRecords} records (${droppedBatches} batches) to keep the newest; raise --spool-max or bring the receiver back`);
    }
  }

  function spoolAll(): void {
    try {
      for (const p of queue) spoolOne(p);
    } catch (e) {
      log.error(component, `cannot write the spool ${spool.dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); ${queue.reduce((n, p) => n + (p.spooled ? 0 : p.count), 0)} records are only in memory`);
    }
  }

  function pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        sleeping = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      sleeping = { timer, done };
    });
  }

  async function pump(): Promise<void> {
    for (;;) {
      dropGone();
      const head = queue[0];
      if (!head) {
        idleWaiters.splice(0).forEach((f) => f());
        if (closing) return;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
        continue;
      }
      // Batches that queued up behind this one (a receiver catching up, a spool being emptied) go
      // in the same request, in order, up to a bound. After a refusal, one batch per request, so
      // that only the bad batch is set aside.
      const batch: Pending[] = [];
      const lines: string[] = [];
      let bytes = 0;
      for (const p of queue) {
        if (batch.length > 0 && (single || lines.length + p.count > POST_MAX_RECORDS || bytes > POST_MAX_BYTES)) break;
        const l = p.lines ?? spool.read(p.seq);
        if (!l) continue; // gone from the spool: dropGone() forgets it
        batch.push(p);
        for (const x of l) {
          lines.push(x);
          bytes += x.length;
        }
      }
      if (batch.length === 0) continue;
      const outcome = await transport.send(lines);
      const settle = () => {
        for (const p of batch) {
          const i = queue.indexOf(p);
          if (i !== -1) queue.splice(i, 1);
          if (p.spooled) spool.remove(p.seq);
        }
      };
      if (outcome.ok) {
        settle();
        single = false;
        if (failing) {
          failing = false;
          log.warn(component, `delivering again after ${Math.round((Date.now() - failedSince) / 1000)} s; ${queued()} records still to send`);
        }
        attempt = 0;
        continue;
      }
      if (!outcome.retry && batch.length > 1) {
        single = true; // find the batch it refuses
        continue;
      }
      if (!outcome.retry) {
        settle();
        single = false;
        let where = '';
        try {
          where = ` to ${spool.deadLetter(transport.name, outcome.status, outcome.reason, lines)}`;
        } catch (e) {
          where = `, and writing the dead-letter file failed too (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); they are lost`;
        }
        log.error(component, `the receiver refused a batch of ${lines.length} records (${outcome.status}: ${outcome.reason}); not retried, written${where}`);
        continue;
      }
      if (!failing) {
        failing = true;
        failedSince = Date.now();
        log.error(component, `${outcome.reason}; keeping the records in the spool ${spool.dir} and retrying`);
      }
      spoolAll();
      if (closing && closeDeadline <= Date.now()) return;
      const delay = random() * Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt++);
      await pause(closing ? Math.min(delay, Math.max(0, closeDeadline - Date.now())) : delay);
    }
  }

  let closeDeadline = Infinity;
  const running = owner ? pump() : Promise.resolve();

  return {
    name: transport.name,
    async write(records: Rec[]) {
      if (records.length === 0) return;
      const lines = new Array<string>(records.length);
      for (let i = 0; i < records.length; i++) lines[i] = transport.encode(records[i]!);
      const p: Pending = { seq: spool.nextSeq(), count: lines.length, lines, spooled: false };
      queue.push(p);
      // Waiting behind a failure, behind a full queue, or with no sender here: on disk at once.
      if (failing || !owner || queue.length > QUEUE_MAX) {
        try {
          if (queue.length > QUEUE_MAX) for (const q of queue) spoolOne(q);
          else spoolOne(p);
        } catch (e) {
          log.error(component, `cannot write the spool ${spool.dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
        }
      }
      if (!owner) queue.splice(0); // another run sends the spool; ours is in it
      wake?.();
    },
    pending: queued,
    idle() {
      return queue.length === 0 ? Promise.resolve() : new Promise((r) => idleWaiters.push(r));
    },
    async close(graceMs = opts.retryForMs) {
      closing = true;
      closeDeadline = Date.now() + graceMs;
      wake?.();
      if (queue.length > 0 && owner) {
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            sleeping?.done();
            resolve();
          }, Math.max(0, graceMs));
        });
        await Promise.race([running, deadline]);
        clearTimeout(timer);
      }
      spoolAll();
      const left = queued();
      if (left > 0) log.error(component, `${left} records not delivered; they wait in the spool ${spool.dir} for the next run`);
      spool.unlock();
      transport.close();
      return left;
    },
  };
}
