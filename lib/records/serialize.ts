// Records to JSON lines, with the serializers precompiled from schemas.ts.

import serializers from './serializers.cjs';
import type { Rec } from './types.js';

/** One record as one line of JSON, newline included. */
export function toJsonLine(record: Rec): string {
  const compiled = serializers[record.type];
  if (compiled) {
    try {
      return compiled(record) + '\n';
    } catch {
      // A field of an unexpected type (a string where uWSGI always sends a number, say) must not
      // lose the record: fall back to the generic serializer.
    }
  }
  return JSON.stringify(record) + '\n';
}
