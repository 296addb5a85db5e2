// The load client of bench/gunicorn.ts, run by it as a child process so that the orchestrator's
// own timers and pipes stay out of the measured window:
//   node dist/bench/load.js PORT CONNECTIONS WARMUP_MS DURATION_MS
// Keeps CONNECTIONS requests in flight against 127.0.0.1:PORT, each on a new raw TCP connection
// (no keep-alive: gunicorn's sync worker closes after every response, and every case gets the
// same client), writing a fixed `GET / HTTP/1.0` and reading to the server's close. The first
// WARMUP_MS are not counted; then 200 responses completed within DURATION_MS are. Requests still in
// flight at the end are let finish (bounded) and not counted. Prints a line `window` when the
// window starts and `end` when it ends (the orchestrator reads the workers' CPU time then), and
// last one JSON line:
//   { ok, seconds, bad, errors, firstError }
// ok: 200s completed in the window; seconds: the window's measured length; bad: non-200 responses
// and errors: failed or timed-out connections, both over the whole run, warm-up included.

import net from 'node:net';

const [port, connections, warmupMs, durationMs] = process.argv.slice(2).map(Number) as [number, number, number, number];
const REQUEST = Buffer.from('GET / HTTP/1.0\r\n\r\n');
/** One request's bound: a connection that takes longer is an error. */
const REQUEST_TIMEOUT_MS = 10_000;
/** How long the requests in flight at the end may take to finish before they are cut. */
const DRAIN_MS = 5_000;

let phase: 'warmup' | 'window' | 'done' = 'warmup';
let ok = 0;
let bad = 0;
let errors = 0;
let firstError = '';
let windowStart = 0;
let windowEnd = 0;
let active = 0;
const sockets = new Set<net.Socket>();

let finished = false;
function finish(): void {
  if (finished) return;
  finished = true;
  const seconds = (windowEnd - windowStart) / 1000;
  // Exit once the line is written: stdout may be a pipe, whose writes are asynchronous.
  process.stdout.write(JSON.stringify({ ok, seconds, bad, errors, firstError }) + '\n', () => process.exit(0));
}

/** Sends one request on a new connection; when it ends, starts the next, until the window is over. */
function request(): void {
  if (phase === 'done') {
    if (--active === 0) finish();
    return;
  }
  const s = net.connect({ host: '127.0.0.1', port });
  sockets.add(s);
  // The status line's first bytes: "HTTP/1.1 200 ..." (only these are kept).
  let head = '';
  let failed = false;
  s.setNoDelay(true);
  s.setTimeout(REQUEST_TIMEOUT_MS, () => s.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
  s.on('connect', () => s.write(REQUEST));
  s.on('data', (d: Buffer) => {
    if (head.length < 12) head += d.toString('latin1', 0, Math.min(d.length, 12));
  });
  s.on('error', (e) => {
    failed = true;
    errors++;
    firstError ||= e.message;
  });
  s.on('close', () => {
    sockets.delete(s);
    if (!failed) {
      if (head.startsWith('HTTP/') && head.slice(9, 12) === '200') {
        if (phase === 'window') ok++;
      } else {
        bad++;
        firstError ||= `status line ${JSON.stringify(head)}`;
      }
    }
    request();
  });
}

setTimeout(() => {
  phase = 'window';
  windowStart = performance.now();
  process.stdout.write('window\n');
  setTimeout(() => {
    phase = 'done';
    windowEnd = performance.now();
    process.stdout.write('end\n');
    // The last requests get DRAIN_MS to finish, then are cut; either way the report is written.
    setTimeout(() => {
      for (const s of sockets) s.destroy();
      finish();
    }, DRAIN_MS).unref();
  }, durationMs);
}, warmupMs);

active = connections;
for (let i = 0; i < connections; i++) request();
