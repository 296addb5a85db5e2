// Records to JSON lines, with the serializers precompiled from schemas.ts (see ../build.ts).

import { COMMON_FIELDS } from './counters.js';
import fields from './fields.cjs';
import serializers from './serializers.cjs';
import type { Rec } from './types.js';

const known: Record<string, ReadonlySet<string>> = Object.fromEntries(
  Object.entries(fields).map(([type, names]) => [type, new Set(names)]),
);

/** One record as one line of JSON, newline included. */
export function toJsonLine(record: Rec): string {
  return toJson(record) + '\n';
}

/** The extra keys (not in the schema) of the last record of each type, by its key list: records a
 *  source shapes in one go have the same keys in the same order, so one comparison of the key
 *  lists replaces a schema lookup per field per record (18,000 records in a 1,000-worker tick). */
const lastKeys = new Map<string, { keys: string[]; extra: string[] }>();

function extraKeys(record: Rec, names: ReadonlySet<string>): string[] {
  const keys = Object.keys(record);
  const last = lastKeys.get(record.type);
  if (last && last.keys.length === keys.length) {
    let same = true;
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] !== last.keys[i]) {
        same = false;
        break;
      }
    }
    if (same) return last.extra;
  }
  const extra = keys.filter((k) => !names.has(k));
  lastKeys.set(record.type, { keys, extra });
  return extra;
}

/** The common fields of the last record written, and their JSON: `{"time":…,"type":"core"`. A
 *  tick's records of one source share them all but `type`, so each run of records of one type
 *  (16,000 cores in a row on a large uWSGI) writes them once, not once per record. */
let last: { time: unknown; host: unknown; source: unknown; label: unknown; vassal: unknown; server: unknown; type: unknown; head: string } | undefined;

/** The record's common fields as the opening of its JSON, or undefined when one is not of its
 *  schema's type (the record then goes to the generic serializer). */
function head(r: Rec): string | undefined {
  const l = last;
  if (l && r.time === l.time && r.host === l.host && r.source === l.source && r.label === l.label && r.vassal === l.vassal && r.server === l.server && r.type === l.type) return l.head;
  let text = '';
  for (const k of COMMON_FIELDS) {
    const v = r[k];
    if (v === undefined) continue;
    if (k === 'time' ? typeof v !== 'number' || !Number.isFinite(v) : typeof v !== 'string') return undefined;
    text += `,"${k}":${JSON.stringify(v)}`;
  }
  const opened = `{${text.slice(1)}`;
  last = { time: r.time, host: r.host, source: r.source, label: r.label, vassal: r.vassal, server: r.server, type: r.type, head: opened };
  return opened;
}

/** One record as JSON. Fields the schema does not name (a newer uWSGI's, var_NAME) follow the
 *  schema's fields. */
export function toJson(record: Rec): string {
  const compiled = serializers[record.type];
  const names = known[record.type];
  const opened = names ? head(record) : undefined;
  if (compiled && names && opened !== undefined) {
    try {
      // The schema's other fields: "{}" or "{...}".
      const body = compiled(record);
      let json = body === '{}' ? `${opened}}` : opened === '{' ? body : `${opened},${body.slice(1)}`;
      let extra = '';
      for (const key of extraKeys(record, names)) {
        const v = record[key];
        if (v !== undefined) extra += `,${JSON.stringify(key)}:${JSON.stringify(v)}`;
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
