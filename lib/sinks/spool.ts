// The on-disk spool of one sink: the batches a receiver has not taken yet, one file each, in
// order, and the dead-letter file of the batches it refused. Owner-only (directory 0700, files
// 0600), written whole (a temporary file, then a rename) so that a crash never leaves half a batch,
// bounded in size: when full, the oldest batches go, and the caller is told how many records.
//
// Synchronous on purpose: files are small, writes happen only while a receiver is away, and
// node:fs/promises would cost every start-up a few ms (see style.md).

import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface SpoolEntry {
  seq: number;
  count: number;
  bytes: number;
}

const FILE = /^(\d{16})-(\d+)\.ndjson$/;
const DEAD = 'dead-letter.jsonl';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Makes `dir` (and parents) owner-only, and refuses one that belongs to someone else. */
export function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = statSync(dir);
  if (process.getuid && st.uid !== process.getuid()) throw new Error(`${dir} belongs to another user`);
}

export class Spool {
  readonly dir: string;
  private readonly maxBytes: number;
  /** In order, oldest first; `index` finds them by sequence number. */
  private entries: SpoolEntry[] = [];
  private readonly index = new Map<number, SpoolEntry>();
  private total = 0;
  private last = 0;
  private locked = false;

  constructor(dir: string, maxBytes: number) {
    this.dir = dir;
    this.maxBytes = maxBytes;
    privateDir(dir);
    for (const name of readdirSync(dir)) {
      const m = FILE.exec(name);
      if (m) {
        const entry = { seq: Number(m[1]), count: Number(m[2]), bytes: statSync(join(dir, name)).size };
        this.entries.push(entry);
        this.index.set(entry.seq, entry);
        this.total += entry.bytes;
      } else if (name.endsWith('.tmp')) {
        // Left by a process that died while writing: its batch was never in the spool.
        const pid = Number(name.split('.').at(-2));
        if (!alive(pid)) rmSync(join(dir, name), { force: true });
      }
    }
    this.entries.sort((a, b) => a.seq - b.seq);
    this.last = this.entries.at(-1)?.seq ?? 0;
  }

  /** A sequence number after every batch ever spooled here, in time order across runs. */
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

  has(seq: number): boolean {
    return this.index.has(seq);
  }

  private path(e: { seq: number; count: number }): string {
    return join(this.dir, `${String(e.seq).padStart(16, '0')}-${e.count}.ndjson`);
  }

  /** Writes a batch; returns the records of the oldest batches dropped to stay within the size. */
  put(seq: number, lines: string[]): { droppedRecords: number; droppedBatches: number } {
    const text = lines.join('\n') + '\n';
    const bytes = Buffer.byteLength(text);
    const entry = { seq, count: lines.length, bytes };
    const tmp = join(this.dir, `.${seq}.${process.pid}.tmp`);
    writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, this.path(entry));
    let i = this.entries.findIndex((e) => e.seq > seq);
    if (i === -1) i = this.entries.length;
    this.entries.splice(i, 0, entry);
    this.index.set(seq, entry);
    this.total += bytes;
    let droppedRecords = 0;
    let droppedBatches = 0;
    while (this.total > this.maxBytes && this.entries.length > 1 && this.entries[0]!.seq !== seq) {
      const old = this.entries[0]!;
      this.remove(old.seq);
      droppedRecords += old.count;
      droppedBatches++;
    }
    return { droppedRecords, droppedBatches };
  }

  /** The batch's lines; undefined if it is gone (dropped, or sent by another run). */
  read(seq: number): string[] | undefined {
    const e = this.index.get(seq);
    if (!e) return undefined;
    try {
      const text = readFileSync(this.path(e), 'utf8');
      return text.split('\n').filter((l) => l !== '');
    } catch {
      this.forget(seq);
      return undefined;
    }
  }

  private forget(seq: number): void {
    const e = this.index.get(seq);
    if (!e) return;
    this.index.delete(seq);
    this.total -= e.bytes;
    this.entries.splice(this.entries.indexOf(e), 1); // almost always the oldest: found at once
  }

  remove(seq: number): void {
    const e = this.index.get(seq);
    if (!e) return;
    rmSync(this.path(e), { force: true });
    this.forget(seq);
  }

  /** Appends a refused batch to the dead-letter file with why; a full file becomes .1 first. */
  deadLetter(sink: string, status: number, reason: string, lines: string[]): string {
    const path = join(this.dir, DEAD);
    const line = `{"time":${Date.now() / 1000},"sink":${JSON.stringify(sink)},"status":${status},"reason":${JSON.stringify(reason)},"records":[${lines.join(',')}]}\n`;
    if (existsSync(path) && statSync(path).size + line.length > this.maxBytes) renameSync(path, `${path}.1`);
    const fd = openSync(path, 'a', 0o600);
    try {
      writeSync(fd, line);
    } finally {
      closeSync(fd);
    }
    return path;
  }

  /** One sender per spool at a time: a second run at once only adds its batches. */
  lock(): boolean {
    const path = join(this.dir, 'lock');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(path, String(process.pid), { mode: 0o600, flag: 'wx' });
        this.locked = true;
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const pid = Number(readFileSync(path, 'utf8'));
        if (pid === process.pid || (Number.isInteger(pid) && pid > 0 && alive(pid))) return pid === process.pid;
        rmSync(path, { force: true });
      }
    }
    return false;
  }

  unlock(): void {
    if (this.locked) rmSync(join(this.dir, 'lock'), { force: true });
    this.locked = false;
  }
}
