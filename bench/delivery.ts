// Sustained delivery to a local in_http-compatible receiver (issue #5 goal: at least 50,000
// records per second). `npm run bench:delivery`.
//
// The receiver runs in its own process (as Fluentd would), on 127.0.0.1: it parses each POSTed
// JSON array as in_http does, counts the events, answers 200 on a kept-alive connection. wsgistat's
// side is the real sink: records serialized by the precompiled serializers, one batch per write,
// sent by delivery.ts over got. Records are real: a uWSGI summary and worker records shaped from a
// captured stats document, copied to make batches of the given size. Each case runs 5 times; the
// median is reported.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deliverySink, QUEUE_MAX } from '../lib/sinks/delivery.js';
import { fluentdTransport } from '../lib/sinks/http.js';
import { parseOutput, type HttpOutput } from '../lib/sinks/outputs.js';
import { Spool } from '../lib/sinks/spool.js';
import { decodeJson } from '../lib/sources/json.js';
import { shapeUwsgi } from '../lib/sources/uwsgi/shape.js';
import type { Rec } from '../lib/records/types.js';

const RECEIVER = `
const http = require('node:http');
let events = 0;
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let v;
    try { v = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { res.end(); return; }
    const list = Array.isArray(v) ? v : [v];
    for (const e of list) { if (typeof e.time === 'string') { res.writeHead(400).end('400 Bad Request\\n'); return; } delete e.time; }
    events += list.length;
    res.end();
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
process.on('message', () => process.send(events));
`;

function records(perBatch: number): Rec[] {
  const doc = readFileSync(fileURLToPath(new URL('../../spec/fixtures/uwsgi/busy.json', import.meta.url)));
  const bodies = shapeUwsgi(decodeJson(doc, 'bench').value, { records: new Set(['summary', 'worker']), vars: { kind: 'none' } });
  const out: Rec[] = [];
  for (let i = 0; out.length < perBatch; i++) {
    const b = bodies[i % bodies.length]!;
    out.push({ ...b, time: 1795000000 + i / 1000, host: 'bench', source: 'unix:///run/uwsgi/app.stats', server: 'uwsgi' } as Rec);
  }
  return out;
}

async function once(port: number, perBatch: number, total: number, events: () => Promise<number>): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'wsgistat-bench-'));
  try {
    const out = parseOutput(`http://127.0.0.1:${port}/bench.stats`) as HttpOutput;
    const sink = deliverySink(await fluentdTransport(out, { timeoutMs: 5000 }), { spool: new Spool(dir, 64 * 1024 * 1024), retryForMs: 5000 });
    const batch = records(perBatch);
    const before = await events();
    const start = process.hrtime.bigint();
    for (let sent = 0; sent < total; sent += perBatch) {
      await sink.write(batch);
      // Keep the queue in memory, as a receiver that keeps up does: wait when it is half full.
      if (sink.pending() > (QUEUE_MAX / 2) * perBatch) await waitBelow(sink, (QUEUE_MAX / 4) * perBatch);
    }
    await sink.idle();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const got = (await events()) - before;
    await sink.close(0);
    if (got !== Math.ceil(total / perBatch) * perBatch) throw new Error(`receiver counted ${got} events`);
    return got / seconds;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function waitBelow(sink: { pending(): number }, n: number): Promise<void> {
  while (sink.pending() > n) await new Promise((r) => setImmediate(r));
}

async function main() {
  const child = spawn(process.execPath, ['-e', RECEIVER], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve) => child.stdout!.once('data', (d) => resolve(Number(String(d).trim()))));
  const events = () => new Promise<number>((resolve) => {
    child.once('message', (m) => resolve(m as number));
    child.send('count');
  });
  try {
    console.log(`node ${process.version}; receiver: in_http-compatible, its own process, 127.0.0.1:${port}\n`);
    console.log('records per batch'.padEnd(20) + 'records sent'.padEnd(15) + 'records/s (median of 5)'.padEnd(26) + 'min'.padEnd(10) + 'max');
    for (const [perBatch, total] of [[3, 60_000], [50, 200_000], [500, 500_000]] as const) {
      const rates: number[] = [];
      for (let i = 0; i < 5; i++) rates.push(await once(port, perBatch, total, events));
      rates.sort((a, b) => a - b);
      console.log(String(perBatch).padEnd(20) + String(total).padEnd(15) + Math.round(rates[2]!).toLocaleString('en').padEnd(26) +
        Math.round(rates[0]!).toLocaleString('en').padEnd(10) + Math.round(rates[4]!).toLocaleString('en'));
    }
  } finally {
    child.kill();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
