// Sustained delivery over the forward protocol, with an ack per chunk (issue #15 goal: at least
// 100,000 records per second to a fast receiver; the real Fluentd's figure beside it).
// `npm run bench:forward` (ROUNDS=N for more than 5 rounds, BATCH=N for one batch size, FLUENTD=0 to
// leave the real one out).
//
// Three figures, for batches of 1,000 and 10,000 records:
// - encode: packBatch alone (JSON lines, as the backlog keeps them, to one PackedForward message);
// - fast receiver: a receiver in its own process that reads each message, counts its `size`
//   and acks its chunk at once without decoding the events (the least a receiver can do), so that
//   wsgistat's side is what is timed;
// - Fluentd: a real Fluentd 1.15.3 in_forward (spec/helpers/fluentd.ts), events to a null output
//   whose count monitor_agent reports, so that every record is checked to have arrived.
// wsgistat's side is the real sink: the delivery sink with its backlog and spool, the forward
// transport, one chunk in flight, waiting for its ack. Records are a uWSGI summary and workers
// shaped from a captured stats document, copied to batch size. Medians of the rounds.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deliverySink } from '../lib/sinks/delivery.js';
import { forwardTransport } from '../lib/sinks/forward/transport.js';
import { packBatch } from '../lib/sinks/forward/wire.js';
import { PackWriter } from '../lib/sinks/forward/writer.js';
import { Spool } from '../lib/sinks/spool.js';
import { toJson } from '../lib/records/serialize.js';
import { decodeJson } from '../lib/sources/json.js';
import { shapeUwsgi } from '../lib/sources/uwsgi/shape.js';
import type { Rec } from '../lib/records/types.js';
import { startFluentdWith, FLUENTD } from '../spec/helpers/fluentd.js';
import { freePort } from '../spec/helpers/servers.js';

const ROUNDS = Math.max(5, Number(process.env.ROUNDS ?? 5));
const BATCHES = process.env.BATCH ? [Number(process.env.BATCH)] : [1_000, 10_000];
const TOTAL = 200_000;

// Reads [tag, bin, {size, chunk}] messages as wsgistat writes them, skipping the bin's bytes
// without copying or decoding them (@msgpack/msgpack's stream decoder copies its buffer at every
// chunk: quadratic in a 4 MB message, and slower than the sender); counts size; acks the chunk.
const RECEIVER = `
const net = require('node:net');
const { encode } = require('@msgpack/msgpack');
let events = 0;
const server = net.createServer(async (s) => {
  const q = [];
  let have = 0, wake = null, closed = false;
  s.on('data', (d) => { q.push(d); have += d.length; if (wake) { const w = wake; wake = null; w(); } });
  s.on('close', () => { closed = true; if (wake) wake(); });
  s.on('error', () => {});
  const need = async (n) => { while (have < n) { if (closed) throw new Error('closed'); await new Promise((r) => (wake = r)); } };
  const drop = (n) => { have -= n; while (n > 0) { const c = q[0]; if (c.length <= n) { n -= c.length; q.shift(); } else { q[0] = c.subarray(n); n = 0; } } };
  const take = async (n) => { await need(n); const out = Buffer.allocUnsafe(n); let o = 0; while (o < n) { const c = q[0]; const k = Math.min(c.length, n - o); c.copy(out, o, 0, k); o += k; if (k === c.length) q.shift(); else q[0] = c.subarray(k); } have -= n; return out; };
  const length = async (t, small, b8, b16, b32) => (t & small.mask) === small.tag ? t & ~small.mask : t === b8 ? (await take(1))[0] : t === b16 ? (await take(2)).readUInt16BE(0) : t === b32 ? (await take(4)).readUInt32BE(0) : NaN;
  const str = async () => { const t = (await take(1))[0]; const n = await length(t, { mask: 0xe0, tag: 0xa0 }, 0xd9, 0xda, 0xdb); return (await take(n)).toString(); };
  const uint = async () => { const t = (await take(1))[0]; return t < 0x80 ? t : t === 0xcc ? (await take(1))[0] : t === 0xcd ? (await take(2)).readUInt16BE(0) : (await take(4)).readUInt32BE(0); };
  try {
    for (;;) {
      if ((await take(1))[0] !== 0x93) throw new Error('not a PackedForward message');
      await str();
      const bin = await length((await take(1))[0], { mask: 0xff, tag: -1 }, 0xc4, 0xc5, 0xc6);
      await need(bin);
      drop(bin);
      await take(1); // fixmap 2
      const opt = {};
      for (let i = 0; i < 2; i++) { const k = await str(); opt[k] = k === 'size' ? await uint() : await str(); }
      events += opt.size;
      s.write(encode({ ack: opt.chunk }));
    }
  } catch {}
});
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
process.on('message', () => process.send(events));
`;

