// The contract every sink meets: take one tick's records, deliver them, close when done.

import type { Rec } from '../records/types.js';

export interface Sink {
  readonly name: string;
  write(records: Rec[]): Promise<void>;
  close(): Promise<void>;
}
