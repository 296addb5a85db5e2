// The gunicorn status file source (gunicorn:///dev/shm/gunicorn_status.json).
//
// The hooks that keep this file truncate it and then write it, under an exclusive flock, on every
// request. A reader without a lock sees an empty file most of the time under load; a reader with a
// blocking lock slows the workers and can hang for 30 s (measured on gunicorn 20.1). So: no lock, and the
// file is read again, with a short growing pause, until it holds a whole document or the source's
// timeout runs out. A half-read state is never reported.
//
// A directory is the format of conf/gunicorn_wsgistat.py. Format 1 (the first hooks): every file
// in it is written whole (temp file and rename), so one read each is enough; a worker file that
// vanishes between listing and reading belongs to a worker that just exited. Format 2: each worker
// updates its memory-mapped record in place, so a record is copied until two copies agree
// (record.ts consistentCopy); the records are read before retired.json, in which the master adds a
// reaped worker's counts before it removes the worker's record, so a count is never missed.

import { readdirSync, statSync, type Stats } from 'node:fs';
import { HeldFiles, readFileBoundedSync } from '../../read.js';
import { aliveAmong, pidAlive } from '../../proc.js';
import { join } from 'node:path';
import { SourceError, fromSystemError } from '../../errors.js';
import { decodeJson } from '../json.js';
import type { ShapeOptions, Sample, Source, SourceSpec } from '../types.js';
import { shapeGunicorn } from './shape.js';
import { listenerHint, shapeGunicornDir, shapeGunicornDir2 } from './directory.js';
import { consistentCopy, parseRecord, recordProblem, type WorkerRecord } from './record.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One read of a small local file (in /dev/shm as a rule): synchronous, a few microseconds,
 *  bounded by the size cap whatever the file is (read.ts refuses devices and FIFOs). */
function readOnce(path: string, maxBytes: number, where: string, check?: (st: Stats) => string | undefined): Buffer {
  return readFileBoundedSync(path, where, { maxBytes, noFollow: check !== undefined, check });
}

/** An entry of a hooks directory must belong to the directory's owner (the hooks' user). */
const ownedBy = (uid: number) => (st: Stats) => (st.uid !== uid ? `belongs to uid ${st.uid}, not to the directory's owner ${uid}` : undefined);

/** Reads until the file holds a whole JSON document, within the timeout. */
export async function readStatusFile(path: string, spec: Pick<SourceSpec, 'timeoutMs' | 'maxBytes'>, where: string): Promise<{ value: unknown; tries: number }> {
  const deadline = Date.now() + spec.timeoutMs;
  let pause = 1;
  for (let tries = 1; ; tries++) {
    const bytes = readOnce(path, spec.maxBytes, where);
    try {
      return { value: decodeJson(bytes, where).value, tries };
    } catch (e) {
      if (!(e instanceof SourceError)) throw e;
      if (Date.now() + pause > deadline) {
        const seconds = +(spec.timeoutMs / 1000).toFixed(3);
        e.message = `${e.message}; still so after ${tries} reads in ${seconds}s (the hooks that keep it may be broken: an empty file makes every later hook fail)`;
        throw e;
      }
      await sleep(pause);
      pause = Math.min(pause * 2, 50);
    }
  }
}

/** Reads the status directory: master.json, every worker-<pid>.json (format 1) or worker-<pid>.bin
 *  and retired.json (format 2). Entries are never
 *  followed through a symlink and must be regular files of the directory's owner; a damaged,
 *  oversized or foreign worker file costs that worker only (counted, and named once in a notice
 *  without its content). */
