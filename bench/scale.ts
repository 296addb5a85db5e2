// Scale (issue #18): how long wsgistat's own work takes on large servers, in process, medians.
//   uwsgi     a 1,000-worker x 16-core stats document (built from spec/fixtures/uwsgi/busy.json):
//             decoded, shaped into every record type, rated against the previous sample and
//             serialized to JSON lines. Goal: <= 15 ms. Also each step alone.
//   gunicorn  a format-2 hooks directory of 256 worker records (conf/gunicorn_wsgistat.py's
//             layout), whose pids are 256 real child processes of this one (the "master", so the
//             liveness checks are the real ones), in /dev/shm as the hooks keep it: one collect of the gunicorn source, rated and
//             serialized. Goal: <= 5 ms.
// The Prometheus source's 10,000 series are bench/prometheus.ts's. Run on demand:
// `npm run bench:scale`; env ROUNDS (40), CASE (uwsgi or gunicorn: that one only), YOUNG=hold (the
// young generation held at its first size, as a continuous run holds it for a small server:
// lib/heap.ts; for this one it lets it grow again after the first tick).

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { holdYoungGeneration, sizeYoungGenerationFor } from '../lib/heap.js';
import { applyRates } from '../lib/records/rates.js';
import { toJsonLine } from '../lib/records/serialize.js';
import { RECORD_TYPES, type Body, type Rec } from '../lib/records/types.js';
import { parseAddress } from '../lib/sources/address.js';
import { gunicornSource } from '../lib/sources/gunicorn/index.js';
import { BUCKETS, HEADER_WORDS, MAGIC, recordBytes, W } from '../lib/sources/gunicorn/record.js';
import { decodeJson } from '../lib/sources/json.js';
import { shapeUwsgi } from '../lib/sources/uwsgi/shape.js';

const ROUNDS = Number(process.env.ROUNDS ?? 40);
const FIXTURE = fileURLToPath(new URL('../../spec/fixtures/uwsgi/busy.json', import.meta.url));
const SHAPE = { records: new Set(RECORD_TYPES), vars: { kind: 'none' } as const };

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

/** A uWSGI document of `workers` workers of `cores` cores each, from the fixture's first worker;
 *  `served` moves every counter, so that the second sample gets rates. */
function bigDocument(workers: number, cores: number, served: number): Buffer {
  const doc = JSON.parse(readFileSync(FIXTURE, 'utf8'));
  const w0 = doc.workers[0];
  const c0 = w0.cores[0];
  doc.workers = Array.from({ length: workers }, (_, i) => ({
    ...w0, id: i + 1, pid: 100000 + i, requests: w0.requests + served, running_time: w0.running_time + served * 100, tx: w0.tx + served * 50,
    cores: Array.from({ length: cores }, (_, k) => ({ ...c0, id: k, requests: c0.requests + served })),
  }));
  return Buffer.from(JSON.stringify(doc));
}

/** Stamps the common fields as the pipeline does, and serializes as the stdout output writes a
 *  tick: its records' JSON lines as one string, encoded to the bytes written. */
function serialize(bodies: Body[]): number {
  let out = '';
  for (const b of bodies) {
    b.time = 1;
    b.host = 'h';
    b.source = 'unix:///run/app.stats';
    b.server = 'uwsgi';
    out += toJsonLine(b as Rec);
  }
  return Buffer.from(out, 'utf8').length;
}

/** Decoded and shaped as the source does it: the document is garbage once shaped, as it is when
 *  the source's collect returns (held any longer, every scavenge would copy its 18,000 objects). */
function decodeAndShape(bytes: Buffer): { bodies: Body[]; t1: bigint } {
  const doc = decodeJson(bytes, 'bench').value;
  const t1 = process.hrtime.bigint();
  return { bodies: shapeUwsgi(doc, SHAPE), t1 };
}

