// prometheus_client's multiprocess directory (PROMETHEUS_MULTIPROC_DIR), read the way its
// MultiProcessCollector reads it, without asking the app: counter_<pid>.db, gauge_<mode>_<pid>.db,
// histogram_<pid>.db, summary_<pid>.db, each a file the process memory-maps and writes in place.
//
// The layout is prometheus_client 0.16's (Debian bookworm's python3-prometheus-client, mmap_dict.py):
// an int32 `used` (bytes of the file in use, from offset 0), 4 bytes of padding, then entries from
// offset 8: an int32 key length, the key (UTF-8 JSON [metric, sample, labels, help]), spaces up to an
// 8-byte boundary, a float64 value. Native byte order: little-endian on every host it runs on here.
// 0.17 and later write a timestamp after each value (16 bytes): such a file is recognised and
// refused with a message that says so, never misread. A file whose header or entries cannot be that
// layout is a LayoutError naming the offset, never a crash and never a quote of its bytes.
//
// Reading is split from merging: readMultiprocDir gives each file with the pid its name carries, so
// a caller can drop the gauges of dead pids (prometheus_client keeps them forever unless the server
// calls mark_process_dead) before mergeMultiproc does what MultiProcessCollector.collect() does.

import { opendirSync, statSync, type Dir, type Stats } from 'node:fs';
import { join } from 'node:path';
import { SourceError, fromSystemError } from '../../errors.js';
import { readFileBoundedSync } from '../../read.js';
import { setLabel, type MetricFamily, type MetricSample } from './parse.js';

export const GAUGE_MODES = ['all', 'liveall', 'min', 'livemin', 'max', 'livemax', 'sum', 'livesum'] as const;
export type GaugeMode = (typeof GAUGE_MODES)[number];
export type MultiprocKind = 'counter' | 'gauge' | 'histogram' | 'summary';

/** One value of a file, as its key names it. */
export interface MmapEntry { metric: string; sample: string; labels: Record<string, string>; help: string; value: number }

export interface MultiprocFile {
  name: string;
  kind: MultiprocKind;
  /** Gauges only: the multiprocess_mode of the file name. */
  mode?: GaugeMode;
  /** The process identifier in the file name (os.getpid() unless the app chose another). */
  pid: string;
  bytes: number;
  entries: MmapEntry[];
}

/** A file left out, and why (described, never quoted). */
export interface MultiprocProblem { name: string; reason: string }

export interface MultiprocLimits {
  /** Bytes read of one file at most; default 16 MiB (a file starts at 64 KiB and doubles). */
  maxFileBytes: number;
  /** Bytes read of all files together at most; default 256 MiB. */
  maxDirBytes: number;
  /** Directory entries at most (dead pids' files stay forever); default 10000. */
  maxFiles: number;
}
export const DEFAULT_LIMITS: MultiprocLimits = { maxFileBytes: 16 << 20, maxDirBytes: 256 << 20, maxFiles: 10000 };

export class LayoutError extends Error {
  override readonly name = 'LayoutError';
  readonly code = 'bad_layout';
}

const FILE_NAME = /^(counter|histogram|summary)_(.+)\.db$|^gauge_([a-z]+)_(.+)\.db$/;

/** What a file name says, undefined for a name prometheus_client would not write, or the reason
 *  it is one this reader does not read. */
