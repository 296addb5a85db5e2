// Pure: one worker record of the format-2 hooks (conf/gunicorn_wsgistat.py), a fixed layout of
// unsigned 64-bit little-endian words that the worker updates in place. The constants mirror the
// W_* and SLOT_* names of the hooks; spec/sources/gunicorn-record.spec.ts checks them against it.

export const MAGIC = Buffer.from('WSGIST02', 'latin1');
export const W = {
  version: 1, seq: 2, ident: 3, pid: 4, master: 5, bootedUs: 6, slots: 7, buckets: 8, flags: 9,
  timeUs: 11, exceptions: 12, status: 13, statusOther: 18,
  inFlight: 19, taken: 20, settled: 21, conns: 22, aborted: 23,
} as const;
export const HEADER_WORDS = 32;
export const BUCKETS = 128;
export const SLOT_WORDS = 48;
const SLOTS0 = HEADER_WORDS + BUCKETS;
const SLOT = { line: 3, query: 20, host: 36 } as const;
export const FLAG_QUERY = 1;
export const FLAG_HOST = 2;

export interface InFlight { startUs: number; method: string; path: string; query?: string; host?: string }

export interface WorkerRecord {
  seq: number;
  ident: number;
  pid: number;
  master: number;
  bootedUs: number;
  flags: number;
  /** The sum of the status words: each ended request adds to exactly one. */
  requests: number;
  running_time: number;
  exceptions: number;
  /** status_1xx..status_5xx, then a status outside 100..599. */
  status: number[];
  statusOther: number;
  inFlight: number;
  /** gthread: connections taken, and settled (reached pre_request, or ended without a request):
   *  taken - settled wait for a thread. */
  taken: number;
  settled: number;
  conns: number;
  /** Requests the worker dropped as it was told to exit (gunicorn's timeout abort). */
  aborted: number;
  histogram: number[];
  /** The requests in flight, oldest first. */
  current: InFlight[];
}

/** A word as a number (the hooks' counters stay far below 2^53). */
const word = (b: Buffer, i: number) => b.readUInt32LE(i * 8) + b.readUInt32LE(i * 8 + 4) * 0x1_0000_0000;

export const recordBytes = (slots: number) => (SLOTS0 + slots * SLOT_WORDS) * 8;

/** The sequence word of a copy, or undefined if the copy is too short to be a record. */
export const seqOf = (b: Buffer) => (b.length >= HEADER_WORDS * 8 ? word(b, W.seq) : undefined);

/** Why a buffer is not a whole format-2 record, or undefined. */
export function recordProblem(b: Buffer): string | undefined {
  if (b.length < SLOTS0 * 8 || !b.subarray(0, 8).equals(MAGIC)) return 'not a wsgistat worker record';
  if (word(b, W.version) !== 2 || word(b, W.buckets) !== BUCKETS) return `a record of another layout (version ${word(b, W.version)})`;
  const slots = word(b, W.slots);
  if (slots < 1 || slots > 4096 || b.length !== recordBytes(slots)) return `a record of ${b.length} bytes, not the ${recordBytes(Math.min(slots, 4096))} its header says`;
  return undefined;
}

const text = (b: Buffer, word0: number, len: number) => b.toString('utf8', word0 * 8, word0 * 8 + len);

/** Now on both clocks: the hooks stamp a request with CLOCK_MONOTONIC (Python's monotonic_ns),
 *  the clock of Node's process.hrtime, and a request's start is now minus its age. */
export interface Clocks { monoNs: bigint; wallMs: number }
export const clocksNow = (): Clocks => ({ monoNs: process.hrtime.bigint(), wallMs: Date.now() });

export function parseRecord(b: Buffer, clocks: Clocks = clocksNow()): WorkerRecord {
  const slots = word(b, W.slots);
  const flags = word(b, W.flags);
  const current: (InFlight & { mono: number })[] = [];
  for (let s = 0; s < slots; s++) {
    const base = SLOTS0 + s * SLOT_WORDS;
    const mono = word(b, base);
    if (mono === 0) continue;
    const n = word(b, base + 2);
    const line = text(b, base + SLOT.line, Math.min(n & 0xff, 136));
    const space = line.indexOf(' ');
    const ageMs = Number(clocks.monoNs - b.readBigUInt64LE(base * 8)) / 1e6;
    const r: InFlight & { mono: number } = {
      mono, startUs: Math.round((clocks.wallMs - Math.max(0, ageMs)) * 1000),
      method: space === -1 ? line : line.slice(0, space), path: space === -1 ? '' : line.slice(space + 1),
    };
    if (flags & FLAG_QUERY) r.query = text(b, base + SLOT.query, Math.min((n >>> 16) & 0xff, 128));
    if (flags & FLAG_HOST) r.host = text(b, base + SLOT.host, Math.min((n >>> 24) & 0xff, 64));
    current.push(r);
  }
  current.sort((x, y) => x.mono - y.mono);
  const histogram: number[] = new Array(BUCKETS);
  for (let k = 0; k < BUCKETS; k++) histogram[k] = word(b, HEADER_WORDS + k);
  const status = [0, 1, 2, 3, 4].map((i) => word(b, W.status + i));
  const statusOther = word(b, W.statusOther);
  return {
    seq: word(b, W.seq), ident: word(b, W.ident), pid: word(b, W.pid), master: word(b, W.master), bootedUs: word(b, W.bootedUs), flags,
    requests: status.reduce((a, c) => a + c, statusOther), running_time: word(b, W.timeUs), exceptions: word(b, W.exceptions),
    status, statusOther,
    inFlight: word(b, W.inFlight), taken: word(b, W.taken), settled: word(b, W.settled), conns: word(b, W.conns), aborted: word(b, W.aborted),
    histogram, current: current.map(({ mono: _, ...r }) => r),
  };
}

/** Requests a worker has taken and not yet started on a thread (gthread), never negative. */
export const queuedOf = (r: WorkerRecord) => Math.max(0, r.taken - r.settled);

/** Takes a consistent copy of a record that its worker may be writing: two copies with the same
 *  even sequence word, or two identical copies (a record nobody writes now, such as one whose
 *  worker was killed in the middle of an update: each word of it is whole). */
export function consistentCopy(read: () => Buffer, tries = 200): { copy: Buffer; tries: number } | undefined {
  let a = read();
  for (let i = 1; i <= tries; i++) {
    const b = read();
    const s = seqOf(a);
    // (A copy too short to be a record is taken as it is when it holds still; recordProblem says why.)
    if ((s !== undefined && s % 2 === 0 && s === seqOf(b)) || a.equals(b)) return { copy: a, tries: i };
    a = b;
  }
  return undefined;
}
