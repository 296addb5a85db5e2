// Bounded reads of local files, for every source that reads one (file:, gunicorn:, /proc) and
// every file an output reads (header values, TLS files).
//
// The size a file claims is not trusted: /proc files say 0, a file can grow while it is read,
// /dev/zero has no end, and a FIFO has no size and can block forever. So a read opens without
// blocking (a FIFO with no writer must not hang the open), looks at what the descriptor is (not the
// path, which can be swapped under us), takes a regular file or a FIFO/pipe and refuses anything
// else saying what it is, and counts bytes as they arrive: never more than maxBytes + 1 is held,
// and never longer than timeoutMs is spent. With noFollow, a symlink is refused, not opened: for
// entries found by listing a directory that someone else may be able to write.

import { closeSync, constants, fstatSync, lstatSync, open, read, close, openSync, readSync, statSync, type Stats } from 'node:fs';
import { SourceError, fromSystemError } from './errors.js';

export interface ReadLimits {
  maxBytes: number;
  timeoutMs: number;
}

export interface ReadOptions {
  maxBytes: number;
  /** Refuse a symlink as the last component of the path instead of opening what it points to. */
  noFollow?: boolean;
  /** A further check of the opened file (owner, mode): a reason to refuse it, or undefined. */
  check?: (st: Stats) => string | undefined;
}

/** What a file that is not a regular one is, for messages. */
export function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSymbolicLink()) return 'a symlink';
  return st.isFile() ? 'a regular file' : 'not a regular file';
}

const flags = (noFollow?: boolean) =>
  constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | (noFollow ? constants.O_NOFOLLOW : 0);

function openError(err: NodeJS.ErrnoException, where: string, noFollow?: boolean): SourceError {
  if (err.code === 'ELOOP' && noFollow) return new SourceError('not_a_file', `${where} is a symlink; not followed`, { cause: err });
  if (err.code === 'ENXIO') return new SourceError('not_a_file', `${where} is a socket, not a file (read a uWSGI stats socket as unix://PATH)`, { cause: err });
  return fromSystemError(err, where);
}

function refusal(st: Stats, where: string, opts: ReadOptions, fifoOk: boolean): SourceError | undefined {
  if (!st.isFile() && !(fifoOk && st.isFIFO())) {
    return new SourceError('not_a_file', `${where} is ${fileKind(st)}, not a regular file; not read`);
  }
  const reason = opts.check?.(st);
  return reason ? new SourceError('not_a_file', `${where} ${reason}; not read`) : undefined;
}

const tooLarge = (where: string, max: number) =>
  new SourceError('too_large', `${where} holds more than the size cap of ${max} bytes (raise --max-bytes)`);

/** Reads the open regular file `fd` from its start, at most maxBytes of it. The buffer is sized
 *  from fstat (a record of 2 KiB takes 2 KiB, not 64), and a file read whole into it is returned
 *  in it; a file that says 0 (/proc) or grows while it is read is taken in 16 KiB reads (each
 *  copied out, so none is held twice). */
