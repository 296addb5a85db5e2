// The backlog of one delivering sink: the batches its receiver has not taken yet, oldest first, in
// memory while the receiver keeps up (at most QUEUE_MAX batches) and in the spool (spool.ts) from
// its first failure on, so that a crash or kill -9 loses at most the batch in flight and memory
// stays flat however long the receiver is away.
//
// Runs that share a spool: one holds its lock and sends; the others hand their batches over by
// putting them in it, and the holder adopts them whenever it runs out of work. Every record is
// accounted for: delivered, dead-lettered (refused, or damaged in the spool), dropped (spool full,
// or a dead-letter file that cannot be written), or waiting in the spool.

import * as log from '../log.js';
import type { Spool } from './spool.js';

export const QUEUE_MAX = 64;
/** One request carries at most this much of a backlog. */
const POST_MAX_RECORDS = 5000;
const POST_MAX_BYTES = 4 * 1024 * 1024;

/** What became of the records this sink was given (and of those it found in the spool). */
export interface DeliveryCounts {
  delivered: number;
  deadLettered: number;
  dropped: number;
}

interface Batch {
  seq: number;
  /** The spool's name of it, once spooled. */
  id?: string;
  count: number;
  /** In memory until spooled; undefined: read it back from the spool. */
  lines?: string[];
  spooled: boolean;
}

/** The oldest batches that go in one request, and their lines. */
export interface Request {
  readonly batches: readonly Batch[];
  readonly lines: string[];
}

const errText = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;
const sum = (ns: Iterable<number>) => {
  let n = 0;
  for (const x of ns) n += x;
  return n;
};

export class Backlog {
  readonly counts: DeliveryCounts = { delivered: 0, deadLettered: 0, dropped: 0 };
  private readonly queue: Batch[] = [];
  /** Batches this run put in the spool while another run held its lock. */
  private readonly handedOver = new Map<string, number>();
  private holder = false;
  /** From a failure until the next delivery every batch goes to the spool at once. */
  private onDisk = false;
  /** After a refusal, one batch per request, so that only the bad batch is set aside. */
  private single = false;
  private readonly component: `sink ${string}`;

  /** `name` is the sink's (spool reads and the dead-letter file name it); `onHolder` is called once,
   *  when this run takes the spool's lock: the sender starts then. */
  constructor(private readonly spool: Spool, private readonly name: string, private readonly onHolder: () => void) {
    this.component = `sink ${name}`;
  }

  get dir(): string {
    return this.spool.dir;
  }

  /** Whether this run holds the spool's lock (and so sends). */
  get owner(): boolean {
    return this.holder;
  }

  /** Batches queued in this run (memory or spool). */
  get size(): number {
    return this.queue.length;
  }

  /** Records queued in this run. */
  queued(): number {
    return this.queue.reduce((n, b) => n + b.count, 0);
  }

  /** Records this run handed over that are still in the spool (the holder has not sent them). */
  waitingElsewhere(): number {
    return sum([...this.handedOver].map(([id, c]) => (this.spool.onDisk(id) ? c : 0)));
  }

  /** Whether this run, not the holder, handed batches over to the holder's sender. */
  get waitsOnHolder(): boolean {
    return !this.holder && this.handedOver.size > 0;
  }

  /** Records not delivered yet (memory and spool). */
  pending(): number {
    return this.queued() + this.waitingElsewhere();
  }

  /** At start: takes the spool's lock, or says that another run sends it. */
  open(): void {
    if (!this.claim()) log.warn(this.component, `another wsgistat is sending the spool ${this.spool.dir} now; this run's records go in it for that run (or this one, once it is done)`);
  }

  /** Takes the spool's lock if its holder is gone; then queues everything in it. */
  claim(): boolean {
    if (this.holder) return true;
    try {
      this.holder = this.spool.lock();
    } catch (e) {
      log.error(this.component, `cannot take the lock of the spool ${this.spool.dir} (${errText(e)})`);
    }
    if (!this.holder) return false;
    this.adopt();
    for (const id of this.handedOver.keys()) if (!this.spool.has(id)) this.handedOver.delete(id);
    // Counts the batch being accepted too, when accept() is what took the lock (as it always did).
    const theirs = this.queued() - sum(this.handedOver.values());
    if (theirs > 0) log.warn(this.component, `${theirs} records from earlier runs wait in the spool ${this.spool.dir}; sending them first`);
    this.handedOver.clear();
    this.onHolder();
    return true;
  }

  /** Queues one tick's encoded records: on disk at once behind a failure, behind a full queue, or
   *  with no sender here (then handed over to the holder). */
  accept(lines: string[]): void {
    const b: Batch = { seq: this.spool.nextSeq(), count: lines.length, lines, spooled: false };
    this.queue.push(b);
    if (!this.holder) this.claim();
    if (this.onDisk || !this.holder || this.queue.length > QUEUE_MAX) {
      try {
        if (this.queue.length > QUEUE_MAX) for (const q of this.queue) this.spoolOne(q);
        else this.spoolOne(b);
      } catch (e) {
        log.error(this.component, `cannot write the spool ${this.spool.dir} (${errText(e)})`);
      }
    }
    // The holder sends it; ours is in the spool (or, if that failed, still in memory).
    if (!this.holder) {
      for (const q of this.queue.splice(0)) {
        if (q.spooled) this.handedOver.set(q.id!, q.count);
        else this.queue.push(q);
      }
    }
  }

