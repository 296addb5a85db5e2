// Whether the worker pids a uWSGI stats server reports are really serving, read from /proc on this
// host (issue #17, unbit/uwsgi#2480). The stats server goes on reporting a recycled worker whose
// thread-group leader is a zombie (its main thread exited while another thread hangs in Python's
// finalization) as idle and accepting until worker-reload-mercy runs out; only the kernel knows.
//
// The check is made only when it can be trusted: the document's master pid is a process here and the
// worker pids it reports are its children (ppid in /proc/<pid>/stat). Otherwise the stats server is
// on another host or in another pid namespace, or the pid was reused, and nothing is guessed.
// Every read is one small file (/proc/<pid>/stat is under 1 KiB), bounded by a fixed buffer, and
// kept open for the next tick's read (proc.ts readStatHeld).

import { readdirSync } from 'node:fs';
import { readStat, readStatHeld } from '../../proc.js';
import type { Endpoint } from '../endpoint.js';

/** Why the check was or was not made; the summary's `proc_check`. */
export type ProcCheck = 'made' | 'remote' | 'no_master' | 'not_children' | 'not_permitted' | 'no_proc';

/** What the check found: per reported worker pid, its state letter, `gone`, or `exited`
 *  (a zombie with no thread left: it ended normally and its master has not reaped it yet). */
export interface Liveness { check: ProcCheck; states: Map<number, string> }

/** A zombie leader whose thread group still has threads is the stuck worker of unbit/uwsgi#2480;
 *  one with no thread left merely exited and waits for its master to reap it. */
function zombieKind(pid: number, root: string): 'Z' | 'exited' {
  try {
    return readdirSync(`${root}/${pid}/task`).length > 1 ? 'Z' : 'exited';
  } catch {
    return 'exited';
  }
}

const LOOPBACK = /^(127\.|::1$|localhost$)/;

/** Whether an address can be on this host at all: a unix socket, or TCP on loopback. */
export function isLocal(ep: Endpoint): boolean {
  return ep.kind !== 'tcp' || LOOPBACK.test(ep.host);
}

/** Checks the reported workers of one stats document against /proc. */
export function checkLiveness(masterPid: number, workerPids: number[], local: boolean, root = '/proc'): Liveness {
  const states = new Map<number, string>();
  if (!local) return { check: 'remote', states };
  try {
    const master = readStatHeld(masterPid, root);
    if (!master) return { check: readStat(process.pid, root) ? 'no_master' : 'no_proc', states };
    let existing = 0;
    let children = 0;
    for (const pid of workerPids) {
      if (pid <= 0) continue;
      const st = readStatHeld(pid, root);
      // Gone, or the pid now belongs to another process: the worker exited after the stats read.
      if (!st || st.ppid !== masterPid) {
        if (st) existing++;
        states.set(pid, 'gone');
        continue;
      }
      existing++;
      children++;
      states.set(pid, st.state === 'Z' ? zombieKind(pid, root) : st.state);
    }
    if (existing > 0 && children === 0) return { check: 'not_children', states: new Map() };
    return { check: 'made', states };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // EACCES/EPERM: /proc mounted with hidepid, or a confined wsgistat. Anything else: no usable /proc.
    return { check: code === 'EACCES' || code === 'EPERM' ? 'not_permitted' : 'no_proc', states: new Map() };
  }
}

/** Why a worker in this state serves nothing, or undefined when it may serve. */
export function stuckReason(state: string | undefined): 'zombie' | 'stopped' | undefined {
  if (state === 'Z') return 'zombie';
  if (state === 'T' || state === 't') return 'stopped';
  return undefined;
}
