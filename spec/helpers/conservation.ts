// The conservation check of every delivery and fault spec: every record wsgistat produced is
// accounted for, by count and by content, as delivered (seen by the receiver, duplicates allowed:
// delivery is at least once), dead-lettered (in a dead-letter file) or reported dropped (a "spool
// full ... dropped the oldest N records" line on stderr), or still waiting in a spool. Never less.
// Records are identified by the at-least-once key of the README's Outputs section.

import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

type R = Record<string, unknown>;

/** The README's key: host, source, label, time (ms), type, and the id of records that share a type. */
export function recordKey(r: R): string {
  const time = Math.round((r.time as number) * 1000);
  return JSON.stringify([r.host, r.source, r.label ?? null, time, r.type, r.worker_id ?? null, r.core_id ?? null, r.app_id ?? null, r.name ?? null]);
}

/** Content without field order, `time` rounded to the millisecond (in_http stores it as a float). */
export function canonical(r: R): string {
  const c: R = { ...r, time: Math.round((r.time as number) * 1000) };
  return JSON.stringify(Object.fromEntries(Object.entries(c).sort(([a], [b]) => a.localeCompare(b))));
}

/** What the spool directories hold under `spoolDir`: records dead-lettered and records waiting. */
export function spoolContents(spoolDir: string): { deadLettered: R[]; waiting: R[]; setAsideLines: number } {
  const deadLettered: R[] = [];
  const waiting: R[] = [];
  let setAsideLines = 0;
  if (!existsSync(spoolDir)) return { deadLettered, waiting, setAsideLines };
  for (const d of readdirSync(spoolDir)) {
    const dir = join(spoolDir, d);
    for (const f of readdirSync(dir)) {
      const text = readFileSync(join(dir, f), 'utf8');
      if (f.startsWith('dead-letter.jsonl')) {
        for (const l of text.split('\n').filter(Boolean)) {
          const letter = JSON.parse(l) as { records?: R[]; lines?: string[] };
          deadLettered.push(...(letter.records ?? []));
          setAsideLines += letter.lines?.length ?? 0;
        }
      } else if (f.endsWith('.ndjson')) {
        for (const l of text.split('\n').filter(Boolean)) waiting.push(JSON.parse(l) as R);
      }
    }
  }
  return { deadLettered, waiting, setAsideLines };
}

/** The records stderr says were dropped from a full spool. */
export function reportedDropped(stderr: string): number {
  let n = 0;
  for (const m of stderr.matchAll(/dropped the oldest (\d+) records/g)) n += Number(m[1]);
  return n;
}

export interface Ledger {
  produced: number;
  delivered: number;
  duplicates: number;
  deadLettered: number;
  waiting: number;
  dropped: number;
  missing: number;
}

/** Checks produced ⊆ delivered ∪ dead-lettered ∪ waiting, by content, and that the records missing
 *  from all three are no more than stderr reported dropped. Returns the figures. */
export function conserve(produced: R[], delivered: R[], spoolDir: string, stderr: string): Ledger {
  const { deadLettered, waiting } = spoolContents(spoolDir);
  const where = new Map<string, string>();
  for (const r of delivered) where.set(recordKey(r), canonical(r));
  for (const r of [...deadLettered, ...waiting]) if (!where.has(recordKey(r))) where.set(recordKey(r), canonical(r));
  let missing = 0;
  for (const r of produced) {
    const got = where.get(recordKey(r));
    if (got === undefined) missing++;
    else expect(got, `the content of ${recordKey(r)}`).to.equal(canonical(r));
  }
  const dropped = reportedDropped(stderr);
  const ledger = {
    produced: produced.length,
    delivered: new Set(delivered.map(recordKey)).size,
    duplicates: delivered.length - new Set(delivered.map(recordKey)).size,
    deadLettered: deadLettered.length,
    waiting: waiting.length,
    dropped,
    missing,
  };
  expect(missing, `records lost without a word: ${JSON.stringify(ledger)}`).to.be.at.most(dropped);
  return ledger;
}
