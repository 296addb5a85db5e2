// The on-disk spool of one sink: the batches a receiver has not taken yet, one file each, in
// order, and the dead-letter file of the batches it refused. Owner-only (directory 0700 and every
// directory on the way checked, files 0600, never through a symlink: lib/fsafe.ts), written whole
// (a private temporary file, then a link that never replaces another run's batch), bounded in size:
// when full, the oldest batches go, and the caller is told how many records.
//
// Any number of runs may share a spool at once: each adds its batches under its own names; one at
// a time (the lock holder, recognised by pid and process start time) sends them.
//
// Synchronous on purpose: files are small, writes happen only while a receiver is away, and
// node:fs/promises would cost every start-up a few ms (see style.md).

import { readdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { appendPrivate, leftByDeadProcess, moveNoReplace, readPrivate, safeDir, tryLock, unlinkQuiet, unlock, writeNew } from '../fsafe.js';

export interface SpoolEntry {
  /** The file's name: unique, even when two runs picked the same sequence number. */
  id: string;
  seq: number;
  count: number;
  bytes: number;
}

const FILE = /^(\d{16})-(\d+)\.ndjson$/;
const DEAD = 'dead-letter.jsonl';

/** A batch read back: the lines to send, and those that were not a JSON object (set aside). */
export interface SpoolRead {
  lines: string[];
  /** Records set aside: lines that are not a JSON object, or the whole batch if unreadable. */
  corrupt: number;
  /** Why the batch could not be read at all. */
  problem?: string;
}

/** A line in_http and Norikra take: one JSON object. Anything else would make the whole request
 *  invalid JSON, which Fluentd's in_http answers with 200 and drops (measured on Fluentd 1.15). */
function isRecordLine(line: string): boolean {
  if (line[0] !== '{') return false;
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}

export class Spool {
  readonly dir: string;
  private readonly maxBytes: number;
  /** In order, oldest first; `index` finds them by id. */
  private entries: SpoolEntry[] = [];
  private readonly index = new Map<string, SpoolEntry>();
  private total = 0;
  private last = 0;
  private locked = false;

  constructor(dir: string, maxBytes: number) {
    this.dir = dir;
    this.maxBytes = maxBytes;
    safeDir(dir);
    this.rescan();
  }

  /** Adds the batches other runs spooled since; returns how many are new. */
  rescan(): number {
    const found: SpoolEntry[] = [];
    for (const name of readdirSync(this.dir)) {
      const m = FILE.exec(name);
      if (m) {
        const seq = Number(m[1]);
        if (this.index.has(name)) continue;
        let bytes: number;
        try {
          bytes = statSync(join(this.dir, name)).size;
        } catch {
          continue; // sent by another run between readdir and stat
        }
        found.push({ id: name, seq, count: Number(m[2]), bytes });
      } else if (name.endsWith('.tmp') && leftByDeadProcess(name)) {
        // Left by a process that died while writing: its batch was never in the spool.
        unlinkQuiet(join(this.dir, name));
      }
    }
    for (const e of found) this.insert(e);
    this.last = Math.max(this.last, this.entries.at(-1)?.seq ?? 0);
    return found.length;
  }

  private insert(entry: SpoolEntry): void {
    let i = this.entries.findIndex((e) => e.seq > entry.seq || (e.seq === entry.seq && e.id > entry.id));
    if (i === -1) i = this.entries.length;
    this.entries.splice(i, 0, entry);
    this.index.set(entry.id, entry);
    this.total += entry.bytes;
  }

  /** A sequence number after every batch this run knows of, in time order across runs (two runs
   *  may pick the same one: put() then takes the next free one). */
  nextSeq(): number {
    this.last = Math.max(this.last + 1, Date.now() * 1000);
    return this.last;
  }

  list(): readonly SpoolEntry[] {
    return this.entries;
  }

  get records(): number {
    return this.entries.reduce((n, e) => n + e.count, 0);
  }

  has(id: string): boolean {
    return this.index.has(id);
  }

  /** Whether the batch is still on disk (another run may have sent it); forgets it if not. */
  onDisk(id: string): boolean {
    const e = this.index.get(id);
    if (!e) return false;
    try {
      statSync(this.path(e));
      return true;
    } catch {
      this.forget(id);
      return false;
    }
  }

  private path(e: { id: string }): string {
    return join(this.dir, e.id);
  }

  private static nameOf(seq: number, count: number): string {
    return `${String(seq).padStart(16, '0')}-${count}.ndjson`;
  }

  /** Writes a batch under `seq`, or the next free number if another run took it with a batch of
   *  the same size (one of another size has another name); returns its id, the number it got and the records of the oldest batches dropped to stay within the size. */
  put(seq: number, lines: string[]): { id: string; seq: number; droppedRecords: number; droppedBatches: number } {
    const text = lines.join('\n') + '\n';
    const bytes = Buffer.byteLength(text);
    const tmp = writeNew(this.dir, 'batch', text);
    let id = Spool.nameOf(seq, lines.length);
    while (!moveNoReplace(tmp, join(this.dir, id))) id = Spool.nameOf(++seq, lines.length);
    this.last = Math.max(this.last, seq);
    this.insert({ id, seq, count: lines.length, bytes });
    let droppedRecords = 0;
    let droppedBatches = 0;
    while (this.total > this.maxBytes && this.entries.length > 1 && this.entries[0]!.id !== id) {
      const old = this.entries[0]!;
      this.remove(old.id);
      droppedRecords += old.count;
      droppedBatches++;
    }
    return { id, seq, droppedRecords, droppedBatches };
  }

  /** The batch's lines, bounded by the spool's size; lines that are not a JSON object go to the
   *  dead-letter file with why (`sink` names the output); a file that cannot be read is set aside
   *  whole. undefined if it is gone (dropped, or sent by another run). */
  read(id: string, sink = 'spool'): SpoolRead | undefined {
    const e = this.index.get(id);
    if (!e) return undefined;
    const path = this.path(e);
    let text: string | undefined;
    try {
      text = readPrivate(path, this.maxBytes);
    } catch (err) {
      try {
        renameSync(path, `${path}.unreadable`);
      } catch {
        // gone meanwhile
      }
      this.forget(id);
      const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      return { lines: [], corrupt: e.count, problem: `spool file ${path} cannot be read (${why}); set aside as ${path}.unreadable` };
    }
    if (text === undefined) {
      this.forget(id);
      return undefined;
    }
    const lines: string[] = [];
    const bad: string[] = [];
    for (const l of text.split('\n')) if (l !== '') (isRecordLine(l) ? lines : bad).push(l);
    if (bad.length > 0) this.setAside(sink, `spool file ${path.slice(this.dir.length + 1)}: ${bad.length} of ${bad.length + lines.length} lines are not a JSON object`, bad);
    return { lines, corrupt: bad.length };
  }

  private forget(id: string): void {
    const e = this.index.get(id);
    if (!e) return;
    this.index.delete(id);
    this.total -= e.bytes;
    this.entries.splice(this.entries.indexOf(e), 1); // almost always the oldest: found at once
  }

  remove(id: string): void {
    const e = this.index.get(id);
    if (!e) return;
    unlinkQuiet(this.path(e));
    this.forget(id);
  }

  private append(line: string): string {
    const path = join(this.dir, DEAD);
    let size = 0;
    try {
      size = statSync(path).size;
    } catch {
      // none yet
    }
    if (size > 0 && size + line.length > this.maxBytes) renameSync(path, `${path}.1`);
    appendPrivate(path, line);
    return path;
  }

  /** Appends a refused batch to the dead-letter file with why; a full file becomes .1 first. */
  deadLetter(sink: string, status: number, reason: string, lines: string[]): string {
    return this.append(`{"time":${Date.now() / 1000},"sink":${JSON.stringify(sink)},"status":${status},"reason":${JSON.stringify(reason)},"records":[${lines.join(',')}]}\n`);
  }

  /** Lines that were damaged in the spool: kept as text in the dead-letter file (status 0). */
  setAside(sink: string, reason: string, lines: string[]): string {
    return this.append(`{"time":${Date.now() / 1000},"sink":${JSON.stringify(sink)},"status":0,"reason":${JSON.stringify(reason)},"lines":${JSON.stringify(lines)}}\n`);
  }

  /** One sender per spool at a time: another run at once only adds its batches. */
  lock(): boolean {
    if (!this.locked) this.locked = tryLock(join(this.dir, 'lock'));
    return this.locked;
  }

  unlock(): void {
    if (this.locked) unlock(join(this.dir, 'lock'));
    this.locked = false;
  }
}
