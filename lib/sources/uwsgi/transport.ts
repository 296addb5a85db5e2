// Reads one stats document from a uWSGI stats server over a unix, abstract or TCP socket.
//
// Raw mode (uWSGI's default): the master writes the document on accept and closes; we send
// nothing and read to EOF. HTTP mode (--stats-http): the master waits up to its socket-timeout
// (4 s) for request bytes and serves no other stats client meanwhile, so we send at once.
// Users confuse the two, so: a raw read that gets no byte within a short probe window sends an
// HTTP request and takes whatever comes back; an HTTP read that gets a bare document keeps it.
// The caller is told which mode the server was really in.
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
import net from 'node:net';
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
}

/** How long a raw read waits for the first byte before it tries HTTP. A raw master answers in
 *  well under a millisecond; an HTTP-mode master would otherwise hold us for its full 4 s. */
export const PROBE_MS = 250;

const seconds = (ms: number) => `${+(ms / 1000).toFixed(3)}s`;

function httpRequest(addr: Address): string {
  const host = addr.endpoint.kind === 'tcp' ? describeEndpoint(addr.endpoint) : 'localhost';
  return `GET ${addr.httpPath} HTTP/1.0\r\nHost: ${host}\r\nUser-Agent: wsgistat\r\nAccept: application/json\r\n\r\n`;
}

type Target = { path: string; abstract?: boolean } | { host: string; port: number };
/** When to send the HTTP request: at once, after the probe window, or never. */
type Send = 'now' | 'probe' | 'never';

type AbstractConnect = (name: string, onConnect: () => void) => net.Socket;
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

/** Where to connect, in the order to try. */
function targets(addr: Address): Target[] {
  const ep = addr.endpoint;
  if (ep.kind === 'tcp') return [{ host: ep.host, port: ep.port }];
  if (ep.kind === 'file') throw new Error('file endpoints are not read over a socket');
  if (!ep.path.startsWith('\0')) return [{ path: ep.path }];
  return abstractAddon()
    ? [{ path: `${ep.path}\0`, abstract: true }, { path: ep.path, abstract: true }]
    : [{ path: ep.path }];
}

/** One read buffer for every socket: without it, Node allocates 64 KiB for each read. Chunks
 *  are copied out of it at once, so concurrent reads can share it. */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

function openSocket(target: Target, onConnect: () => void, onChunk: (chunk: Buffer) => void): net.Socket {
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
    ? net.connect({ path: target.path, onread }, onConnect)
    : net.connect({ host: target.host, port: target.port, onread }, onConnect);
}

/** Why an abstract socket may be refused when the addon is missing. */
const NO_ADDON = ' (uWSGI binds abstract names in a form Node 20 cannot address without the optional ' +
  'abstract-socket module, which needs a C++ compiler at install time; reinstall with one, or give uWSGI a path socket)';

/** A reset before the first byte: the server was raw and our request made it reset. */
class ResetBeforeAnswer extends SourceError {}

/** Reads the whole answer of a stats server, bounded in time (over all attempts) and size. */
export async function fetchStats(addr: Address, limits: ReadLimits): Promise<Fetched> {
  const started = Date.now();
  const left = () => Math.max(1, limits.timeoutMs - (Date.now() - started));
  const all = targets(addr);
  let send: Send = addr.mode === 'http' ? 'now' : 'probe';
  for (let i = 0; ; ) {
    try {
      return await readOnce(addr, all[i]!, send, { timeoutMs: left(), maxBytes: limits.maxBytes }, limits.timeoutMs);
    } catch (e) {
      if (e instanceof ResetBeforeAnswer && send !== 'never') {
        send = 'never';
        continue;
      }
      if (e instanceof SourceError && e.code === 'connection_refused' && i + 1 < all.length) {
        i++;
        continue;
      }
      throw e;
    }
  }
}

/** Why a read timed out: no connection, a part of a document, or nothing at all. */
function silence(where: string, t: string, got: { connected: boolean; requested: boolean; chunks: Buffer[]; size: number }): SourceError {
  if (!got.connected) return new SourceError('timeout', `no connection to ${where} within ${t}`);
  if (got.size > 0) return new SourceError('timeout', `${where} sent ${got.size} bytes but did not finish within ${t} (${describeBytes(Buffer.concat(got.chunks))})`);
  return new SourceError('timeout', `${where} accepted the connection but sent nothing within ${t}` +
    (got.requested ? ', neither in raw mode nor after an HTTP request (is it a uWSGI stats server? is the master stuck?)' : ''));
}

function readOnce(addr: Address, target: Target, send: Send, limits: ReadLimits, totalMs: number): Promise<Fetched> {
  const where = describeEndpoint(addr.endpoint);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let connected = false;
    let requested = false;
    let settled = false;
    let probe: NodeJS.Timeout | undefined;
    const socket = openSocket(target, () => {
      connected = true;
      if (send === 'now') return request();
      if (send === 'probe') probe = setTimeout(() => size === 0 && request(), Math.min(PROBE_MS, totalMs / 3));
    }, (chunk) => {
      if (settled) return;
      clearTimeout(probe);
      size += chunk.length;
      if (size > limits.maxBytes) {
        return settle(new SourceError('too_large', `${where} sent more than the size cap of ${limits.maxBytes} bytes (raise --max-bytes if the server really is that large)`));
      }
      chunks.push(chunk);
    });

    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(probe);
      socket.destroy();
      if (err) return reject(err);
      try {
        resolve(unwrap(Buffer.concat(chunks, size), where));
      } catch (e) {
        reject(e);
      }
    };
    const request = () => {
      requested = true;
      socket.write(httpRequest(addr));
    };

    const timer = setTimeout(() => settle(silence(where, seconds(totalMs), { connected, requested, chunks, size })), limits.timeoutMs);

    socket.on('end', () => {
      if (size === 0) return settle(new SourceError('empty', `${where} closed the connection without sending anything`));
      settle();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const reset = err.code === 'ECONNRESET' || err.code === 'EPIPE';
      // A raw server that got our request resets the connection after writing: keep what arrived
      // and let the parser judge whether it is whole, or read again without a request.
      if (reset && size > 0) return settle();
      if (reset && requested) return settle(new ResetBeforeAnswer('connection_reset', `${where} reset the connection`, { cause: err }));
      const failure = fromSystemError(err, where);
      const abstractWithoutAddon = 'path' in target && target.path.startsWith('\0') && !abstractAddon();
      if (failure.code === 'connection_refused' && abstractWithoutAddon) failure.message += NO_ADDON;
      settle(failure);
    });
  });
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
