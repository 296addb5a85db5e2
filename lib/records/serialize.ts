// Records to JSON lines, with the serializers precompiled from schemas.ts (see ../build.ts).

import { schemas } from './schemas.js';
import serializers from './serializers.cjs';
import type { Rec } from './types.js';

const known: Record<string, ReadonlySet<string>> = Object.fromEntries(
  Object.entries(schemas).map(([type, s]) => [type, new Set(Object.keys(s.properties))]),
);

/** One record as one line of JSON, newline included. */
export function toJsonLine(record: Rec): string {
  return toJson(record) + '\n';
}

/** One record as JSON. Fields the schema does not name (a newer uWSGI's, var_NAME) follow the
 *  schema's fields. */
export function toJson(record: Rec): string {
  const compiled = serializers[record.type];
  const names = known[record.type];
  if (compiled && names) {
    try {
      let json = compiled(record);
      let extra = '';
      for (const key in record) {
        const v = record[key];
        if (!names.has(key) && v !== undefined) extra += `,${JSON.stringify(key)}:${JSON.stringify(v)}`;
      }
      if (extra) json = json === '{}' ? `{${extra.slice(1)}}` : `${json.slice(0, -1)}${extra}}`;
      return json;
    } catch {
      // A field of an unexpected type (a string where uWSGI always sends a number, say) must not
      // lose the record: fall back to the generic serializer.
    }
  }
  return JSON.stringify(record);
}
