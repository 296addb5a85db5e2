// Facts about local processes, for the files that name one (locks, gunicorn worker entries).

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

/** A process's start time (clock ticks since boot, /proc/<pid>/stat field 22): with the pid, it
 *  names one process, so a pid reused by another process is told apart. undefined: no such process
 *  (or no /proc). The command name in parentheses may hold spaces and ')': fields count from the
 *  last ')'. */
export function startTime(pid: number): string | undefined {
  try {
    const stat = readFileBoundedSync(`/proc/${pid}/stat`, `/proc/${pid}/stat`, { maxBytes: 4096 }).toString('latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
