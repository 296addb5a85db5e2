// Delivery to a receiver that can be down, slow or restarting, losing nothing (issue #5): each
// tick's records become one batch in a backlog (backlog.ts: memory, then the spool, oldest first),
// and one sender per sink (sender.ts) sends it, judges the answer and backs off. `write` never waits
// for the network, so a slow receiver never delays another sink or the next tick.
//
// close(): one-shot runs keep trying for --retry-for, SIGTERM gives the batch in flight a moment;
// whatever is still pending then goes to the spool for the next run. A run without the spool's
// lock (another run sends it) waits for it up to the same time, then sends what is left itself.
// Delivery is at least once.

import type { Rec } from '../records/types.js';
import { Backlog, type DeliveryCounts } from './backlog.js';
import { Sender, systemClock, type Receiver } from './sender.js';
import type { Spool } from './spool.js';
import type { Sink } from './types.js';

export { QUEUE_MAX, type DeliveryCounts } from './backlog.js';
export type { Outcome } from './sender.js';

export interface Transport extends Receiver {
  /** The sink's name in diagnostics (no credentials). */
  readonly name: string;
  /** One record as this receiver wants it, as one JSON text. */
  encode(record: Rec): string;
  close(): void;
}

export interface DeliveryOptions {
  spool: Spool;
  /** One-shot runs: how long close() keeps trying before leaving the rest to the next run. */
  retryForMs: number;
  /** Injectable for the specs. */
  random?: () => number;
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

/** The line, flat in memory. A serializer builds its JSON by concatenation, which V8 keeps as a
 *  rope (a tree of the record's pieces, some 70 strings) until something reads the whole string;
 *  the lines of a batch wait in the backlog for the send and its ack, and so did their ropes: three
 *  10,000-record batches of them outlive the young generation, and the garbage collector took more
 *  time copying them than the forward output took encoding (bench/forward.ts). Converting the
 *  line to a number reads it whole, which flattens it in place (V8's String::Flatten; the number
 *  is NaN at the `{` and not used): the pieces die young. */
function flat(line: string): string {
  // Stored, so that no compiler drops the conversion as unused.
  flattened.n = Number(line);
  return line;
}
const flattened = { n: 0 };

export function deliverySink(transport: Transport, opts: DeliveryOptions): DeliverySink {
  const backlog = new Backlog(opts.spool, transport.name, () => sender.start());
  const sender = new Sender(backlog, transport, systemClock(opts.random), `sink ${transport.name}`);
  backlog.open();
  return {
    name: transport.name,
    async write(records: Rec[]) {
      if (records.length === 0) return;
      const lines = new Array<string>(records.length);
      for (let i = 0; i < records.length; i++) lines[i] = flat(transport.encode(records[i]!));
      backlog.accept(lines);
      sender.wake();
    },
    pending: () => backlog.pending(),
    counts: () => ({ ...backlog.counts }),
    idle: () => sender.idle(),
    abort: () => sender.abort(),
    async close(graceMs = opts.retryForMs) {
      await sender.close(graceMs);
      const undelivered = backlog.close();
      transport.close();
      return undelivered;
    },
  };
}
