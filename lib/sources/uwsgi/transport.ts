// Reads one stats document from a uWSGI stats server over a unix, abstract or TCP socket.
//
// Raw mode (uWSGI's default): the master writes the document on accept and closes; we send
// nothing and read to EOF. HTTP mode (--stats-http): the master waits up to its socket-timeout
// (4 s) for request bytes and serves no other stats client meanwhile, so we send at once.
// Users confuse the two, and confuse the stats server with the application's sockets. A raw read
// never sends a byte to find out: any byte sent to a uWSGI `socket` or `http-socket` makes uWSGI
// log an error, and a request sent to an application is served by it. So a raw read that gets no
// byte within a short probe window asks the caller what the socket is (advice.ts, from /proc):
// a raw stats server that is slow is waited for, a --stats-http one is read again over HTTP, and
// anything else is closed with nothing sent and a message that says what to use. An HTTP read
// that gets a bare document keeps it. The caller is told which mode the server was really in.
//
// Two facts of real uWSGI 2.0.21 shape the retries below:
// - A raw server that gets request bytes closes with them unread, and the kernel then resets our
//   side before we read its document (almost always on unix sockets). So a reset before any byte
//   arrived is retried once as a plain raw read.
// - uWSGI binds an abstract socket `@name` with the name's terminating NUL included, so `\0name`
//   is refused and `\0name\0` is the address; we try uWSGI's form first, then the plain one.
//   Node 20's net pads every abstract address to the full 108-byte sun_path, which reaches
//   neither, so abstract names are connected through the optional `abstract-socket` addon (exact
//   address length), loaded only when an abstract address is read.

import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { basename, dirname, relative } from 'node:path';
import type { Address } from '../endpoint.js';
import { describeEndpoint } from '../endpoint.js';
import { SourceError, describeBytes, fromSystemError } from '../../errors.js';

export interface ReadLimits {
  /** Whole read: connect, request, answer. */
  timeoutMs: number;
  /** Bytes on the wire, headers included. */
  maxBytes: number;
}

export interface Fetched {
  /** The JSON document's bytes (HTTP headers removed). */
  payload: Buffer;
  /** The mode the server answered in, whatever the address said. */
  served: 'raw' | 'http';
  /** Whether an HTTP request was sent (an HTTP answer to none is not uWSGI's stats server). */
  requested?: boolean;
}

/** How long a raw read waits for the first byte before it asks what the socket is. A raw master
 *  answers in well under a millisecond; an HTTP-mode master would otherwise hold us for its full
 *  4 s, and an application socket until its own timeout. */
export const PROBE_MS = 250;

/** What a raw read does when nothing came within the probe window: `wait` for the rest of the
 *  timeout (a raw stats server, slow), read again over `http` (a --stats-http server), or `fail`
 *  with this error (anything else; the connection is closed with nothing sent). */
export type Verdict = { do: 'wait'; note?: string } | { do: 'http' } | { do: 'fail'; error: SourceError };
export type OnSilence = (addr: Address, waitedMs: number) => Promise<Verdict>;

const seconds = (ms: number) => `${+(ms / 1000).toFixed(3)}s`;

function httpRequest(addr: Address): string {
  const host = addr.endpoint.kind === 'tcp' ? describeEndpoint(addr.endpoint) : 'localhost';
  return `GET ${addr.httpPath} HTTP/1.0\r\nHost: ${host}\r\nUser-Agent: wsgistat\r\nAccept: application/json\r\n\r\n`;
}

type Target = { path: string; abstract?: boolean } | { host: string; port: number };
/** Send the HTTP request at once (`now`); send nothing and ask what the socket is after the probe
 *  window (`probe`); send nothing and wait (`never`). */
type Send = 'now' | 'probe' | 'never';

type AbstractConnect = (name: string, onConnect: () => void) => Socket;
let abstractConnect: AbstractConnect | null | undefined;

/** The optional native addon for exact-length abstract addresses, or null when not installed. */
function abstractAddon(): AbstractConnect | null {
  if (abstractConnect === undefined) {
    try {
      abstractConnect = (createRequire(import.meta.url)('abstract-socket') as { connect: AbstractConnect }).connect;
    } catch {
      abstractConnect = null;
    }
  }
  return abstractConnect;
}

/** sun_path is 108 bytes: a path with its terminating NUL, or an abstract name after its NUL. */
const SUN_PATH = 108;

/** A path too long for a unix socket address. Node would cut it and connect to whatever the cut
 *  path names, so it is refused here; the same path relative to the working directory is used
 *  when that one fits (uWSGI binds a relative `stats` path as given). */
function socketPath(path: string, where: string): string {
  const bytes = Buffer.byteLength(path);
  if (bytes < SUN_PATH) return path;
  const rel = relative(process.cwd(), path);
  if (Buffer.byteLength(rel) < SUN_PATH) return rel;
  throw new SourceError('io_error', `${where}: the path is ${bytes} bytes, and a unix socket address holds at most ${SUN_PATH - 1} ` +
    `(sun_path is ${SUN_PATH} bytes with its NUL): give the server a shorter socket path, or reach this one through a ` +
    `symlink to its directory (ln -s ${dirname(path)} /run/wsgistat-x, then unix:///run/wsgistat-x/${basename(path)})`);
}

