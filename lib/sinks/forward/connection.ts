// One connection to one in_forward server: TCP or TLS, the shared-key handshake when the output
// has a key, and one message at a time waiting for its ack.
//
// Handshake (in_forward with <security>, protocols.md §3): the server speaks first,
// `["HELO", {nonce, auth, keepalive}]`; we answer `["PING", self_hostname, salt,
// sha512_hex(salt + self_hostname + nonce + shared_key), username, sha512_hex(auth + username +
// password)]`; the server answers `["PONG", true, "", its_hostname, sha512_hex(salt +
// its_hostname + nonce + shared_key)]`, which we check (a server that does not know the key
// cannot forge it), or `["PONG", false, reason, ...]` and a reset: a refusal, not a network
// failure (AuthError), so that the transport sets the server aside for long instead of retrying.
//
// Every read is bounded: the decoder refuses strings, maps and arrays larger than an answer can be.

import { createHash, randomBytes } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { decodeMultiStream, encode } from '@msgpack/msgpack';
import { extensionCodec } from './wire.js';

export interface Endpoint {
  host: string;
  port: number;
}

export interface Security {
  sharedKey: string;
  selfHostname: string;
  username?: string;
  password?: string;
}

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export interface ConnectOptions {
  tls?: TlsMaterial;
  security?: Security;
  connectTimeoutMs: number;
}

/** The server refused our credentials (or is not who it says): retrying at once cannot help. */
export class AuthError extends Error {
  override name = 'AuthError';
}

const ANSWER_MAX = 64 * 1024;
const sha512 = (...parts: (string | Uint8Array)[]) => {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

const asText = (v: unknown) => (typeof v === 'string' ? v : v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : '');
const asBytes = (v: unknown) => (v instanceof Uint8Array ? v : typeof v === 'string' ? Buffer.from(v) : new Uint8Array());

export class Connection {
  private readonly messages: unknown[] = [];
  private waiter: ((v: unknown) => void) | undefined;
  private failure: Error | undefined;
  closed = false;

  private constructor(readonly socket: Socket | TLSSocket, readonly where: string) {
    void this.read();
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new Error('the server closed the connection')));
  }

  static async open(ep: Endpoint, opts: ConnectOptions): Promise<Connection> {
    const where = `${ep.host}:${ep.port}`;
    const socket = await new Promise<Socket | TLSSocket>((resolve, reject) => {
      const s = opts.tls
        ? tlsConnect({ host: ep.host, port: ep.port, ca: opts.tls.ca, cert: opts.tls.cert, key: opts.tls.key, servername: /^[\d.]+$|:/.test(ep.host) ? undefined : ep.host })
        : netConnect({ host: ep.host, port: ep.port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`no connection within ${opts.connectTimeoutMs} ms`));
      }, opts.connectTimeoutMs);
      s.once(opts.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (e) => {
        clearTimeout(timer);
        s.destroy();
        reject(e);
      });
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    const c = new Connection(socket, where);
    if (opts.security) {
      try {
        await c.handshake(opts.security, opts.connectTimeoutMs);
      } catch (e) {
        c.close();
        throw e;
      }
    }
    return c;
  }

  private async read(): Promise<void> {
    try {
      const stream = decodeMultiStream(this.socket, { extensionCodec, maxStrLength: ANSWER_MAX, maxBinLength: ANSWER_MAX, maxArrayLength: 64, maxMapLength: 64, maxExtLength: 64 });
      for await (const m of stream) {
        if (this.waiter) {
          const w = this.waiter;
          this.waiter = undefined;
          w(m);
        } else if (this.messages.length < 64) this.messages.push(m);
        else throw new Error('the server sent answers nobody asked for');
      }
      this.fail(new Error('the server closed the connection'));
    } catch (e) {
      this.fail(new Error(`unreadable answer from the server (${(e as Error).message})`));
    }
  }

  private fail(e: Error): void {
    if (!this.failure) this.failure = e;
    this.closed = true;
    this.socket.destroy();
    const w = this.waiter;
    this.waiter = undefined;
    w?.(undefined);
  }

  /** The next message from the server, or rejects (timeout, closed). */
  next(timeoutMs: number, what: string): Promise<unknown> {
    if (this.messages.length > 0) return Promise.resolve(this.messages.shift());
    if (this.closed) return Promise.reject(this.failure ?? new Error('connection closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(Object.assign(new Error(`no ${what} within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
      }, timeoutMs);
      this.waiter = (m) => {
        clearTimeout(timer);
        if (m === undefined && this.closed) reject(this.failure ?? new Error('connection closed'));
        else resolve(m);
      };
    });
  }

  private async handshake(sec: Security, timeoutMs: number): Promise<void> {
    const helo = await this.next(timeoutMs, 'HELO from a server with <security>').catch((e: Error) => {
      throw new Error(`${e.message}; does it have <security>?`);
    });
    if (!Array.isArray(helo) || helo[0] !== 'HELO' || typeof helo[1] !== 'object' || helo[1] === null) throw new Error('the server did not start the handshake with HELO');
    const opts = helo[1] as Record<string, unknown>;
    const nonce = asBytes(opts.nonce);
    const auth = asBytes(opts.auth);
    const salt = randomBytes(16).toString('hex');
    // in_forward sends an auth salt whenever it has <security>, and checks the user only with
    // user_auth: without a username we send empty ones, as out_forward does.
    const userAuth = auth.length > 0 && sec.username !== undefined;
    const ping = ['PING', sec.selfHostname, salt, sha512(salt, sec.selfHostname, nonce, sec.sharedKey),
      userAuth ? sec.username! : '', userAuth ? sha512(auth, sec.username!, sec.password ?? '') : ''];
    await this.write(encode(ping));
    const pong = await this.next(timeoutMs, 'PONG').catch((e: Error) => {
      // in_forward resets the connection after a PONG false; one that sends nothing refused too.
      throw e;
    });
    if (!Array.isArray(pong) || pong[0] !== 'PONG') throw new Error('the server did not answer the PING with PONG');
    if (pong[1] !== true) throw new AuthError(asText(pong[2]) || 'no reason given');
    const serverHost = asText(pong[3]);
    if (serverHost === sec.selfHostname) throw new AuthError(`it calls itself ${serverHost}, our own hostname (a loop back to ourselves?)`);
    if (asText(pong[4]) !== sha512(salt, serverHost, nonce, sec.sharedKey)) throw new AuthError('its PONG digest is wrong: it does not know the shared key');
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(this.failure ?? new Error('connection closed'));
    return new Promise((resolve, reject) => this.socket.write(bytes, (e) => (e ? reject(e) : resolve())));
  }

  /** Sends one message with a chunk id and waits for its ack. */
  async sendAndAck(bytes: Uint8Array, chunk: string, ackTimeoutMs: number): Promise<void> {
    await this.write(bytes);
    for (;;) {
      const m = await this.next(ackTimeoutMs, 'ack');
      if (m === null) continue; // a heartbeat
      const ack = typeof m === 'object' && !Array.isArray(m) ? asText((m as Record<string, unknown>).ack) : '';
      if (ack === chunk) return;
      // An ack of an earlier chunk that timed out on this connection: not ours, keep waiting.
    }
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }
}
