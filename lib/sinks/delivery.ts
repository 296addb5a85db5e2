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
// - Runs that share a spool: one holds its lock and sends; the others put their batches in it, and
//   the holder picks them up whenever it runs out of work. A run without the lock waits for it up to
//   its grace time at close (the holder may finish first), then sends what is left itself.
// - Every record is accounted for: delivered, dead-lettered (refused, or damaged in the spool),
//   dropped (spool full), or waiting in the spool; close() counts all but the first.
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
  /** The spool's name of it, once spooled. */
  id?: string;
  count: number;
  /** In memory until spooled; undefined: read it back from the spool. */
  lines?: string[];
  spooled: boolean;
}

/** What became of the records this sink was given (and of those it found in the spool). */
export interface DeliveryCounts {
  delivered: number;
  deadLettered: number;
  dropped: number;
}

export interface DeliverySink extends Sink {
  /** Records not delivered yet (memory and spool). */
  pending(): number;
  /** Whether the receiver took everything so far. */
  idle(): Promise<void>;
  counts(): DeliveryCounts;
  /** Ends the run: keeps sending up to `graceMs` (default --retry-for), then spools the rest and
   *  resolves with how many records did not reach the receiver in this run (waiting in the spool,
   *  dead-lettered or dropped). */
  close(graceMs?: number): Promise<number>;
}

const errText = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