export function fileNameInfo(name: string): { kind: MultiprocKind; mode?: GaugeMode; pid: string } | { unsupported: string } | undefined {
  const m = FILE_NAME.exec(name);
  if (!m) return undefined;
  if (m[1]) return { kind: m[1] as MultiprocKind, pid: m[2]! };
  const mode = m[3]!;
  if (!(GAUGE_MODES as readonly string[]).includes(mode)) {
    return { unsupported: mode.endsWith('mostrecent') ? `gauge mode ${mode} is of prometheus_client 0.17 or later, whose layout this reader does not read` : 'an unknown gauge mode' };
  }
  return { kind: 'gauge', mode: mode as GaugeMode, pid: m[4]! };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Walks the entries with `payload` bytes after each key (8: a value; 16: value and timestamp). */
function walk(buf: Buffer, used: number, payload: number): MmapEntry[] {
  const entries: MmapEntry[] = [];
  let pos = 8;
  while (pos < used) {
    if (pos + 4 > used) throw new LayoutError(`an entry at offset ${pos} is cut by the used size ${used}`);
    const len = buf.readInt32LE(pos);
    const padded = len + (8 - ((len + 4) % 8));
    if (len <= 0 || pos + 4 + padded + payload > used) throw new LayoutError(`the entry at offset ${pos} has an impossible key length ${len} for the used size ${used}`);
    let key: unknown;
    try {
      key = JSON.parse(utf8.decode(buf.subarray(pos + 4, pos + 4 + len)));
    } catch {
      throw new LayoutError(`the key of the entry at offset ${pos} (${len} bytes) is not UTF-8 JSON`);
    }
    const entry = toEntry(key, buf.readDoubleLE(pos + 4 + padded));
    if (!entry) throw new LayoutError(`the key of the entry at offset ${pos} is not prometheus_client's [metric, sample, labels, help]`);
    entries.push(entry);
    pos += 4 + padded + payload;
  }
  return entries;
}

function toEntry(key: unknown, value: number): MmapEntry | undefined {
  if (!Array.isArray(key) || key.length !== 4) return undefined;
  const [metric, sample, labels, help] = key as unknown[];
  if (typeof metric !== 'string' || typeof sample !== 'string' || typeof help !== 'string') return undefined;
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) {
    if (typeof v !== 'string') return undefined;
    setLabel(out, k, v);
  }
  return { metric, sample, labels: out, help, value };
}

/** Decodes one file's bytes (0.16 layout). Throws LayoutError. */
export function decodeMmap(buf: Buffer): MmapEntry[] {
  if (buf.length === 0) return []; // created, not yet sized: prometheus_client reads it as empty too
  if (buf.length < 8) throw new LayoutError(`${buf.length} bytes, shorter than the 8-byte header`);
  const used = buf.readInt32LE(0);
  if (used === 0) return []; // not yet initialised
  if (used < 8 || used % 8 !== 0) throw new LayoutError(`the header says ${used} bytes are used, which no entry layout gives (8 or more, a multiple of 8)`);
  if (used > buf.length) throw new LayoutError(`the header says ${used} bytes are used, but the file holds ${buf.length}`);
  try {
    return walk(buf, used, 8);
  } catch (e) {
    let newer = false;
    try {
      newer = walk(buf, used, 16).length > 0;
    } catch {
      // neither layout: report the 0.16 reading's problem
    }
    if (newer) throw new LayoutError('its entries hold a value and a timestamp (16 bytes): the layout of prometheus_client 0.17 or later, which this reader does not read (it reads 0.16\'s)');
    throw e;
  }
}

/** Every prometheus_client file of the directory, decoded; never through a symlink, and only files
 *  of the directory's owner. A file that cannot be used is a problem, and costs only itself.
 *  Throws SourceError when the directory cannot be read or passes its limits. */
