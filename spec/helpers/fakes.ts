// In-process stand-ins for what a real uWSGI cannot be made to do on demand (hang, truncate,
// reset, answer 500, grow without end), modelled on ../shared/docs/protocols.md §1:
// raw mode writes on accept and never reads; HTTP mode does one read, then answers HTTP/1.0
// with no Content-Length and closes, and sends nothing to a client that sends nothing (for up
// to its 4 s socket-timeout).

import net from 'node:net';
import { join } from 'node:path';
import { tempDir, cleanup } from './servers.js';

export type Behaviour =
  | { kind: 'raw'; doc: Buffer | string; delayMs?: number }
  | { kind: 'http'; doc: Buffer | string; status?: string; waitMs?: number }
  | { kind: 'silent' }
  | { kind: 'partial'; bytes: Buffer | string; then: 'end' | 'reset' | 'hang' }
  | { kind: 'endless' };

export interface Fake {
  /** Address for wsgistat: unix:///tmp/.../fake.sock or tcp://127.0.0.1:port. */
  address(mode?: 'raw' | 'http'): string;
  /** Bytes each client sent, in order of connection. */
  received: Buffer[];
  close(): Promise<void>;
}

export async function fakeStats(behaviour: Behaviour, on: 'unix' | 'tcp' = 'unix'): Promise<Fake> {
  const dir = on === 'unix' ? tempDir() : '';
  const sockets = new Set<net.Socket>();
  const received: Buffer[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, f: () => void) => {
    const t = setTimeout(() => (timers.delete(t), f()), ms);
    timers.add(t);
  };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const index = received.push(Buffer.alloc(0)) - 1;
    socket.on('data', (d) => (received[index] = Buffer.concat([received[index]!, d])));
    switch (behaviour.kind) {
      case 'raw':
        if (behaviour.delayMs) {
          // A slow raw server (a large document, a loaded master) starts at once, as uWSGI writes
          // on accept, and finishes late. (One that sends nothing at all is taken for something
          // else after 250 ms: see lib/sources/uwsgi/advice.ts.)
          const doc = Buffer.from(behaviour.doc);
          socket.write(doc.subarray(0, 1));
          later(behaviour.delayMs, () => socket.end(doc.subarray(1)));
        }
        else socket.end(behaviour.doc);
        break;
      case 'http': {
        let answered = false;
        socket.once('data', () => {
          answered = true;
          socket.end(Buffer.concat([
            Buffer.from(`HTTP/1.0 ${behaviour.status ?? '200 OK'}\r\nConnection: close\r\nContent-Type: application/json\r\n\r\n`),
            Buffer.from(behaviour.doc),
          ]));
        });
        later(behaviour.waitMs ?? 4000, () => answered || socket.end());
        break;
      }
      case 'silent':
        break;
      case 'partial':
        socket.write(behaviour.bytes);
        if (behaviour.then === 'end') socket.end();
        if (behaviour.then === 'reset') later(20, () => socket.resetAndDestroy());
        break;
      case 'endless': {
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        let sent = 0;
        const pump = () => {
          // Bounded, so a broken client cannot make the fake run forever.
          while (!socket.destroyed && sent < 256 * 1024 * 1024 && socket.write(chunk)) sent += chunk.length;
          if (!socket.destroyed && sent < 256 * 1024 * 1024) socket.once('drain', pump);
        };
        socket.write('{"version":"2.0.21","workers":[');
        pump();
        break;
      }
    }
  });
  const path = join(dir, 'fake.sock');
  await new Promise<void>((r) => (on === 'unix' ? server.listen(path, r) : server.listen(0, '127.0.0.1', r)));
  const port = on === 'tcp' ? (server.address() as net.AddressInfo).port : 0;
  return {
    received,
    address: (mode = 'raw') =>
      on === 'unix' ? `${mode === 'http' ? 'http+unix' : 'unix'}://${path}` : `${mode === 'http' ? 'http' : 'tcp'}://127.0.0.1:${port}`,
    async close() {
      timers.forEach(clearTimeout);
      sockets.forEach((s) => s.destroy());
      await new Promise((r) => server.close(r));
      if (dir) cleanup(dir);
    },
  };
}
