// The state file that carries the previous sample from one one-shot run to the next, so that a
// process started per sample (td-agent run_interval, a systemd timer, mackerel-agent) still gets
// rates. Written atomically (a private temporary file, then rename), owner-only, in a directory
// checked on every component (lib/fsafe.ts), never through a symlink. A file that is missing,
// corrupt, from another host or another wsgistat, is ignored with a notice: never a crash, never a
// wrong rate; one malformed source entry costs that entry only (set aside in <file>.rejected).
// Runs at once take turns (updateStates: a lock around read, rates, write), so that two one-shot
// runs never both count the same interval.

import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { appendPrivate, readPrivate, replaceFile, safeDir, tryLock, unlock } from './fsafe.js';
import type { RateState } from './records/rates.js';

/** A state file is a few KiB per source; anything near this is not ours. */
const STATE_MAX_BYTES = 16 * 1024 * 1024;

const FORMAT = 'wsgistat-state/1';

export type States = Map<string, RateState>;

interface StateFile {
  format: string;
  hostname: string;
  sources: Record<string, RateState>;
}

/** FNV-1a, twice with different offsets: 16 hex digits that tell sets of sources apart. A file
 *  name needs no cryptographic hash, and loading node:crypto costs ~2 ms of every start. */
export function fnv(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x01000193) >>> 0;
  }
  return a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0');
}

/** The default path: per user, and per set of sources, so that two jobs never share a file. */
export function defaultStatePath(sourceKeys: string[], job?: string, env: NodeJS.ProcessEnv = process.env): string {
  const id = fnv([...sourceKeys].sort().join('\n') + (job ? `\n#${job}` : ''));
  return join(wsgistatDir(env), `state-${id}.json`);
}

/** wsgistat's directory for state and spool: $XDG_STATE_HOME/wsgistat or ~/.local/state/wsgistat. */
export function wsgistatDir(env: NodeJS.ProcessEnv = process.env): string {
  const home = env.HOME || (() => {
    try {
      return homedir();
    } catch {
      return '';
    }
  })();
  // No home (a system service): root keeps its state in /var/lib; another user in a directory of
  // its own under the temporary directory, which safeDir refuses if someone else made it first.
  const uid = process.getuid?.();
  const base = env.XDG_STATE_HOME || (home && home !== '/' ? join(home, '.local', 'state') : uid === 0 ? '/var/lib' : join(tmpdir(), `wsgistat-${uid ?? 'user'}`));
  return join(base, 'wsgistat');
}

const isNum = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const optNum = (v: unknown) => v === undefined || isNum(v);
const counts = (v: unknown) => isObj(v) && Object.values(v).every(isNum);

/** Why an entry is not a state lib/records/rates.ts can use, or undefined if it is one. */
export function stateProblem(v: unknown): string | undefined {
  if (!isObj(v)) return 'not an object';
  if (!isNum(v.time)) return '"time" is not a number';
  if (!optNum(v.pid) || !optNum(v.listen_queue)) return '"pid" or "listen_queue" is not a number';
  if (v.summary !== undefined && !counts(v.summary)) return '"summary" is not an object of numbers';
  if (v.summaryHist !== undefined && !counts(v.summaryHist)) return '"summaryHist" is not an object of numbers';
  if (!isObj(v.workers)) return '"workers" is not an object';
  for (const [id, w] of Object.entries(v.workers)) {
    if (!isObj(w) || !optNum(w.pid) || !optNum(w.respawn_count) || !counts(w.c) || (w.h !== undefined && !counts(w.h))) return `worker ${JSON.stringify(id)} is malformed`;
  }
  return undefined;
}

/** Reads the state file. Returns the states and, when the file (or an entry) could not be used, why. */
export function loadStates(path: string, hostname: string): { states: States; notice?: string } {
  let text: string | undefined;
  try {
    text = readPrivate(path, STATE_MAX_BYTES);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    return { states: new Map(), notice: `cannot read state file ${path} (${code === 'ELOOP' ? 'it is a symlink' : code}); no rates this time` };
  }
  if (text === undefined) return { states: new Map() };
  let file: StateFile;
  try {
    file = JSON.parse(text) as StateFile;
  } catch {
    return { states: new Map(), notice: `state file ${path} is corrupt (${text.length} bytes of invalid JSON); ignored, no rates this time` };
  }
  if (typeof file !== 'object' || file === null || file.format !== FORMAT || !isObj(file.sources)) {
    return { states: new Map(), notice: `state file ${path} is not a ${FORMAT} file; ignored, no rates this time` };
  }
  if (file.hostname !== hostname) {
    return { states: new Map(), notice: `state file ${path} belongs to host ${JSON.stringify(file.hostname)}, not ${JSON.stringify(hostname)}; ignored` };
  }
  const states: States = new Map();
  const bad: string[] = [];
  for (const [key, s] of Object.entries(file.sources)) {
    const why = stateProblem(s);
    if (!why) {
      states.set(key, s);
      continue;
    }
    bad.push(key);
    try {
      appendPrivate(`${path}.rejected`, `${JSON.stringify({ time: Date.now() / 1000, source: key, reason: why, entry: s })}\n`);
    } catch {
      // the notice says it all the same
    }
  }
  if (bad.length === 0) return { states };
  return { states, notice: `state file ${path}: the entry of ${bad.map((k) => JSON.stringify(k)).join(', ')} is malformed; set aside in ${path}.rejected, no rates for it this time` };
}

/** Writes the state file atomically with mode 0600, in a directory that is ours alone. */
export function saveStates(path: string, hostname: string, states: States): void {
  safeDir(dirname(path));
  const file: StateFile = { format: FORMAT, hostname, sources: Object.fromEntries(states) };
  replaceFile(path, JSON.stringify(file));
}

/** How long a run waits for another that is between reading and writing the same state file. */
const LOCK_WAIT_MS = 3000;

/** Takes the state file's lock (waiting up to LOCK_WAIT_MS for a live holder); false: not taken. */
export async function lockStates(path: string): Promise<boolean> {
  safeDir(dirname(path));
  const deadline = Date.now() + LOCK_WAIT_MS;
  while (!tryLock(`${path}.lock`)) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 10 + Math.random() * 20));
  }
  return true;
}

export function unlockStates(path: string): void {
  unlock(`${path}.lock`);
}

/** After a tick: keeps, per source, the newer of what was loaded and what the tick made (a run
 *  that sampled before another but got the lock after it must not set the file back). */
export function keepNewer(loaded: States, updated: States): void {
  for (const [key, s] of loaded) {
    const now = updated.get(key);
    if (now && now.time < s.time) updated.set(key, s);
  }
}