function readDirectory(dir: string, maxBytes: number, files: HeldFiles): { master: Record<string, unknown>; workers: Record<string, unknown>[]; records: WorkerRecord[]; retired?: Record<string, unknown>; notices: string[] } {
  const where = `status directory ${dir}`;
  let names: string[];
  let check: (st: Stats) => string | undefined;
  try {
    const st = statSync(dir);
    check = ownedBy(st.uid);
    files.scope(st);
    names = readdirSync(dir);
  } catch (e) {
    files.close(); // the directory is gone, or cannot be read: nothing of it is kept
    throw fromSystemError(e as NodeJS.ErrnoException, where);
  }
  const parse = (name: string) => {
    const value = decodeJson(readOnce(join(dir, name), maxBytes, `${where}: ${name}`, check), `${where}: ${name}`).value;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SourceError('not_stats', `${where}: ${name} holds JSON that is not an object`);
    return value as Record<string, unknown>;
  };
  if (!names.includes('master.json')) {
    files.close();
    throw new SourceError('not_found', `${where} has no master.json (is gunicorn running with conf/gunicorn_wsgistat.py, and WSGISTAT_GUNICORN_DIR set to this directory?)`);
  }
  const master = parse('master.json');
  const format2 = master.format === 'wsgistat-gunicorn/2';
  const workers: Record<string, unknown>[] = [];
  const records: WorkerRecord[] = [];
  const skipped: string[] = [];
  const listed = new Set<string>();
  for (const name of names) {
    try {
      if (format2 && /^worker-\d+\.bin$/.test(name)) {
        // Kept open from one collect to the next; copies from the start until two agree.
        const path = join(dir, name);
        listed.add(path);
        const got = files.use(path, `${where}: ${name}`, { maxBytes, noFollow: check !== undefined, check }, (read) => consistentCopy(read));
        if (!got) {
          skipped.push(`${name} (changing at every read)`);
          continue;
        }
        const problem = recordProblem(got.copy);
        if (problem) skipped.push(`${name} (${problem})`);
        else records.push(parseRecord(got.copy));
      } else if (!format2 && /^worker-\d+\.json$/.test(name)) {
        workers.push(parse(name));
      }
    } catch (e) {
      if (!(e instanceof SourceError)) throw e;
      if (e.code !== 'not_found') skipped.push(`${name} (${e.code})`); // not_found: the worker just exited
    }
  }
  files.retain(listed);
  // Last: what the master kept of the workers it reaped, up to now.
  const retired = format2 && names.includes('retired.json') ? parse('retired.json') : undefined;
  const notices = skipped.length
    ? [`left out ${skipped.length} worker file(s) that could not be used: ${skipped.slice(0, 5).join(', ')}${skipped.length > 5 ? ', ...' : ''}`]
    : [];
  return { master, workers, records, retired, notices };
}

const isDirectory = (path: string) => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

export function gunicornSource(spec: SourceSpec, shape: ShapeOptions, alive: (pid: number) => boolean = pidAlive): Source {
  if (spec.address.endpoint.kind !== 'file') throw new Error('gunicornSource needs a file address');
  const path = spec.address.endpoint.path;
  const where = `status file ${path}`;
  const files = new HeldFiles();
  const source: Source = {
    spec,
    server: 'gunicorn',
    async collect(): Promise<Sample> {
      if (isDirectory(path)) {
        const { master, workers, records, retired, notices } = readDirectory(path, spec.maxBytes, files);
        // The workers are the master's children: one read of its list, not a kill(pid, 0) each.
        const live = alive === pidAlive && typeof master.pid === 'number' ? aliveAmong(master.pid) : alive;
        if (master.format === 'wsgistat-gunicorn/2') {
          const shaped = shapeGunicornDir2(master, records, retired, { ...shape, alive: live }, path);
          return { server: 'gunicorn', bodies: shaped.bodies, notices: [...notices, ...shaped.notices], listener: listenerHint(master), histograms: shaped.histograms, ownTotals: true };
        }
        const bodies = shapeGunicornDir(master, workers, { ...shape, alive: live }, path);
        return { server: 'gunicorn', bodies, notices, listener: listenerHint(master) };
      }
      files.close(); // no longer a directory
      const { value } = await readStatusFile(path, spec, where);
      return { server: 'gunicorn', bodies: shapeGunicorn(value, { ...shape, alive }), notices: [] };
    },
    close() {
      files.close();
    },
  };
  // A source let go of without close() (a spec's, say) closes the files it kept open once collected.
  heldBySource.register(source, files);
  return source;
}

const heldBySource = new FinalizationRegistry<HeldFiles>((files) => files.close());
