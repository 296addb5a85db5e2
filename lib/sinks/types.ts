// The contracts of the sinks: a sink takes one tick's records, delivers them and closes; a sink
// kind declares the outputs it claims, its options and its factory.

import type { Option } from '../options/engine.js';
import type { Rec } from '../records/types.js';

/** What a tick knows besides its records. */
export interface TickInfo {
  /** How long each source took to read, ms, by `label=address`. */
  readMs: ReadonlyMap<string, number>;
}

export interface Sink {
  readonly name: string;
  /** Takes one tick's records; never waits for a slow receiver. */
  write(records: Rec[], info?: TickInfo): Promise<void>;
  /** Ends the run; a sink with a receiver keeps trying for up to `graceMs`, then spools the rest.
   *  Resolves with the number of records it could not deliver (they wait in its spool). */
  close(graceMs?: number): Promise<number>;
  /** A signal: cut close() short now (what is pending goes to the spool). */
  abort?(): void;
}

/** One --output, parsed by its kind. */
export interface OutputSpec {
  /** The sink kind (sinks/kinds.ts). */
  kind: string;
  /** For diagnostics: the output without credentials. */
  name: string;
}

/** How outputs with a receiver deliver: the settings they share. */
export interface DeliverySettings {
  /** Time allowed for one request to a receiver. */
  sendTimeoutMs: number;
  /** One-shot runs: how long to keep retrying a receiver before leaving the rest in the spool. */
  retryForMs: number;
  /** Where each output keeps what it could not deliver yet (a directory per output). */
  spoolDir: string;
  spoolMaxBytes: number;
}

export interface SinkContext {
  delivery: DeliverySettings;
  /** The reader of stdout went away. */
  onStdoutClosed: () => void;
}

/** An option of an output kind, per output (a key in its object in the config file); its flag is
 *  for the one output of the kinds that take it. `apply` sets it on the spec; from the flag, it
 *  does not replace what the output's own object says. */
export type OutputOption<S, T = any> = Option<T> & { key: string; apply(spec: S, value: T, fromFlag: boolean): void };

/** One row of the README's output table. */
export interface OutputDoc {
  output: string;
  does: string;
}

export interface SinkKind<S extends OutputSpec = any> {
  readonly name: string;
  /** Whether this kind reads the output text (`stdout`, `http://...`). */
  claims(text: string): boolean;
  /** Parses an output it claims; throws an Error whose message says what was expected. */
  parse(text: string): S;
  /** The forms error messages list. */
  readonly forms: string;
  readonly docs: readonly OutputDoc[];
  readonly options?: readonly OutputOption<S>[];
  /** What its flags call an output of this kind in messages ("HTTP output"). */
  readonly noun?: string;
  /** Why it needs a continuous run, if it does. */
  readonly continuousOnly?: string;
  /** Whether it has a receiver, a spool and the delivery settings. */
  readonly delivers?: boolean;
  /** Checks made with the configuration, before anything runs (files readable, variables set). */
  check?(spec: S): void;
  /** The output as --check prints it: never a secret. */
  describe(spec: S, delivery: DeliverySettings): string | object;
  create(spec: S, ctx: SinkContext): Promise<Sink>;
}