function uwsgiCase(): void {
  const first = bigDocument(1000, 16, 0);
  const second = bigDocument(1000, 16, 7);
  const prev = applyRates(shapeUwsgi(decodeJson(first, 'bench').value, SHAPE), 0, undefined, 600_000).state;
  const steps = { decode: [] as number[], shape: [] as number[], rates: [] as number[], serialize: [] as number[], all: [] as number[] };
  let records = 0;
  let bytes = 0;
  for (let i = 0; i < ROUNDS + 5; i++) {
    const t0 = process.hrtime.bigint();
    const { bodies, t1 } = decodeAndShape(second);
    const t2 = process.hrtime.bigint();
    applyRates(bodies, 10_000, prev, 600_000);
    const t3 = process.hrtime.bigint();
    bytes = serialize(bodies);
    const all = ms(t0);
    sizeYoungGenerationFor(bodies.length); // as a continuous run does after each tick
    records = bodies.length;
    if (i < 5) continue; // warm-up
    steps.decode.push(Number(t1 - t0) / 1e6);
    steps.shape.push(Number(t2 - t1) / 1e6);
    steps.rates.push(Number(t3 - t2) / 1e6);
    steps.serialize.push(all - Number(t3 - t0) / 1e6);
    steps.all.push(all);
  }
  console.log(`uwsgi: 1,000 workers x 16 cores, ${(second.length / 1024 / 1024).toFixed(1)} MiB of JSON -> ${records} records, ${(bytes / 1024 / 1024).toFixed(1)} MiB of JSON lines`);
  for (const [k, v] of Object.entries(steps)) console.log(`  ${k.padEnd(10)} ${median(v).toFixed(2)} ms median`);
  console.log(`  goal (all <= 15 ms): ${median(steps.all) <= 15 ? 'met' : 'not met'}`);
}

/** A worker record as the hooks write it: pid, master, ident and `ok` 2xx responses. */
function record(pid: number, master: number, ident: number, ok: number): Buffer {
  const b = Buffer.alloc(recordBytes(1));
  MAGIC.copy(b, 0);
  const set = (i: number, v: number) => b.writeBigUInt64LE(BigInt(v), i * 8);
  set(W.version, 2);
  set(W.slots, 1);
  set(W.buckets, BUCKETS);
  set(W.pid, pid);
  set(W.master, master);
  set(W.ident, ident);
  set(W.status + 1, ok);
  set(W.timeUs, ok * 100);
  set(HEADER_WORDS + 40, ok); // the latency histogram follows the header
  return b;
}

async function gunicornCase(): Promise<void> {
  // Where the hooks keep it by default: tmpfs.
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'wsgistat-bench-'));
  const hooks = join(dir, 'hooks');
  mkdirSync(hooks, { mode: 0o700 });
  // 256 "workers": real processes, children of this one, alive for the run (bounded: 120 s).
  const kids: ChildProcess[] = Array.from({ length: 256 }, () => spawn('sleep', ['120'], { stdio: 'ignore' }));
  try {
    writeFileSync(join(hooks, 'master.json'), JSON.stringify({ format: 'wsgistat-gunicorn/2', pid: process.pid, workers: 256, worker_class: 'sync', bind: [] }));
    kids.forEach((k, i) => writeFileSync(join(hooks, `worker-${k.pid}.bin`), record(k.pid!, process.pid, i + 1, 1000 + i)));
    const source = gunicornSource({ address: parseAddress(`gunicorn://${hooks}`), timeoutMs: 2000, maxBytes: 1 << 20, listen: 'none' }, SHAPE);
    let prev = applyRates((await source.collect()).bodies, 0, undefined, 600_000).state;
    // The steady state of a server: its workers' files were made a while ago (the source checks
    // every kept file again while its directory has changed within the last second).
    await new Promise((r) => setTimeout(r, 1100));
    const times: number[] = [];
    let records = 0;
    for (let i = 0; i < ROUNDS + 5; i++) {
      const t0 = process.hrtime.bigint();
      const sample = await source.collect();
      prev = applyRates(sample.bodies, (i + 1) * 10_000, prev, 600_000, { histograms: sample.histograms, ownTotals: sample.ownTotals }).state;
      serialize(sample.bodies);
      records = sample.bodies.length;
      if (i >= 5) times.push(ms(t0));
    }
    console.log(`gunicorn: a hooks directory of 256 worker records (live pids) -> ${records} records`);
    console.log(`  collect+rates+serialize ${median(times).toFixed(2)} ms median`);
    console.log(`  goal (<= 5 ms): ${median(times) <= 5 ? 'met' : 'not met'}`);
  } finally {
    for (const k of kids) k.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`node ${process.version}, ${ROUNDS} rounds after 5 of warm-up\n`);
  if (process.env.YOUNG === 'hold') holdYoungGeneration();
  // CASE=uwsgi|gunicorn runs one of them.
  if (process.env.CASE !== 'gunicorn') uwsgiCase();
  if (process.env.CASE !== 'uwsgi') await gunicornCase();
}