  /** The oldest request's worth, undefined when there is nothing to send. Batches gone from the
   *  spool are forgotten; a batch whose every line was damaged is set aside and skipped. When this
   *  run's batches are out, other runs' spooled batches are adopted. */
  take(): Request | undefined {
    for (;;) {
      this.dropGone();
      if (this.queue.length === 0) this.adopt();
      if (this.queue.length === 0) return undefined;
      const req = this.nextRequest();
      if (req.batches.length === 0) continue;
      if (req.lines.length > 0) return req;
      this.remove(req.batches); // every line was damaged, and is set aside
    }
  }

  /** The receiver took the request. */
  settle(req: Request): void {
    this.remove(req.batches);
    this.counts.delivered += req.lines.length;
    this.single = false;
    this.onDisk = false;
  }

  /** The receiver refused the request as bad: a request of several batches is split to find the
   *  one it refuses; a single batch goes to the dead-letter file with the status and reason. */
  reject(req: Request, status: number, reason: string): void {
    if (req.batches.length > 1) {
      this.single = true;
      return;
    }
    const { lines } = req;
    this.remove(req.batches);
    this.single = false;
    let where = '';
    try {
      where = ` to ${this.spool.deadLetter(this.name, status, reason, lines)}`;
      this.counts.deadLettered += lines.length;
    } catch (e) {
      this.counts.dropped += lines.length;
      where = `, and writing the dead-letter file failed too (${errText(e)}); they are lost`;
    }
    log.error(this.component, `the receiver refused a batch of ${lines.length} records (${status}: ${reason}); not retried, written${where}`);
  }

  /** The receiver is away: everything waiting goes to the spool, and so does every batch accepted
   *  until the next delivery. */
  failed(): void {
    this.onDisk = true;
    this.persist();
  }

  /** Everything waiting goes to the spool now. */
  persist(): void {
    try {
      for (const b of this.queue) this.spoolOne(b);
    } catch (e) {
      log.error(this.component, `cannot write the spool ${this.spool.dir} (${errText(e)}); ${this.queue.reduce((n, b) => n + (b.spooled ? 0 : b.count), 0)} records are only in memory`);
    }
  }

  /** Ends the run: spools what is left, says so, gives the lock up; returns how many records did
   *  not reach the receiver in this run (waiting in the spool, dead-lettered or dropped). */
  close(): number {
    this.persist();
    const waiting = this.queued() + (this.holder ? 0 : this.waitingElsewhere());
    if (waiting > 0) log.error(this.component, `${waiting} records not delivered; they wait in the spool ${this.spool.dir} for the next run`);
    this.spool.unlock();
    return waiting + this.counts.deadLettered + this.counts.dropped;
  }

  /** Queues the spooled batches this run does not know of yet (other runs', earlier runs'). */
  private adopt(): void {
    this.spool.rescan();
    const known = new Set(this.queue.map((b) => b.id));
    for (const e of this.spool.list()) if (!known.has(e.id)) this.queue.push({ seq: e.seq, id: e.id, count: e.count, spooled: true });
    this.queue.sort((a, b) => a.seq - b.seq || ((a.id ?? '') < (b.id ?? '') ? -1 : 1));
  }

  /** Forgets the batches the spool no longer has: dropped when it was full, or sent by another run. */
  private dropGone(): void {
    let j = 0;
    for (const b of this.queue) if (!b.spooled || this.spool.has(b.id!)) this.queue[j++] = b;
    this.queue.length = j;
  }

  private spoolOne(b: Batch): void {
    if (b.spooled || !b.lines) return;
    const r = this.spool.put(b.seq, b.lines);
    b.seq = r.seq;
    b.id = r.id;
    b.spooled = true;
    b.lines = undefined;
    if (r.droppedRecords > 0) {
      this.counts.dropped += r.droppedRecords;
      this.dropGone();
      log.error(this.component, `spool full (${this.spool.dir}): dropped the oldest ${r.droppedRecords} records (${r.droppedBatches} batches) to keep the newest; raise --spool-max or bring the receiver back`);
    }
  }

  /** The lines of a queued batch; damaged spooled lines are set aside and counted. */
  private linesOf(b: Batch): string[] | undefined {
    if (b.lines) return b.lines;
    const r = this.spool.read(b.id!, this.name);
    if (!r) return undefined;
    if (r.corrupt > 0) {
      this.counts.deadLettered += r.corrupt;
      log.error(this.component, r.problem ?? `${r.corrupt} damaged records in the spool batch ${b.id} are not sent; set aside in ${this.spool.dir}/dead-letter.jsonl`);
    }
    b.count = r.lines.length;
    return r.lines;
  }

  /** The oldest batches within the request caps (one batch only after a refusal). */
  private nextRequest(): Request {
    const batches: Batch[] = [];
    const lines: string[] = [];
    let bytes = 0;
    for (const b of this.queue) {
      if (batches.length > 0 && (this.single || lines.length + b.count > POST_MAX_RECORDS || bytes > POST_MAX_BYTES)) break;
      const l = this.linesOf(b);
      if (!l) continue; // gone from the spool: dropGone() forgets it
      batches.push(b);
      for (const x of l) {
        lines.push(x);
        bytes += x.length;
      }
    }
    return { batches, lines };
  }

  private remove(batches: readonly Batch[]): void {
    for (const b of batches) {
      const i = this.queue.indexOf(b);
      if (i !== -1) this.queue.splice(i, 1);
      if (b.spooled) this.spool.remove(b.id!);
    }
  }
}