function readFromStart(fd: number, size: number, where: string, maxBytes: number): Buffer {
  const buf = Buffer.allocUnsafe(Math.min(maxBytes + 1, size > 0 ? size + 1 : 16 * 1024, 64 * 1024));
  const parts: Buffer[] = [];
  let total = 0;
  for (;;) {
    const want = Math.min(buf.length, maxBytes + 1 - total);
    const n = readSync(fd, buf, 0, want, total);
    if (n === 0) break;
    total += n;
    if (total > maxBytes) throw tooLarge(where, maxBytes);
    // A regular file read up to the size fstat gave, by a read that came back short, is at its
    // end: no second read to be told so (it was a third of the reads of a gunicorn directory).
    const end = size > 0 && total >= size && n < want;
    // Read whole at once into a buffer sized for it: that buffer, not a copy.
    if (end && parts.length === 0 && n * 2 >= buf.length) return buf.subarray(0, n);
    parts.push(Buffer.from(buf.subarray(0, n)));
    if (end) break;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
}

/** Opens a regular local file as the bounded reads do (no blocking, no device, no FIFO, the
 *  checks), and gives `use` a function that reads it whole from its start, as often as it likes:
 *  the copies of a record its writer updates in place, for one open and one fstat. */
export function withFileSync<T>(path: string, where: string, opts: ReadOptions, use: (read: () => Buffer) => T): T {
  const { fd, st } = openChecked(path, where, opts);
  try {
    return use(() => readFromStart(fd, st.size, where, opts.maxBytes));
  } catch (e) {
    if (e instanceof SourceError) throw e;
    throw fromSystemError(e as NodeJS.ErrnoException, where);
  } finally {
    closeSync(fd);
  }
}

/** Opens a regular local file without blocking and makes the checks of the bounded reads on what
 *  the descriptor is; closed again if it is refused. */
function openChecked(path: string, where: string, opts: ReadOptions): { fd: number; st: Stats } {
  let fd: number;
  try {
    fd = openSync(path, flags(opts.noFollow));
  } catch (e) {
    throw openError(e as NodeJS.ErrnoException, where, opts.noFollow);
  }
  try {
    const st = fstatSync(fd);
    const refused = refusal(st, where, opts, false);
    if (refused) throw refused;
    return { fd, st };
  } catch (e) {
    closeSync(fd);
    if (e instanceof SourceError) throw e;
    throw fromSystemError(e as NodeJS.ErrnoException, where);
  }
}

/** Keeps the files it reads open between reads, for a source that reads the same files of one
 *  directory at every tick (a gunicorn directory's worker records: open, fstat and close were
 *  two thirds of its system calls). A file is opened, and checked as withFileSync checks it, once;
 *  after that a read is one pread. At a tick whose directory may have changed since the last one
 *  (see scope), each kept file's path is looked at again: a path that names another file now (its
 *  worker's file removed and another made under the name, or one renamed over it) or nothing is
 *  opened afresh, and the file it still names is checked again. `retain` closes the files not
 *  named, at most `max` are kept, and `close` closes them all. */
export class HeldFiles {
  private readonly held = new Map<string, { fd: number; size: number; dev: number; ino: number }>();
  private dirKey: string | undefined;
  private dirTimes: string | undefined;
  private seenAt = 0;
  private trusted = false;
  constructor(private readonly max = 1024) {}

  get size(): number {
    return this.held.size;
  }

  /** Tells the holder the directory's stat at the start of a tick (`now`: when it was taken).
   *  Another directory at the path closes everything. The kept files are trusted as they are only
   *  when the directory's times are those the last tick saw, and were already over a second old
   *  then: an entry made, removed or renamed after that look would have moved them, however coarse
   *  the clock that file times take. */
  scope(dir: Pick<Stats, 'dev' | 'ino' | 'mtimeMs' | 'ctimeMs'>, now = Date.now()): void {
    const key = `${dir.dev}:${dir.ino}`;
    const times = `${dir.mtimeMs}:${dir.ctimeMs}`;
    if (key !== this.dirKey) this.close();
    this.trusted = key === this.dirKey && times === this.dirTimes && this.seenAt - Math.max(dir.mtimeMs, dir.ctimeMs) > 1000;
    this.dirKey = key;
    this.dirTimes = times;
    this.seenAt = now;
  }

  use<T>(path: string, where: string, opts: ReadOptions, use: (read: () => Buffer) => T): T {
    let h = this.held.get(path);
    if (h !== undefined && !this.trusted) {
      let st: Stats | undefined;
      try {
        st = (opts.noFollow ? lstatSync : statSync)(path, { throwIfNoEntry: false });
      } catch {
        st = undefined;
      }
      if (st === undefined || st.dev !== h.dev || st.ino !== h.ino) {
        // Gone, or another file under the name: opened afresh below (or not found, as a fresh read).
        this.drop(path);
        h = undefined;
      } else {
        const refused = refusal(st, where, opts, false);
        if (refused) {
          this.drop(path);
          throw refused;
        }
        h.size = st.size;
      }
    }
    if (h === undefined) h = this.open(path, where, opts);
    const { fd, size } = h;
    const kept = this.held.get(path) === h; // not over the cap
    try {
      return use(() => readFromStart(fd, size, where, opts.maxBytes));
    } catch (e) {
      if (kept) this.drop(path);
      if (e instanceof SourceError) throw e;
      throw fromSystemError(e as NodeJS.ErrnoException, where);
    } finally {
      if (!kept) closeSync(fd);
    }
  }

  private open(path: string, where: string, opts: ReadOptions): { fd: number; size: number; dev: number; ino: number } {
    const { fd, st } = openChecked(path, where, opts);
    const h = { fd, size: st.size, dev: st.dev, ino: st.ino };
    if (this.held.size < this.max) this.held.set(path, h);
    return h;
  }

  /** Closes every kept file whose path is not in `paths`. */
  retain(paths: ReadonlySet<string>): void {
    for (const path of [...this.held.keys()]) if (!paths.has(path)) this.drop(path);
  }

  close(): void {
    for (const path of [...this.held.keys()]) this.drop(path);
  }

  private drop(path: string): void {
    const h = this.held.get(path);
    if (h === undefined) return;
    this.held.delete(path);
    // Only drop closes a kept descriptor, once: it is still this file's.
    closeSync(h.fd);
  }
}

/** Reads a regular local file synchronously, at most maxBytes of it. For small files that are
 *  read often (a gunicorn hooks directory in /dev/shm, /proc): a few microseconds each. */
export function readFileBoundedSync(path: string, where: string, opts: ReadOptions): Buffer {
  return withFileSync(path, where, opts, (read) => read());
}

/** One bounded read in progress: what it has taken, and its settling, once. */
interface Gather {
  done: boolean;
  /** Adds a chunk; false once over the size cap (the read has failed then). */
  take(chunk: Buffer): boolean;
  /** The read is whole. */
  whole(): void;
  finish(err: unknown): void;
  /** Stops a stream read (set by the FIFO reader). */
  stop?: () => void;
}

function gather(where: string, opts: ReadLimits, resolve: (b: Buffer) => void, reject: (e: unknown) => void): Gather {
  const parts: Buffer[] = [];
  let total = 0;
  const settle = (err: unknown, value?: Buffer) => {
    if (g.done) return;
    g.done = true;
    clearTimeout(timer);
    g.stop?.();
    if (err) reject(err instanceof SourceError ? err : fromSystemError(err as NodeJS.ErrnoException, where));
    else resolve(value!);
  };
  const g: Gather = {
    done: false,
    take(chunk) {
      parts.push(chunk);
      total += chunk.length;
      if (total <= opts.maxBytes) return true;
      settle(tooLarge(where, opts.maxBytes));
      return false;
    },
    whole: () => settle(null, Buffer.concat(parts, total)),
    finish: (err) => settle(err),
  };
  // A regular file read that never returns (a hung network filesystem) keeps its descriptor; the
  // run goes on without it.
  const timer = setTimeout(() => settle(new SourceError('timeout', `${where} could not be read within ${opts.timeoutMs} ms`)), opts.timeoutMs);
  return g;
}

/** Reads a regular file's descriptor chunk by chunk, never more than the cap + 1 byte. */
function readChunks(fd: number, g: Gather, maxBytes: number): void {
  const buf = Buffer.allocUnsafe(Math.min(maxBytes + 1, 256 * 1024));
  let total = 0;
  const step = () => {
    read(fd, buf, 0, Math.min(buf.length, maxBytes + 1 - total), null, (e, n) => {
      if (e || n === 0 || g.done) {
        close(fd, () => {});
        return e ? g.finish(e) : g.whole();
      }
      total += n;
      if (g.take(Buffer.from(buf.subarray(0, n)))) step();
      else close(fd, () => {});
    });
  };
  step();
}

/** A FIFO is read through libuv's pipe handle (non-blocking, as stdin is), so that neither a
 *  writer that never writes nor one that never stops can hold the run. */
async function readPipe(fd: number, g: Gather): Promise<void> {
  const { Socket } = await import('node:net');
  if (g.done) return close(fd, () => {}); // timed out while node:net loaded
  const sock = new Socket({ fd, readable: true, writable: false });
  g.stop = () => sock.destroy();
  sock.on('data', (chunk: Buffer) => {
    if (!g.take(chunk)) sock.destroy();
  });
  sock.on('end', g.whole);
  sock.on('error', (e) => g.finish(e));
}

/** Reads a local file (a regular file, or a FIFO/pipe such as /dev/stdin), bounded in size and
 *  time as it reads. Rejects with a SourceError: not_found, permission_denied, not_a_file,
 *  too_large, timeout. */
export function readFileBounded(path: string, where: string, opts: ReadOptions & ReadLimits): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const g = gather(where, opts, resolve, reject);
    open(path, flags(opts.noFollow), (err, fd) => {
      if (err) return g.finish(openError(err, where, opts.noFollow));
      if (g.done) return close(fd, () => {});
      let refused: unknown;
      let fifo = false;
      try {
        const st = fstatSync(fd);
        refused = refusal(st, where, opts, true);
        fifo = st.isFIFO();
      } catch (e) {
        refused = e;
      }
      if (refused) {
        close(fd, () => {});
        return g.finish(refused);
      }
      if (fifo) void readPipe(fd, g);
      else readChunks(fd, g, opts.maxBytes);
    });
  });
}