export function readMultiprocDir(dir: string, limits: MultiprocLimits = DEFAULT_LIMITS): { files: MultiprocFile[]; problems: MultiprocProblem[] } {
  const where = `prometheus_client multiprocess directory ${dir}`;
  const names = listDir(dir, where, limits.maxFiles);
  let dirUid: number;
  try {
    dirUid = statSync(dir).uid;
  } catch (e) {
    throw fromSystemError(e as NodeJS.ErrnoException, where);
  }
  const check = (st: Stats) => (st.uid !== dirUid ? `belongs to uid ${st.uid}, not to the directory's owner ${dirUid}` : undefined);
  const files: MultiprocFile[] = [];
  const problems: MultiprocProblem[] = [];
  let total = 0;
  for (const [name, symlink] of names) {
    if (!name.endsWith('.db')) continue; // not one of prometheus_client's (it globs *.db)
    const info = fileNameInfo(name);
    if (!info) {
      problems.push({ name, reason: 'not a name prometheus_client gives its files' });
      continue;
    }
    if ('unsupported' in info) {
      problems.push({ name, reason: info.unsupported });
      continue;
    }
    if (symlink) {
      problems.push({ name, reason: 'a symlink; not followed' });
      continue;
    }
    let buf: Buffer;
    try {
      buf = readFileBoundedSync(join(dir, name), `${where}: ${name}`, { maxBytes: limits.maxFileBytes, noFollow: true, check });
    } catch (e) {
      if (!(e instanceof SourceError)) throw e;
      // A live gauge's file goes when the server marks its process dead: between listing and reading.
      const said = `${where}: ${name} `;
      const reason = e.code === 'not_found' ? 'gone before it could be read' : e.message.startsWith(said) ? e.message.slice(said.length) : e.message;
      if (e.code !== 'not_found' || !info.mode?.startsWith('live')) problems.push({ name, reason });
      continue;
    }
    total += buf.length;
    if (total > limits.maxDirBytes) throw new SourceError('too_large', `${where} holds more than ${limits.maxDirBytes} bytes in its files (raise the directory size cap, or clear the files of dead processes)`);
    try {
      files.push({ name, ...info, bytes: buf.length, entries: decodeMmap(buf) });
    } catch (e) {
      if (!(e instanceof LayoutError)) throw e;
      problems.push({ name, reason: e.message });
    }
  }
  return { files, problems };
}

