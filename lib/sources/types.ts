// The contract every source kind meets: given its spec, collect one sample.

import type { Address } from './endpoint.js';
import type { KeyOption } from '../options/engine.js';
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
  /** Options of the source's own kind, by key (SourceKind.options). */
  own?: Readonly<Record<string, unknown>>;
}

/** What the sources are asked to shape. */
export interface ShapeOptions {
  records: ReadonlySet<RecordType>;
  vars: VarsPolicy;
}

/** A server read as a part of another's sample (an Emperor's vassal): its records carry
 *  `vassal` and get rates of their own (pipeline.ts). */
export interface SamplePart {
  vassal: string;
  result: PromiseSettledResult<Sample>;
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
  /** The histograms' bucket upper bounds, µs, when not the hooks' layout (records/latency.ts). */
  histogramBounds?: readonly number[];
  /** The summary's counters are the server's own totals, dead workers' included (records/rates.ts). */
  ownTotals?: boolean;
  /** The vassals' own samples, for an Emperor. */
  parts?: SamplePart[];
}

export interface Source {
  readonly spec: SourceSpec;
  /** The server kind this address is known to point at before reading, if any. */
  readonly server?: 'uwsgi' | 'gunicorn';
  /** Reads and shapes one sample; rejects with a SourceError on an expected failure. */
  collect(): Promise<Sample>;
  /** Lets go of what it keeps from one collect to the next (open files), when it is no longer
   *  read; a later collect starts afresh. */
  close?(): void;
}

/** One row of the README's address table: the forms, and what they read. */
export interface AddressDoc {
  forms: string;
  reads: string;
}

/** A source kind: the addresses it claims, its options and its factory. Registered by one line in
 *  sources/kinds.ts; config.ts, --help and the README know the kinds only through this. */
export interface SourceKind {
  readonly name: string;
  /** URL schemes it claims (`unix`, `gunicorn`); the text after them is its to parse. */
  readonly schemes: readonly string[];
  /** Parses an address with one of its schemes; throws an AddressProblem saying what is wrong. */
  parse(text: string, scheme: string): Address;
  /** Addresses without a scheme it claims (`/run/app.stats`, `127.0.0.1:1717`), or undefined. */
  bare?(text: string): Address | undefined;
  /** The short forms error messages list. */
  readonly forms: readonly string[];
  /** --help's lines: an example and what it reads. */
  readonly help: readonly (readonly [string, string])[];
  /** The README's rows. */
  readonly docs: readonly AddressDoc[];
  /** Options of its own, per source: a key in a source's object in the config file, no flag. */
  readonly options?: readonly KeyOption<any>[];
  /** Whether its server's listener is found without --listen (the backlog step). */
  readonly findsListener?: boolean;
  create(spec: SourceSpec, shape: ShapeOptions): Source;
}
