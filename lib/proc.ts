// Facts about local processes, read from /proc: for the files that name one (locks, gunicorn
// worker records) and for uWSGI's stuck-worker check (sources/uwsgi/liveness.ts).

import { closeSync, openSync, readSync } from 'node:fs';
import { readFileBoundedSync } from './read.js';

/** Whether a pid is alive on this host (EPERM: alive, another user's). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pids of a process's children, from /proc/PID/task/PID/children (its main thread's: a
 *  gunicorn master forks its workers from it), in one read where a kill(pid, 0) per worker took two
 *  system calls. Undefined where it cannot be read (no such process, a kernel without the file).
 *  The kernel's list can miss a child forked or reaped while it is read, so a pid not in it proves
 *  nothing: ask pidAlive then (aliveAmong). */
export function childrenOf(pid: number, root = '/proc'): Set<number> | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  let text: string;
  try {
    text = readFileBoundedSync(`${root}/${pid}/task/${pid}/children`, 'children', { maxBytes: 1 << 20 }).toString('latin1');
  } catch {
    return undefined;
  }
  const kids = new Set<number>();
  for (const word of text.split(' ')) if (word !== '') kids.add(Number(word));
  return kids;
}

/** pidAlive, asked of the children of `parent` first: yes for one of them without a system call. */
export function aliveAmong(parent: number, alive: (pid: number) => boolean = pidAlive): (pid: number) => boolean {
  const kids = childrenOf(parent);
  return kids ? (pid) => kids.has(pid) || alive(pid) : alive;
}

export interface ProcStat {
  /** R, S, D, T, Z, ... */
  state: string;
  ppid: number;
  /** Clock ticks since boot (field 22): with the pid, it names one process. */
  startTime: string;
  /** The controlling terminal's device number (field 7); 0: none. */
  tty: number;
}

/** A `/proc/<pid>/stat` line. The command name is in parentheses and may itself hold spaces and
 *  parentheses, so the fields are read after the last ")": state is field 3, ppid 4, tty 7, start
 *  time 22. Only those four are cut out (a split of all 52 was most of what a stuck-worker check
 *  allocated). */
export function parseStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  let state = '';
  let ppid = '';
  let tty = '';
  let field = 0;
  let start = close + 2;
  for (let i = start; i <= text.length; i++) {
    if (i < text.length && text.charCodeAt(i) !== 32) continue;
    // Field `field` (0: state, after the name) is text[start, i).
    if (field === 0) state = text.slice(start, i);
    else if (field === 1) ppid = text.slice(start, i);
    else if (field === 4) tty = text.slice(start, i);
    else if (field === 19) {
      const pp = Number(ppid);
      if (!state || !Number.isInteger(pp)) return undefined;
      return { state, ppid: pp, startTime: text.slice(start, i), tty: Number(tty) || 0 };
    }
    field++;
    start = i + 1;
  }
  return undefined;
}

const BUF = Buffer.alloc(4096);

/** One read of a stat file from its start, at most 4 KiB. */
function readFrom(fd: number): ProcStat | undefined {
  const n = readSync(fd, BUF, 0, BUF.length, 0);
  return parseStat(BUF.toString('latin1', 0, n));
}

/** Opens and reads `path`; undefined when the process does not exist (or ended between open and
 *  read). `keep`, asked once a stat was read, says whether to keep the descriptor open. */
function openAndRead(path: string, keep?: (fd: number) => boolean): ProcStat | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
    throw e;
  }
  let kept = false;
  try {
    const st = readFrom(fd);
    kept = st !== undefined && keep !== undefined && keep(fd);
    return st;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
    throw e;
  } finally {
    if (!kept) closeSync(fd);
  }
}

/** Reads `/proc/<pid>/stat` (one read of at most 4 KiB); undefined when the pid does not exist.
 *  Throws on EACCES and the like. */
export function readStat(pid: number, root = '/proc'): ProcStat | undefined {
  return openAndRead(`${root}/${pid}/stat`);
}

/** `/proc/<pid>/stat` of a pid read again and again (the stuck-worker check of a continuous run,
 *  every tick): its descriptor is kept open and read again from the start, one pread instead of an
 *  open, a read and a close (in a tick of a 4-worker uWSGI those were 130 us of 720, bench/tick.ts).
 *  A kept descriptor names one process, not a pid: once that process is gone its reads fail (ESRCH),
 *  and the pid is opened afresh, so a pid taken by a new process reads the new one, as readStat
 *  does. At most HELD_MAX are kept; one unused for HELD_IDLE_MS is closed (a recycled worker's pid
 *  is never asked for again), checked at most every few seconds, so nothing piles up over a long
 *  run whatever its interval. */
export function readStatHeld(pid: number, root = '/proc'): ProcStat | undefined {
  // Only procfs says ESRCH for a process that is gone: a file elsewhere would read on as it was.
  if (root !== '/proc') return readStat(pid, root);
  const now = Date.now();
  if (now - lastSweep > HELD_SWEEP_MS) sweepHeld(now);
  const path = `${root}/${pid}/stat`;
  const h = held.get(path);
  if (h !== undefined) {
    try {
      const st = readFrom(h.fd);
      h.used = now;
      return st;
    } catch {
      // That process is gone (ESRCH), or the descriptor is no good: the pid afresh, below.
      dropHeld(path);
    }
  }
  return openAndRead(path, (fd) => {
    if (held.size >= HELD_MAX) return false;
    held.set(path, { fd, used: now });
    return true;
  });
}

/** A small share of the usual 1,024 descriptors a process may have open. */
const HELD_MAX = 128;
const HELD_IDLE_MS = 60_000;
const HELD_SWEEP_MS = 5_000;
const held = new Map<string, { fd: number; used: number }>();
let lastSweep = 0;

function dropHeld(path: string): void {
  const h = held.get(path);
  if (!h) return;
  held.delete(path);
  // Only dropHeld closes a kept descriptor, once: it is still this file's.
  closeSync(h.fd);
}

function sweepHeld(now: number): void {
  lastSweep = now;
  for (const [path, h] of held) if (now - h.used > HELD_IDLE_MS) dropHeld(path);
}

/** How many descriptors readStatHeld keeps open now (for the specs). */
export const heldStats = (): number => held.size;

/** A process's start time, or undefined: no such process (or no usable /proc). */
export function startTime(pid: number): string | undefined {
  try {
    return readStat(pid)?.startTime;
  } catch {
    return undefined;
  }
}

/** Whether this process has a controlling terminal: a person started it (`wsgistat ... | jq` too),
 *  not td-agent, systemd, cron or mackerel-agent, which start their commands without one. */
export function hasControllingTerminal(): boolean {
  try {
    const st = readStat(process.pid, '/proc');
    if (st) return st.tty !== 0;
  } catch {
    // no usable /proc: ask the standard streams
  }
  return Boolean(process.stdin.isTTY || process.stderr.isTTY);
}