export function deliverySink(transport: Transport, opts: DeliveryOptions): DeliverySink {
  const { spool } = opts;
  const random = opts.random ?? Math.random;
  const component = `sink ${transport.name}` as const;
  const counts: DeliveryCounts = { delivered: 0, deadLettered: 0, dropped: 0 };
  const queue: Pending[] = [];
  /** Batches this run put in the spool while another run held its lock. */
  const handedOver = new Map<string, number>();
  let owner = false;
  let failing = false;
  let failedSince = 0;
  let attempt = 0;
  let closing = false;
  let single = false;
  let wake: (() => void) | undefined;
  let sleeping: { timer: NodeJS.Timeout; done: () => void } | undefined;
  const idleWaiters: (() => void)[] = [];
  let closeDeadline = Infinity;
  let aborted = false;
  let finished = false;
  let cut: (() => void) | undefined;
  let running: Promise<void> = Promise.resolve();

  const queued = () => queue.reduce((n, p) => n + p.count, 0);
  const waitingElsewhere = () => [...handedOver].reduce((n, [id, c]) => n + (spool.onDisk(id) ? c : 0), 0);

  /** Queues the spooled batches this run does not know of yet (other runs', earlier runs'). */
  function adopt(): void {
    spool.rescan();
    const known = new Set(queue.map((p) => p.id));
    for (const e of spool.list()) if (!known.has(e.id)) queue.push({ seq: e.seq, id: e.id, count: e.count, spooled: true });
    queue.sort((a, b) => a.seq - b.seq || ((a.id ?? '') < (b.id ?? '') ? -1 : 1));
  }

  /** Takes the spool's lock if its holder is gone; then sends everything in it. */
  function claim(): boolean {
    if (owner) return true;
    try {
      owner = spool.lock();
    } catch (e) {
      log.error(component, `cannot take the lock of the spool ${spool.dir} (${errText(e)})`);
    }
    if (!owner) return false;
    adopt();
    for (const id of handedOver.keys()) if (!spool.has(id)) handedOver.delete(id);
    const theirs = queued() - [...handedOver.values()].reduce((a, b) => a + b, 0);
    if (theirs > 0) log.warn(component, `${theirs} records from earlier runs wait in the spool ${spool.dir}; sending them first`);
    handedOver.clear();
    running = pump();
    return true;
  }

  /** Forgets the batches the spool no longer has: dropped when it was full, or sent by another run. */
  function dropGone(): void {
    let j = 0;
    for (const p of queue) if (!p.spooled || spool.has(p.id!)) queue[j++] = p;
    queue.length = j;
  }

  function spoolOne(p: Pending): void {
    if (p.spooled || !p.lines) return;
    const r = spool.put(p.seq, p.lines);
    p.seq = r.seq;
    p.id = r.id;
    p.spooled = true;
    p.lines = undefined;
    if (r.droppedRecords > 0) {
      counts.dropped += r.droppedRecords;
      dropGone();
      log.error(component, `spool full (${spool.dir}): dropped the oldest ${r.droppedRecords} records (${r.droppedBatches} batches) to keep the newest; raise --spool-max or bring the receiver back`);
    }
  }

  function spoolAll(): void {
    try {
      for (const p of queue) spoolOne(p);
    } catch (e) {
      log.error(component, `cannot write the spool ${spool.dir} (${errText(e)}); ${queue.reduce((n, p) => n + (p.spooled ? 0 : p.count), 0)} records are only in memory`);
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

  /** The lines of a queued batch; damaged spooled lines are set aside and counted. */
  function linesOf(p: Pending): string[] | undefined {
    if (p.lines) return p.lines;
    const r = spool.read(p.id!, transport.name);
    if (!r) return undefined;
    if (r.corrupt > 0) {
      counts.deadLettered += r.corrupt;
      log.error(component, r.problem ?? `${r.corrupt} damaged records in the spool batch ${p.id} are not sent; set aside in ${spool.dir}/dead-letter.jsonl`);
    }
    p.count = r.lines.length;
    return r.lines;
  }

  /** The oldest batches that go in one request. After a refusal, one batch per request, so that
   *  only the bad batch is set aside. */
  function nextRequest(): { batch: Pending[]; lines: string[] } {
    const batch: Pending[] = [];
    const lines: string[] = [];
    let bytes = 0;
    for (const p of queue) {
      if (batch.length > 0 && (single || lines.length + p.count > POST_MAX_RECORDS || bytes > POST_MAX_BYTES)) break;
      const l = linesOf(p);
      if (!l) continue; // gone from the spool: dropGone() forgets it
      batch.push(p);
      for (const x of l) {
        lines.push(x);
        bytes += x.length;
      }
    }
    return { batch, lines };
  }

  function settle(batch: Pending[]): void {
    for (const p of batch) {
      const i = queue.indexOf(p);
      if (i !== -1) queue.splice(i, 1);
      if (p.spooled) spool.remove(p.id!);
    }
  }

  function refused(batch: Pending[], lines: string[], status: number, reason: string): void {
    settle(batch);
    single = false;
    let where = '';
    try {
      where = ` to ${spool.deadLetter(transport.name, status, reason, lines)}`;
      counts.deadLettered += lines.length;
    } catch (e) {
      counts.dropped += lines.length;
      where = `, and writing the dead-letter file failed too (${errText(e)}); they are lost`;
    }
    log.error(component, `the receiver refused a batch of ${lines.length} records (${status}: ${reason}); not retried, written${where}`);
  }

  async function pump(): Promise<void> {
    for (;;) {
      dropGone();
      if (queue.length === 0) adopt(); // other runs' batches, now that ours are out
      const head = queue[0];
      if (!head) {
        idleWaiters.splice(0).forEach((f) => f());
        if (closing) return;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
        continue;
      }
      const { batch, lines } = nextRequest();
      if (batch.length === 0) continue;
      if (lines.length === 0) {
        settle(batch); // every line was damaged, and is set aside
        continue;
      }
      const outcome = await transport.send(lines);
      if (finished) return; // closed meanwhile: the batch is in the spool, the answer comes too late
      if (outcome.ok) {
        settle(batch);
        counts.delivered += lines.length;
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
        refused(batch, lines, outcome.status, outcome.reason);
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
      if (finished) return;
    }
  }

  /** A run without the lock: polls for it until the deadline (the holder may finish first). */
  async function awaitLock(): Promise<void> {
    while (!aborted && !claim() && Date.now() < closeDeadline) {
      if (waitingElsewhere() === 0) return; // the holder sent ours
      await new Promise((r) => setTimeout(r, 25 + random() * 50));
    }
  }

  if (!claim()) log.warn(component, `another wsgistat is sending the spool ${spool.dir} now; this run's records go in it for that run (or this one, once it is done)`);

  return {
    name: transport.name,
    async write(records: Rec[]) {
      if (records.length === 0) return;
      const lines = new Array<string>(records.length);
      for (let i = 0; i < records.length; i++) lines[i] = transport.encode(records[i]!);
      const p: Pending = { seq: spool.nextSeq(), count: lines.length, lines, spooled: false };
      queue.push(p);
      if (!owner) claim();
      // Waiting behind a failure, behind a full queue, or with no sender here: on disk at once.
      if (failing || !owner || queue.length > QUEUE_MAX) {
        try {
          if (queue.length > QUEUE_MAX) for (const q of queue) spoolOne(q);
          else spoolOne(p);
        } catch (e) {
          log.error(component, `cannot write the spool ${spool.dir} (${errText(e)})`);
        }
      }
      if (!owner) {
        // The holder sends it; ours is in the spool (or, if that failed, still in memory).
        for (const q of queue.splice(0)) {
          if (q.spooled) handedOver.set(q.id!, q.count);
          else queue.push(q);
        }
      }
      wake?.();
    },
    pending: () => queued() + waitingElsewhere(),
    counts: () => ({ ...counts }),
    idle() {
      return queue.length === 0 ? Promise.resolve() : new Promise((r) => idleWaiters.push(r));
    },
    abort() {
      aborted = true;
      closeDeadline = Date.now();
      sleeping?.done();
      cut?.();
    },
    async close(graceMs = opts.retryForMs) {
      closing = true;
      closeDeadline = aborted ? Date.now() : Date.now() + graceMs;
      if (!owner && handedOver.size > 0 && !aborted) await awaitLock();
      wake?.();
      if (queue.length > 0 && owner) {
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<void>((resolve) => {
          cut = () => {
            sleeping?.done();
            resolve();
          };
          timer = setTimeout(cut, Math.max(0, closeDeadline - Date.now()));
        });
        await Promise.race([running, deadline]);
        clearTimeout(timer);
      }
      spoolAll();
      finished = true;
      const waiting = queued() + (owner ? 0 : waitingElsewhere());
      if (waiting > 0) log.error(component, `${waiting} records not delivered; they wait in the spool ${spool.dir} for the next run`);
      spool.unlock();
      transport.close();
      return waiting + counts.deadLettered + counts.dropped;
    },
  };
}
