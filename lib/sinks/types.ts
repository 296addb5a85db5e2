// The contract every sink meets: take one tick's records, deliver them, close when done.

import type { Rec } from '../records/types.js';

export interface Sink {
  readonly name: string;
  /** Takes one tick's records; never waits for a slow receiver. */
  write(records: Rec[]): Promise<void>;
  /** Ends the run; a sink with a receiver keeps trying for up to `graceMs`, then spools the rest.
   *  Resolves with the number of records it could not deliver (they wait in its spool). */
  close(graceMs?: number): Promise<number>;
  /** A signal: cut close() short now (what is pending goes to the spool). */
  abort?(): void;
}
