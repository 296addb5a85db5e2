// Safe handling of the files wsgistat itself writes (spool, dead letters, state, locks), so that
// another local user cannot plant a path for a root wsgistat: every directory on the way is checked
// (no symlink owned by someone else, none writable by others unless sticky, the last ones ours and
// writable by us alone), files are created exclusively under names nobody can guess in advance,
// opened without following a symlink, and replaced only by rename.
//
// Synchronous on purpose, like the spool: a few small files per run.

import { closeSync, constants, fstatSync, linkSync, lstatSync, statSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { SourceError } from './errors.js';
import { pidAlive, startTime } from './proc.js';
import { readFileBoundedSync } from './read.js';

/** A path wsgistat refuses to use; `code` is stable, the message names the path and why. */
export class UnsafePathError extends Error {
  override readonly name = 'UnsafePathError';
  readonly code = 'unsafe_path';
}

const uid = (): number => process.getuid?.() ?? -1;
const { O_CREAT, O_EXCL, O_WRONLY, O_APPEND, O_NOFOLLOW } = constants;

/** Why a directory already there may not hold our files, or undefined if it may. `own`: one of the
 *  directories wsgistat keeps (must be ours and writable by us alone); else an ancestor (root's or
 *  ours, and not writable by others unless sticky, as /tmp is). */
function problem(path: string, own: boolean): string | undefined {
  let st = lstatSync(path);
  const me = uid();
  if (me === -1) return undefined; // no uids on this platform
  if (st.isSymbolicLink()) {
    // /var/run -> /run is the system's, ~/.local/state -> /data/state the user's: what they point
    // to is checked like the rest. A link someone else made is a planted one.
    if (st.uid !== 0 && st.uid !== me) return `it is a symlink owned by uid ${st.uid}`;
    st = statSync(path);
  }
  if (!st.isDirectory()) return 'it is not a directory';
  if (own) {
    if (st.uid !== me) return `it belongs to uid ${st.uid}, not to this user (uid ${me})`;
    if (st.mode & 0o022) return `others may write to it (mode ${(st.mode & 0o7777).toString(8)}); chmod go-w it`;
    return undefined;
  }
  if (st.uid !== 0 && st.uid !== me) return `it belongs to uid ${st.uid}`;
  if (st.mode & 0o022 && !(st.mode & 0o1000)) return `others may write to it (mode ${(st.mode & 0o7777).toString(8)}) and it is not sticky`;
  return undefined;
}

/** Makes `dir` and its missing parents (mode 0700) and checks every component on the way; throws
 *  UnsafePathError naming the first one that someone else could use to redirect our files. The
 *  components created here, and `dir` itself, must be ours alone. */
export function safeDir(dir: string): void {
  const abs = resolve(dir);
  const parts = abs.split(sep).filter(Boolean);
  let path: string = sep;
  for (let i = 0; i < parts.length; i++) {
    path = join(path, parts[i]!);
    let made = false;
    try {
      mkdirSync(path, { mode: 0o700 });
      made = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const why = problem(path, made || i === parts.length - 1);
    if (why) throw new UnsafePathError(`refusing ${path}${path === abs ? '' : ` (on the way to ${abs})`}: ${why}`);
  }
}

let counter = 0;
/** A name nobody can have made ready for us: pid, time and randomness (created with O_EXCL anyway). */
export function uniqueName(prefix: string): string {
  counter++;
  return `.${prefix}.${process.pid}.${Date.now().toString(36)}${counter.toString(36)}${Math.random().toString(36).slice(2, 10)}.tmp`;
}

/** Writes a new file in `dir` exclusively (never through a symlink), mode 0600; returns its path. */
export function writeNew(dir: string, prefix: string, data: string): string {
  for (;;) {
    const path = join(dir, uniqueName(prefix));
    let fd: number;
    try {
      fd = openSync(path, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw e;
    }
    try {
      writeSync(fd, data);
    } catch (e) {
      closeSync(fd);
      unlinkQuiet(path);
      throw e;
    }
    closeSync(fd);
    return path;
  }
}

/** Writes `data` to `path` whole: a new private file, then a rename over the old one. */
export function replaceFile(path: string, data: string): void {
  const tmp = writeNew(dirname(path), 'w', data);
  try {
    renameSync(tmp, path);
  } catch (e) {
    unlinkQuiet(tmp);
    throw e;
  }
}

/** Moves `tmp` to `path` unless `path` exists (then false, `tmp` untouched): link, then unlink, so
 *  that two runs can never replace each other's file. */
export function moveNoReplace(tmp: string, path: string): boolean {
  try {
    linkSync(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  unlinkQuiet(tmp);
  return true;
}

/** Appends to a private regular file, never through a symlink. */
export function appendPrivate(path: string, data: string): void {
  const fd = openSync(path, O_CREAT | O_WRONLY | O_APPEND | O_NOFOLLOW, 0o600);
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || (uid() !== -1 && st.uid !== uid())) throw new UnsafePathError(`refusing ${path}: not a regular file of this user`);
    writeSync(fd, data);
  } finally {
    closeSync(fd);
  }
}

/** Reads a regular file of at most `max` bytes, never through a symlink; undefined if missing.
 *  Bounded as it reads, whatever `stat` said before. */
export function readPrivate(path: string, max: number): string | undefined {
  return readRegular(path, max, false)?.toString('utf8');
}

/** Reads a regular file of at most `max` bytes (a FIFO, a device or a directory is refused, and the
 *  size is bounded as it reads); `follow`: through a symlink too (a user's credential files, often
 *  links into a secrets mount). undefined if missing. */
export function readRegular(path: string, max: number, follow: boolean): Buffer | undefined {
  try {
    return readFileBoundedSync(path, path, { maxBytes: max, noFollow: !follow });
  } catch (e) {
    if (!(e instanceof SourceError)) throw e;
    if (e.code === 'not_found') return undefined;
    // A symlink refused (ELOOP) and system errors go on as they are; devices, FIFOs, sockets are unsafe.
    if (e.code === 'not_a_file' && (e.cause as NodeJS.ErrnoException | undefined)?.code === undefined) throw new UnsafePathError(`refusing ${path}: not a regular file`);
    if (e.code === 'too_large') throw Object.assign(new Error(`larger than ${max} bytes`), { code: 'too_large' });
    throw (e.cause as Error | undefined) ?? e;
  }
}

export function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already
  }
}

/** Whether the process that wrote a lock text (`pid starttime`) still runs. */
export function holderAlive(text: string): boolean {
  const [p, t] = text.trim().split(' ');
  const pid = Number(p);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const now = startTime(pid);
  if (now !== undefined) return t === undefined || t === now;
  return startTime(process.pid) === undefined && pidAlive(pid); // no /proc here: the pid alone
}

/** The text a lock of this process holds. */
export const lockText = (): string => `${process.pid} ${startTime(process.pid) ?? ''}`.trim();

/** Takes the lock file `path` if nobody alive holds it; a lock of a process that is gone (or of a
 *  pid since reused) is broken. The lock appears whole (written, then linked), so a reader never
 *  sees it empty. */
export function tryLock(path: string): boolean {
  const dir = dirname(path);
  const mine = lockText();
  const tmp = writeNew(dir, 'lock', mine);
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      if (moveNoReplace(tmp, path)) return true;
      let held: string | undefined;
      try {
        held = readPrivate(path, 256);
      } catch {
        held = undefined;
      }
      if (held === undefined) continue; // released meanwhile
      if (held.trim() === mine) return true;
      if (holderAlive(held)) return false;
      // Stale: move it aside under a unique name (one run wins), then drop it.
      const aside = join(dir, uniqueName('stale'));
      try {
        renameSync(path, aside);
        unlinkQuiet(aside);
      } catch {
        // another run broke it first
      }
    }
    return false;
  } finally {
    unlinkQuiet(tmp);
  }
}

/** Releases a lock this process holds (and only then). */
export function unlock(path: string): void {
  try {
    if (readPrivate(path, 256)?.trim() === lockText()) unlinkQuiet(path);
  } catch {
    // not ours, or gone
  }
}

/** Whether a stale temporary file (from uniqueName) was left by a process that is gone. */
export function leftByDeadProcess(name: string): boolean {
  const pid = Number(name.split('.')[2]);
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && !pidAlive(pid);
}
