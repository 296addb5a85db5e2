// Where records go (--output): each output is given to the kind that claims it (kinds.ts). Parsed
// and checked with the rest of the configuration, before anything is read or sent.

import { SINK_KINDS } from './kinds.js';
import type { DeliverySettings, OutputSpec, SinkKind } from './types.js';

export type { OutputSpec } from './types.js';
export type { HttpOutput, HeaderValue, TlsFiles } from './http-output.js';
export { spoolDirOf, parseHeader, resolveHeaders } from './http-output.js';
export { NORIKRA_TARGET } from './norikra.js';

const FORMS = SINK_KINDS.map((k) => k.forms).join(', ').replace(/, ([^,]*)$/, ' or $1');

export function kindOf(spec: OutputSpec): SinkKind {
  const kind = SINK_KINDS.find((k) => k.name === spec.kind);
  if (!kind) throw new Error(`no output kind ${spec.kind}`);
  return kind;
}

/** Parses one --output; throws an Error whose message says what was expected. */
export function parseOutput(text: string): OutputSpec {
  const kind = SINK_KINDS.find((k) => k.claims(text));
  if (!kind) throw new Error(`expected ${FORMS}, got ${JSON.stringify(text)}`);
  return kind.parse(text);
}

/** An output as --check prints it: header sources, never header values. */
export function describeOutput(o: OutputSpec, delivery: DeliverySettings): string | object {
  return kindOf(o).describe(o, delivery);
}
