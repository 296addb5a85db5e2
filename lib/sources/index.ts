// The sources: a source spec is given to the factory of its kind (kinds.ts); the backlog step
// wraps the sources whose listener is named or can be found.

import type { ShapeOptions, Source, SourceSpec } from './types.js';
import { SOURCE_KINDS } from './kinds.js';
import { withBacklog } from './backlog-source.js';

export function createSource(spec: SourceSpec, shape: ShapeOptions): Source {
  const kind = SOURCE_KINDS.find((k) => k.name === spec.address.kind);
  if (!kind) throw new Error(`no source kind ${spec.address.kind}`);
  const source = kind.create(spec, shape);
  if (spec.listen === 'none') return source;
  return spec.listen || kind.findsListener ? withBacklog(source) : source;
}

/** What a source's previous sample is kept under (state file, rates): its label and address. */
export const sourceKey = (spec: SourceSpec): string => `${spec.label ?? ''}=${spec.address.text}`;

export { parseAddress } from './address.js';
export { SOURCE_KINDS } from './kinds.js';
export { SOURCE_OPTIONS, TIMEOUT, MAX_BYTES, LISTEN } from './options.js';
export type { Source, SourceSpec, Sample, ShapeOptions, SourceKind } from './types.js';
