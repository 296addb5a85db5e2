// The sinks: each output is made by its kind (kinds.ts). The kinds with a receiver load their code
// (and got) only when such an output is configured, so the stdout path starts as fast as before.

import { kindOf } from './outputs.js';
import type { OutputSpec, Sink, SinkContext } from './types.js';

export async function createSinks(outputs: readonly OutputSpec[], ctx: SinkContext): Promise<Sink[]> {
  const sinks: Sink[] = [];
  for (const out of outputs) sinks.push(await kindOf(out).create(out, ctx));
  return sinks;
}

export { SINK_KINDS } from './kinds.js';
export type { DeliverySettings, OutputOption, OutputSpec, Sink, SinkContext, SinkKind } from './types.js';