/** Where to connect, in the order to try. */
function targets(addr: Address): Target[] {
  const ep = addr.endpoint;
  if (ep.kind === 'tcp') return [{ host: ep.host, port: ep.port }];
  if (ep.kind === 'file') throw new Error('file endpoints are not read over a socket');
  if (!ep.path.startsWith('\0')) return [{ path: socketPath(ep.path, describeEndpoint(ep)) }];
  if (Buffer.byteLength(ep.path) + 1 > SUN_PATH) {
    throw new SourceError('io_error', `${describeEndpoint(ep)}: the name is ${Buffer.byteLength(ep.path) - 1} bytes, and uWSGI's form of an abstract address holds at most ${SUN_PATH - 2}: give the server a shorter name`);
  }
  return abstractAddon()
    ? [{ path: `${ep.path}\0`, abstract: true }, { path: ep.path, abstract: true }]
    : [{ path: ep.path }];
}

/** One read buffer for every socket: without it, Node allocates 64 KiB for each read. Chunks
 *  are copied out of it at once, so concurrent reads can share it. */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

function openSocket(target: Target, onConnect: () => void, onChunk: (chunk: Buffer) => void): Socket {
  if ('abstract' in target && target.abstract) {
    const socket = abstractAddon()!(target.path, onConnect);
    socket.on('data', onChunk);
    return socket;
  }
  const onread = {
    buffer: READ_BUFFER,
    callback: (n: number, buf: Uint8Array) => {
      onChunk(Buffer.from(buf.subarray(0, n)));
      return true; // keep reading
    },
  };
  return 'path' in target
    ? net!.connect({ path: target.path, onread }, onConnect)
    : net!.connect({ host: target.host, port: target.port, onread }, onConnect);
}

/** Why an abstract socket may be refused when the addon is missing. */
const NO_ADDON = ' (uWSGI binds abstract names in a form Node 20 cannot address without the optional ' +
  'abstract-socket module, which needs a C++ compiler at install time; reinstall with one, or give uWSGI a path socket)';

/** node:net, loaded by the first socket read: a run that reads only files (gunicorn's hooks
 *  directory, file:, prometheus_client's directory) and writes stdout by descriptor then loads
 *  none of Node's socket and stream modules. */
let net: typeof import('node:net') | undefined;

/** A reset before the first byte: the server was raw and our request made it reset. */
class ResetBeforeAnswer extends SourceError {}

/** Reads the whole answer of a stats server, bounded in time (over all attempts) and size.
 *  `onSilence` decides what a raw read does when nothing came within the probe window. */
export async function fetchStats(addr: Address, limits: ReadLimits, onSilence?: OnSilence): Promise<Fetched> {
  const started = Date.now();
  net ??= await import('node:net');
  const left = () => Math.max(1, limits.timeoutMs - (Date.now() - started));
  const all = targets(addr);
  let send: Send = addr.mode === 'http' ? 'now' : onSilence ? 'probe' : 'never';
  const ask = async (waitedMs: number): Promise<Verdict> => {
    const verdict = await onSilence!(addr, waitedMs);
    if (verdict.do === 'http') send = 'now';
    return verdict;
  };
  for (let i = 0; ; ) {
    try {
      return await readOnce(addr, all[i]!, send, { timeoutMs: left(), maxBytes: limits.maxBytes }, limits.timeoutMs, ask);
    } catch (e) {
      if (e instanceof ResetBeforeAnswer && send !== 'never') {
        send = 'never';
        continue;
      }
      if (e instanceof ReadOverHttp) continue;
      if (e instanceof SourceError && e.code === 'connection_refused' && i + 1 < all.length) {
        i++;
        continue;
      }
      throw e;
    }
  }
}

/** The probe's verdict was `http`: this connection is closed unused and the read made again. */
class ReadOverHttp extends Error {}

type Got = { connected: boolean; requested: boolean; chunks: Buffer[]; size: number; note?: string };

/** Why a read timed out: no connection, a part of a document, or nothing at all. */
function silence(where: string, t: string, got: Got): SourceError {
  if (!got.connected) return new SourceError('timeout', `no connection to ${where} within ${t}`);
  if (got.size > 0) return new SourceError('timeout', `${where} sent ${got.size} bytes but did not finish within ${t} (${describeBytes(Buffer.concat(got.chunks))})`);
  return new SourceError('timeout', `${where} accepted the connection but sent nothing within ${t}` +
    (got.requested ? ' after an HTTP request (is it a uWSGI stats server? is the master stuck?)' : '') + (got.note ? `: ${got.note}` : ''));
}