function records(n: number): Rec[] {
  const doc = readFileSync(fileURLToPath(new URL('../../spec/fixtures/uwsgi/busy.json', import.meta.url)));
  const bodies = shapeUwsgi(decodeJson(doc, 'bench').value, { records: new Set(['summary', 'worker']), vars: { kind: 'none' } });
  const out: Rec[] = [];
  for (let i = 0; out.length < n; i++) {
    const b = bodies[i % bodies.length]!;
    out.push({ ...b, time: 1795000000 + i / 1000, host: 'bench', source: 'unix:///run/uwsgi/app.stats', server: 'uwsgi' } as Rec);
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const fmt = (n: number) => Math.round(n).toLocaleString('en');

/** records/s of packBatch alone, over about TOTAL records. Each batch's lines are made anew by the
 *  serializer, untimed, as the sink makes them: lines parsed again and again would be flat strings
 *  already, and faster than a sink's ever are. */
function encodeRate(perBatch: number): number {
  const recs = records(perBatch);
  const writer = new PackWriter();
  packBatch('bench.stats', recs.map(toJson), writer); // warm
  const n = Math.max(1, Math.round(TOTAL / perBatch));
  let ns = 0n;
  for (let i = 0; i < n; i++) {
    const lines = recs.map(toJson);
    const start = process.hrtime.bigint();
    packBatch('bench.stats', lines, writer);
    ns += process.hrtime.bigint() - start;
  }
  return (n * perBatch) / (Number(ns) / 1e9);
}

/** records/s through the real sink to a forward receiver, every record counted there. */
async function deliverRate(port: number, perBatch: number, count: () => Promise<number>): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'wsgistat-bench-'));
  try {
    const name = `forward://127.0.0.1:${port}/bench.stats`;
    const transport = forwardTransport({ name, tag: 'bench.stats', servers: [{ host: '127.0.0.1', port, weight: 1, standby: false }], ackTimeoutMs: 30_000, connect: { connectTimeoutMs: 5000 } });
    const sink = deliverySink(transport, { spool: new Spool(dir, 1024 * 1024 * 1024), retryForMs: 30_000 });
    const batch = records(perBatch);
    const batches = Math.max(2, Math.round(TOTAL / perBatch));
    const before = await count();
    const start = process.hrtime.bigint();
    for (let i = 0; i < batches; i++) {
      await sink.write(batch);
      // Keep a batch or two queued behind the one in flight, as a receiver that keeps up does; a
      // 1 ms poll, not setImmediate, which would spin and take the CPU the sender needs.
      while (sink.pending() > 2 * perBatch) await new Promise((r) => setTimeout(r, 1));
    }
    await sink.idle();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    await sink.close(0);
    const want = batches * perBatch;
    const got = await waitCount(count, before + want);
    if (got !== before + want) throw new Error(`the receiver counted ${got - before} events of ${want}`);
    return want / seconds;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The count once it reaches `want` (Fluentd's monitor lags its acks a little), bounded. */
async function waitCount(count: () => Promise<number>, want: number): Promise<number> {
  let got = await count();
  for (let i = 0; i < 100 && got < want; i++) {
    await new Promise((r) => setTimeout(r, 100));
    got = await count();
  }
  return got;
}

async function fastReceiver(): Promise<{ port: number; count: () => Promise<number>; stop(): void }> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const child = spawn(process.execPath, ['-e', RECEIVER], { cwd: root, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve) => child.stdout!.once('data', (d) => resolve(Number(String(d).trim()))));
  const count = () => new Promise<number>((resolve) => {
    child.once('message', (m) => resolve(m as number));
    child.send('count');
  });
  return { port, count, stop: () => child.kill() };
}

/** A real Fluentd: in_forward, events counted by a null output that monitor_agent reports on. */
async function realFluentd(): Promise<{ port: number; count: () => Promise<number>; stop(): Promise<void> }> {
  const monitor = await freePort();
  const f = await startFluentdWith((port) => `<source>
  @type forward
  bind 127.0.0.1
  port ${port}
</source>
<source>
  @type monitor_agent
  bind 127.0.0.1
  port ${monitor}
</source>
<match bench.**>
  @type null
  @id counted
</match>
`);
  const count = async () => {
    const r = await fetch(`http://127.0.0.1:${monitor}/api/plugins.json`);
    const body = (await r.json()) as { plugins: { plugin_id: string; emit_records?: number }[] };
    return body.plugins.find((p) => p.plugin_id === 'counted')?.emit_records ?? 0;
  };
  return { port: f.port, count, stop: () => f.dispose() };
}

async function table(title: string, rate: (perBatch: number) => Promise<number>): Promise<void> {
  for (const perBatch of BATCHES) {
    const rates: number[] = [];
    for (let i = 0; i < ROUNDS; i++) rates.push(await rate(perBatch));
    console.log(title.padEnd(34) + String(perBatch).padEnd(10) + fmt(median(rates)).padEnd(12) + `${fmt(Math.min(...rates))} .. ${fmt(Math.max(...rates))}`);
  }
}

async function main() {
  console.log(`node ${process.version}; ${ROUNDS} rounds of about ${fmt(TOTAL)} records each; records/s, median and range\n`);
  console.log('case'.padEnd(34) + 'batch'.padEnd(10) + 'median'.padEnd(12) + 'min .. max');
  await table('encode (packBatch) alone', async (n) => encodeRate(n));
  const fast = await fastReceiver();
  try {
    await table('to a fast receiver, with acks', (n) => deliverRate(fast.port, n, fast.count));
  } finally {
    fast.stop();
  }
  if (process.env.FLUENTD === '0') return;
  const f = await realFluentd().catch((e: Error) => {
    console.log(`(no real Fluentd from ${FLUENTD}: ${e.message.split('\n')[0]})`);
    return undefined;
  });
  if (!f) return;
  try {
    await table('to Fluentd 1.15.3 in_forward, acks', (n) => deliverRate(f.port, n, f.count));
  } finally {
    await f.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
