// The source registry: which unit reads which address. A new source kind is one more line here.

import type { ShapeOptions, Source, SourceSpec } from './types.js';
import { fileSource } from './file.js';
import { gunicornSource } from './gunicorn/index.js';
import { uwsgiSocketSource } from './uwsgi/index.js';
import { withBacklog } from './backlog-source.js';

function sourceFor(spec: SourceSpec, shape: ShapeOptions): Source {
  switch (spec.address.mode) {
    case 'file':
      return fileSource(spec, shape);
    case 'gunicorn':
      return gunicornSource(spec, shape);
    case 'raw':
    case 'http':
      return uwsgiSocketSource(spec, shape);
  }
}

export function createSource(spec: SourceSpec, shape: ShapeOptions): Source {
  const source = sourceFor(spec, shape);
  if (spec.listen === 'none') return source;
  return spec.listen || spec.address.mode === 'gunicorn' ? withBacklog(source) : source;
}

/** What a source's previous sample is kept under (state file, rates): its label and address. */
export const sourceKey = (spec: SourceSpec): string => `${spec.label ?? ''}=${spec.address.text}`;

export type { Source, SourceSpec, Sample, ShapeOptions } from './types.js';