function readOnce(addr: Address, target: Target, send: Send, limits: ReadLimits, totalMs: number, ask: (waitedMs: number) => Promise<Verdict>): Promise<Fetched> {
  const where = describeEndpoint(addr.endpoint);
  return new Promise((resolve, reject) => {
    const got: Got = { connected: false, requested: false, chunks: [], size: 0 };
    let settled = false;
    let probe: NodeJS.Timeout | undefined;
    const window = Math.min(PROBE_MS, totalMs / 3);
    // Nothing within the window: what the socket is decides; nothing is ever sent to find out.
    const judge = () => {
      if (got.size > 0 || settled) return;
      ask(window).then((v) => {
        if (got.size > 0 || settled) return;
        if (v.do === 'wait') got.note = v.note;
        else settle(v.do === 'http' ? new ReadOverHttp() : v.error);
      }, (e: unknown) => settle(e as Error));
    };
    const socket = openSocket(target, () => {
      got.connected = true;
      if (send === 'now') return request();
      if (send === 'probe') probe = setTimeout(judge, window);
    }, (chunk) => {
      if (settled) return;
      clearTimeout(probe);
      got.size += chunk.length;
      if (got.size > limits.maxBytes) {
        return settle(new SourceError('too_large', `${where} sent more than the size cap of ${limits.maxBytes} bytes (raise --max-bytes if the server really is that large)`));
      }
      got.chunks.push(chunk);
    });

    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(probe);
      socket.destroy();
      if (err) return reject(err);
      try {
        resolve({ ...unwrap(Buffer.concat(got.chunks, got.size), where), requested: got.requested });
      } catch (e) {
        reject(e);
      }
    };
    const request = () => {
      got.requested = true;
      socket.write(httpRequest(addr));
    };

    const timer = setTimeout(() => settle(silence(where, seconds(totalMs), got)), limits.timeoutMs);

    socket.on('end', () => {
      if (got.size === 0) return settle(new SourceError('empty', `${where} closed the connection without sending anything`));
      settle();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => settle(socketFailure(err, got, target, where)));
  });
}

/** What a socket error means: undefined to keep what arrived, or the error to fail with. */
function socketFailure(err: NodeJS.ErrnoException, got: Got, target: Target, where: string): Error | undefined {
  const reset = err.code === 'ECONNRESET' || err.code === 'EPIPE';
  // A raw server that got our request resets the connection after writing: keep what arrived
  // and let the parser judge whether it is whole, or read again without a request.
  if (reset && got.size > 0) return undefined;
  if (reset && got.requested) return new ResetBeforeAnswer('connection_reset', `${where} reset the connection`, { cause: err });
  const failure = fromSystemError(err, where);
  const abstractWithoutAddon = 'path' in target && target.path.startsWith('\0') && !abstractAddon();
  if (failure.code === 'connection_refused' && abstractWithoutAddon) failure.message += NO_ADDON;
  return failure;
}

/** Splits an HTTP answer into its body, or passes a raw document through. */
export function unwrap(bytes: Buffer, where: string): Fetched {
  if (bytes.subarray(0, 5).toString('latin1') !== 'HTTP/') return { payload: bytes, served: 'raw' };
  let end = bytes.indexOf('\r\n\r\n');
  let sep = 4;
  if (end === -1) {
    end = bytes.indexOf('\n\n');
    sep = 2;
  }
  if (end === -1) {
    throw new SourceError('truncated', `${where} answered HTTP but its headers never ended (${describeBytes(bytes)})`);
  }
  const head = bytes.subarray(0, end).toString('latin1').split(/\r?\n/);
  const body = bytes.subarray(end + sep);
  const status = /^HTTP\/\d(?:\.\d)?\s+(\d{3})\s*(.*)$/.exec(head[0] ?? '');
  if (!status) throw new SourceError('http_error', `${where} sent a malformed HTTP status line (${describeBytes(Buffer.from(head[0] ?? '', 'latin1'))})`);
  if (status[1] !== '200') {
    // The status and the first line of the body are named (capped, printable only): they answer
    // wsgistat's own request, which carries no credentials, and say what the server is.
    const firstLine = body.toString('utf8').split('\n', 1)[0]!.trim().replace(/[^\x20-\x7e]/g, '?').slice(0, 120);
    throw new SourceError('http_error', `${where} answered HTTP ${status[1]} ${status[2]!.replace(/[^\x20-\x7e]/g, '?').slice(0, 60)}`.trimEnd() + (firstLine ? `: ${firstLine}` : ''));
  }
  const chunked = head.some((h) => /^transfer-encoding:\s*chunked\s*$/i.test(h));
  return { payload: chunked ? dechunk(body, where) : body, served: 'http' };
}

function dechunk(body: Buffer, where: string): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', at);
    const size = eol === -1 ? NaN : parseInt(body.subarray(at, eol).toString('latin1'), 16);
    if (Number.isNaN(size) || eol + 2 + size > body.length) {
      throw new SourceError('truncated', `${where} sent a chunked HTTP body that stops in the middle`);
    }
    if (size === 0) return Buffer.concat(parts);
    parts.push(body.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}
