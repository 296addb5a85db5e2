// In-process receivers that answer as Fluentd's in_http and Norikra's JSON API do, as
// protocols.md §3 and §4 describe them (Debian packages neither), and record what they stored.
// Both listen on 127.0.0.1 only, can be stopped and started again on the same port, and can be told
// to fail: answer a status, answer late, or forget what a restart forgets.

import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps, type ServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';

type Json = Record<string, unknown>;

export interface Stored { tag: string; time: number; record: Json }

export interface Receiver {
  port: number;
  url: string;
  /** Requests as they came: method, path, headers, body. */
  requests: { method: string; path: string; headers: IncomingMessage['headers']; body: string }[];
  /** Statuses to answer the next requests with, instead of handling them (500, 429, 400...). */
  failNext(...statuses: number[]): void;
  /** Answer the next `n` requests only after `ms`. */
  delayNext(n: number, ms: number): void;
  stop(): Promise<void>;
  start(): Promise<void>;
}

interface Plan { statuses: number[]; delays: number[] }

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (text += d));
    req.on('end', () => resolve(text));
    req.on('error', () => resolve(text));
  });
}

function base(handle: (req: IncomingMessage, text: string, res: ServerResponse) => void, tls?: ServerOptions): Receiver & { listen(port: number): Promise<void> } {
  const plan: Plan = { statuses: [], delays: [] };
  const sockets = new Set<import('node:net').Socket>();
  let server: Server | undefined;
  const r = {
    port: 0,
    url: '',
    requests: [] as Receiver['requests'],
    failNext: (...s: number[]) => plan.statuses.push(...s),
    delayNext: (n: number, ms: number) => plan.delays.push(...Array(n).fill(ms)),
    async listen(port: number) {
      const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
        const text = await body(req);
        r.requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: text });
        const delay = plan.delays.shift();
        if (delay) await new Promise((ok) => setTimeout(ok, delay).unref());
        if (res.destroyed) return;
        const status = plan.statuses.shift();
        if (status) {
          res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 400 ? '400 Bad Request\nsimulated refusal\n' : `${status} simulated\n`);
          return;
        }
        handle(req, text, res);
      };
      server = tls ? createHttps(tls, onRequest) : createHttp(onRequest);
      server.on('connection', (s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      await new Promise<void>((ok, fail) => {
        server!.once('error', fail);
        server!.listen(port, '127.0.0.1', () => ok());
      });
      r.port = (server.address() as AddressInfo).port;
      r.url = `${tls ? 'https' : 'http'}://127.0.0.1:${r.port}`;
    },
    async stop() {
      if (!server) return;
      const s = server;
      server = undefined;
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((ok) => s.close(() => ok()));
    },
    async start() {
      await r.listen(r.port);
    },
  };
  return r;
}

export interface FakeFluentd extends Receiver { stored: Stored[] }

/** Fluentd in_http (protocols.md §3): POST /a/b emits with tag a.b; a JSON array is a batch; a
 *  numeric `time` is the event time and leaves the record; a string `time` refuses the whole batch
 *  with 400; invalid JSON, an empty body or null: 200, dropped without a word. */
export async function fakeFluentd(opts: { port?: number; tls?: ServerOptions; listen?: boolean } = {}): Promise<FakeFluentd> {
  const stored: Stored[] = [];
  const r = base((req, text, res) => {
    const tag = (req.url ?? '/').split('?')[0]!.slice(1).split('/').join('.');
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (req.method !== 'POST' || tag === '') return void res.writeHead(404).end();
    if (type !== 'application/json') return void res.writeHead(400).end(`400 Bad Request\nunsupported content type ${type}\n`);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return void res.writeHead(200).end(); // the silent drop
    }
    if (value === null) return void res.writeHead(200).end();
    const events = (Array.isArray(value) ? value : [value]) as Json[];
    const batch: Stored[] = [];
    for (const e of events) {
      const record = { ...e };
      let time = Date.now() / 1000;
      if ('time' in record) {
        if (typeof record.time === 'string') return void res.writeHead(400).end(`400 Bad Request\ninvalid time value: ${JSON.stringify(record.time)}\n`);
        if (typeof record.time === 'number') time = record.time;
        delete record.time;
      }
      batch.push({ tag, time, record });
    }
    stored.push(...batch);
    res.writeHead(200).end();
  }, opts.tls);
  if (opts.listen !== false) await r.listen(opts.port ?? 0);
  else r.port = opts.port ?? 0;
  return Object.assign(r, { stored });
}

export interface FakeNorikra extends Receiver {
  /** Events kept, by target. */
  events: Map<string, Json[]>;
  /** Targets open now. */
  open: Set<string>;
  /** What a Norikra restart does: every target is gone (events kept so far stay counted). */
  forgetTargets(): void;
}

/** Norikra's JSON API (protocols.md §4): /api/open answers {"result": true} when it opened the
 *  target and false when it was open; /api/send keeps events only for an open target and answers
 *  200 {"result": false} either way; errors are 400 with {"error", "message"}. */
export async function fakeNorikra(opts: { port?: number; listen?: boolean } = {}): Promise<FakeNorikra> {
  const events = new Map<string, Json[]>();
  const open = new Set<string>();
  const json = (res: ServerResponse, status: number, v: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(v));
  const r = base((req, text, res) => {
    let v: Json;
    try {
      v = JSON.parse(text) as Json;
    } catch (e) {
      return json(res, 400, { error: 'JSON::ParserError', message: (e as Error).message });
    }
    const target = v.target;
    if (typeof target !== 'string' || !/^[a-zA-Z]([_a-zA-Z0-9]*[a-zA-Z0-9])?$/.test(target)) {
      return json(res, 400, { error: 'Norikra::ClientError', message: `invalid target name ${JSON.stringify(target)}` });
    }
    if (req.url === '/api/open') {
      if (open.has(target)) return json(res, 200, { result: false });
      open.add(target);
      return json(res, 200, { result: true });
    }
    if (req.url === '/api/send') {
      if (!Array.isArray(v.events)) return json(res, 400, { error: 'Norikra::ClientError', message: 'events must be an array' });
      if (open.has(target)) {
        // Field names beginning with a digit are dropped.
        const kept = (v.events as Json[]).map((e) => Object.fromEntries(Object.entries(e).filter(([k]) => !/^[0-9]/.test(k))));
        events.set(target, [...(events.get(target) ?? []), ...kept]);
      }
      return json(res, 200, { result: false });
    }
    return json(res, 404, { error: 'NotFound', message: req.url });
  });
  if (opts.listen !== false) await r.listen(opts.port ?? 0);
  else r.port = opts.port ?? 0;
  return Object.assign(r, { events, open, forgetTargets: () => open.clear() });
}