/** [name, is a symlink] of every entry, sorted by name (merging sums in that order), at most `max`. */
function listDir(dir: string, where: string, max: number): [string, boolean][] {
  const out: [string, boolean][] = [];
  let d: Dir | undefined;
  try {
    d = opendirSync(dir);
    for (let e = d.readSync(); e !== null; e = d.readSync()) {
      if (out.length >= max) throw new SourceError('too_large', `${where} holds more than ${max} entries (clear the files of dead processes, or raise the cap)`);
      out.push([e.name, e.isSymbolicLink()]);
    }
  } catch (e) {
    if (e instanceof SourceError) throw e;
    throw fromSystemError(e as NodeJS.ErrnoException, where);
  } finally {
    d?.closeSync();
  }
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** A label value of `le` as Python's float() reads it. */
function pyFloat(s: string): number {
  const t = s.trim().toLowerCase();
  if (/^[+-]?(inf|infinity)$/.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  if (/^[+-]?nan$/.test(t)) return NaN;
  return Number(t.replace(/_/g, ''));
}

/** Python's repr() of a float. */
function pyRepr(d: number): string {
  if (Number.isNaN(d)) return 'nan';
  if (!Number.isFinite(d)) return d > 0 ? 'inf' : '-inf';
  if (d === 0) return Object.is(d, -0) ? '-0.0' : '0.0';
  const [m, x] = d.toExponential().split('e') as [string, string];
  const e = Number(x);
  if (e < -4 || e >= 16) return `${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  const s = String(d); // fixed notation in this range
  return s.includes('.') ? s : `${s}.0`;
}

/** prometheus_client's utils.floatToGoString, quirks included (1e15 is '1e+015'): the `le` label
 *  MultiProcessCollector writes. */
export function floatToGoString(d: number): string {
  if (d === Infinity) return '+Inf';
  if (d === -Infinity) return '-Inf';
  if (Number.isNaN(d)) return 'NaN';
  const s = pyRepr(d);
  const dot = s.indexOf('.');
  if (d > 0 && dot > 6) {
    const mantissa = `${s[0]}.${s.slice(1, dot)}${s.slice(dot + 1)}`.replace(/[0.]+$/, '');
    return `${mantissa}e+0${dot - 1}`;
  }
  return s;
}

/** Sorted label items, as MultiProcessCollector keys its samples. */
const sortedItems = (labels: Record<string, string>) => Object.entries(labels).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
const keyOf = (name: string, items: [string, string][]) => `${name}\u0000${JSON.stringify(items)}`;
const toLabels = (items: [string, string][]) => {
  const out: Record<string, string> = {};
  for (const [k, v] of items) setLabel(out, k, v);
  return out;
};

interface Acc { name: string; type: MultiprocKind; help: string; mode?: GaugeMode; raw: { sample: string; items: [string, string][]; value: number }[] }

/** MultiProcessCollector.collect() on these files, named as generate_latest names the families
 *  (a counter family `x_total`), so the result equals parseExposition() of its /metrics. */
export function mergeMultiproc(files: readonly MultiprocFile[]): MetricFamily[] {
  const metrics = new Map<string, Acc>();
  for (const f of files) {
    for (const e of f.entries) {
      let m = metrics.get(e.metric);
      if (!m) metrics.set(e.metric, (m = { name: e.metric, type: f.kind, help: e.help, raw: [] }));
      const items = sortedItems(e.labels);
      if (f.kind === 'gauge') {
        m.mode = f.mode;
        items.push(['pid', f.pid]);
      }
      m.raw.push({ sample: e.sample, items, value: e.value });
    }
  }
  return [...metrics.values()].map(accumulate);
}

function accumulate(m: Acc): MetricFamily {
  const samples = new Map<string, { name: string; items: [string, string][]; value: number }>();
  const add = (name: string, items: [string, string][], value: number, how: (old: number, v: number) => number) => {
    const k = keyOf(name, items);
    const s = samples.get(k);
    if (s) s.value = how(s.value, value);
    else samples.set(k, { name, items, value: how(0, value) });
  };
  const sum = (a: number, v: number) => a + v;
  const buckets = new Map<string, { items: [string, string][]; values: Map<number, number> }>();
  for (const { sample, items, value } of m.raw) {
    if (m.type === 'gauge') {
      const withoutPid = items.filter(([k]) => k !== 'pid');
      const mode = m.mode ?? 'all';
      const k = keyOf(sample, withoutPid);
      if (mode === 'min' || mode === 'livemin' || mode === 'max' || mode === 'livemax') {
        const s = samples.get(k);
        const better = mode.endsWith('min') ? value < (s?.value ?? value) : value > (s?.value ?? value);
        if (!s) samples.set(k, { name: sample, items: withoutPid, value });
        else if (better) s.value = value;
      } else if (mode === 'sum' || mode === 'livesum') add(sample, withoutPid, value, sum);
      else add(sample, items, value, (_, v) => v);
    } else if (m.type === 'histogram') {
      const le = items.find(([k]) => k === 'le');
      if (!le) {
        add(sample, items, value, sum);
        continue;
      }
      const withoutLe = items.filter(([k]) => k !== 'le');
      const bk = JSON.stringify(withoutLe);
      let b = buckets.get(bk);
      if (!b) buckets.set(bk, (b = { items: withoutLe, values: new Map() }));
      const at = pyFloat(le[1]);
      b.values.set(at, (b.values.get(at) ?? 0) + value);
    } else add(sample, items, value, sum); // counters and summaries
  }
  for (const { items, values } of buckets.values()) {
    let acc = 0;
    for (const [at, v] of [...values].sort((a, b) => a[0] - b[0])) {
      acc += v;
      const k = keyOf(`${m.name}_bucket`, [...items, ['le', floatToGoString(at)]]);
      samples.set(k, { name: `${m.name}_bucket`, items: [...items, ['le', floatToGoString(at)]], value: acc });
    }
    add(`${m.name}_count`, items, acc, (_, v) => v);
  }
  const out: MetricSample[] = [...samples.values()].map((s) => ({ name: s.name, labels: toLabels(s.items), value: s.value }));
  return { name: m.type === 'counter' ? `${m.name}_total` : m.name, type: m.type, help: m.help, samples: out };
}
