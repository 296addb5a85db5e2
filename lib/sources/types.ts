// The contract every source kind meets: given its spec, collect one sample.

import type { Address } from './address.js';
import type { Body, RecordType } from '../records/types.js';

/** Which request variables of a request in flight to emit (--vars). They hold cookies and
 *  Authorization headers of live requests, so the default is none. */
export type VarsPolicy = { kind: 'none' } | { kind: 'all' } | { kind: 'some'; names: ReadonlySet<string> };

/** Whether the policy asks for the request variable `name`. */
export function wantsVar(policy: VarsPolicy, name: string): boolean {
  return policy.kind === 'all' || (policy.kind === 'some' && policy.names.has(name));
}

export interface SourceSpec {
  address: Address;
  /** Optional name given as label=address; records carry it as `label`. */
  label?: string;
  timeoutMs: number;
  maxBytes: number;
  /** A TCP listener whose accept backlog to read from the kernel (--listen), or 'none': do not
   *  look for one. */
  listen?: { host: string; port: number } | 'none';
}

/** What the sources are asked to shape. */
export interface ShapeOptions {
  records: ReadonlySet<RecordType>;
  vars: VarsPolicy;
}

export interface Sample {
  server: 'uwsgi' | 'gunicorn';
  bodies: Body[];
  /** Things worth a warning that did not stop the read (a mode mix-up, a repaired document). */
  notices: string[];
  /** What a source knows of the server's listeners, for the backlog step (backlog-source.ts). */
  listener?: { pid: number; backlog?: number; unix: string[]; tcp: string[] };
  /** Latency histograms (gunicorn format-2 hooks), by worker id and 'summary', for rates. */
  histograms?: ReadonlyMap<string, readonly number[]>;
  /** The summary's counters are the server's own totals, dead workers' included (records/rates.ts). */
  ownTotals?: boolean;
}

export interface Source {
  readonly spec: SourceSpec;
  /** The server kind this address is known to point at before reading, if any. */
  readonly server?: 'uwsgi' | 'gunicorn';
  /** Reads and shapes one sample; rejects with a SourceError on an expected failure. */
  collect(): Promise<Sample>;
}
