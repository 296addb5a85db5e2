// The state file that carries the previous sample from one one-shot run to the next, so that a
// process started per sample (td-agent run_interval, a systemd timer, mackerel-agent) still gets
// rates. Written atomically (a private temporary file, then rename), owner-only. A file that is
// missing, corrupt, from another host or another wsgistat, is ignored with a notice: never a crash,
// never a wrong rate. Two runs at once each rename a whole file, so the file is never torn.

import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { RateState } from './records/rates.js';

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
  const base = env.XDG_STATE_HOME || (home && home !== '/' ? join(home, '.local', 'state') : join(tmpdir(), `wsgistat-${process.getuid?.() ?? 'user'}`));
  return join(base, 'wsgistat');
}

function isRateState(v: unknown): v is RateState {
  const s = v as RateState;
  return typeof s === 'object' && s !== null && typeof s.time === 'number' && typeof s.workers === 'object' && s.workers !== null;
}

/** Reads the state file. Returns the states and, when the file could not be used, why. */
export function loadStates(path: string, hostname: string): { states: States; notice?: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? { states: new Map() } : { states: new Map(), notice: `cannot read state file ${path} (${code}); no rates this time` };
  }
  let file: StateFile;
  try {
    file = JSON.parse(text) as StateFile;
  } catch {
    return { states: new Map(), notice: `state file ${path} is corrupt (${text.length} bytes of invalid JSON); ignored, no rates this time` };
  }
  if (typeof file !== 'object' || file === null || file.format !== FORMAT || typeof file.sources !== 'object' || file.sources === null) {
    return { states: new Map(), notice: `state file ${path} is not a ${FORMAT} file; ignored, no rates this time` };
  }
  if (file.hostname !== hostname) {
    return { states: new Map(), notice: `state file ${path} belongs to host ${JSON.stringify(file.hostname)}, not ${JSON.stringify(hostname)}; ignored` };
  }
  const states: States = new Map();
  for (const [key, s] of Object.entries(file.sources)) if (isRateState(s)) states.set(key, s);
  return { states };
}

/** Writes the state file atomically with mode 0600, in a directory made with mode 0700. */
export function saveStates(path: string, hostname: string, states: States): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = statSync(dir);
  if (process.getuid && st.uid !== process.getuid()) throw new Error(`state directory ${dir} belongs to another user`);
  const file: StateFile = { format: FORMAT, hostname, sources: Object.fromEntries(states) };
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(file), { mode: 0o600, flag: 'wx' });
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
