// The forward output as a Transport for the delivery sender: picks a server, sends the batch as one
// PackedForward message with its chunk id, and answers only when the server acked it.
//
// Servers and failover. The servers of an output are tried in order of preference: the primaries
// (weighted round robin between them, per batch), then the standbys. A server that refuses the
// connection, resets it, drops it, or does not ack within ack_timeout is set aside and the same
// chunk (same bytes, same chunk id) goes at once to the next server in the same send(); only when
// every server is set aside does send() answer "retry", and the sender backs off and keeps the
// records in its spool.
//
// Failure detector, not heartbeats: there is one chunk in flight per output and it must be acked,
// so the data path itself detects a dead or silent server within ack_timeout (out_forward's
// phi-accrual detector over heartbeats needs about 37 s, and a server can answer heartbeats and
// still not store). A set-aside server is probed in the background by opening a connection (and
// the handshake) after a hold that doubles from 1 s to 30 s; once a probe succeeds the server is
// back in the rotation, so a recovered primary takes the next batch and the standby none. No batch
// waits on a probe.
//
// A refused handshake (wrong shared key, wrong username/password, a forged PONG) is a refusal:
// said once, naming the server, and the server is set aside for 5 minutes; the records stay in
// the spool (the answer is "retry", so nothing is dead-lettered for a configuration error), and
// no storm of connections hits the server meanwhile.

import { hostname } from 'node:os';
import * as log from '../../log.js';
import { toJson } from '../../records/serialize.js';
import type { Outcome, Transport } from '../delivery.js';
import { AuthError, Connection, type ConnectOptions, type Endpoint } from './connection.js';
import { packBatch } from './wire.js';
import { PackWriter } from './writer.js';

export interface ForwardServer extends Endpoint {
  weight: number;
  standby: boolean;
}

export interface ForwardTransportOptions {
  name: string;
  tag: string;
  servers: ForwardServer[];
  connect: ConnectOptions;
  ackTimeoutMs: number;
}

const HOLD_MIN_MS = 1000;
const HOLD_MAX_MS = 30_000;
const AUTH_HOLD_MS = 5 * 60_000;

interface State {
  server: ForwardServer;
  where: string;
  conn?: Connection;
  /** Set aside until this time (0: in the rotation). */
  asideUntil: number;
  hold: number;
  probe?: NodeJS.Timeout;
  /** Smooth weighted round robin (nginx's). */
  current: number;
  lastProblem?: string;
}

export function defaultSelfHostname(): string {
  return hostname();
}

export function forwardTransport(opts: ForwardTransportOptions): Transport & { servers(): { where: string; aside: boolean }[] } {
  const writer = new PackWriter();
  const states: State[] = opts.servers.map((s) => ({ server: s, where: `${s.host}:${s.port}`, asideUntil: 0, hold: HOLD_MIN_MS, current: 0 }));
  let closed = false;
  const component = `sink ${opts.name}` as const;

  const healthy = (s: State) => s.asideUntil === 0;

  /** The servers to try for one batch, best first. */
  function order(): State[] {
    const up = states.filter(healthy);
    const primaries = up.filter((s) => !s.server.standby);
    const standbys = up.filter((s) => s.server.standby);
    if (primaries.length > 1) {
      const total = primaries.reduce((n, s) => n + s.server.weight, 0);
      for (const s of primaries) s.current += s.server.weight;
      const best = primaries.reduce((a, b) => (b.current > a.current ? b : a));
      best.current -= total;
      primaries.sort((a, b) => (a === best ? -1 : b === best ? 1 : b.current - a.current));
    }
    return [...primaries, ...standbys];
  }

  async function connection(s: State): Promise<Connection> {
    if (s.conn && !s.conn.closed) return s.conn;
    s.conn = await Connection.open(s.server, opts.connect);
    return s.conn;
  }

  function setAside(s: State, problem: string, auth: boolean): void {
    s.conn?.close();
    s.conn = undefined;
    s.lastProblem = problem;
    const hold = auth ? AUTH_HOLD_MS : s.hold;
    s.hold = Math.min(HOLD_MAX_MS, s.hold * 2);
    s.asideUntil = Date.now() + hold;
    if (auth) log.error(component, `server ${s.where} refused the handshake: ${problem}; not sending to it for ${hold / 60000} minutes (check shared_key, username and password)`);
    else if (states.length > 1) log.warn(component, `server ${s.where} set aside (${problem}); trying it again in ${hold / 1000} s`);
    scheduleProbe(s, hold);
  }

  function scheduleProbe(s: State, ms: number): void {
    clearTimeout(s.probe);
    if (closed) return;
    s.probe = setTimeout(() => void probe(s), ms);
    s.probe.unref();
  }

  async function probe(s: State): Promise<void> {
    if (closed) return;
    try {
      await connection(s);
      s.asideUntil = 0;
      s.hold = HOLD_MIN_MS;
      if (states.length > 1) log.warn(component, `server ${s.where} is back`);
    } catch (e) {
      const auth = e instanceof AuthError;
      if (auth && s.lastProblem !== (e as Error).message) log.error(component, `server ${s.where} refused the handshake: ${(e as Error).message}`);
      s.lastProblem = (e as Error).message;
      const hold = auth ? AUTH_HOLD_MS : s.hold;
      s.hold = Math.min(HOLD_MAX_MS, s.hold * 2);
      s.asideUntil = Date.now() + hold;
      scheduleProbe(s, hold);
    }
  }

  return {
    name: opts.name,
    encode: toJson,
    servers: () => states.map((s) => ({ where: s.where, aside: !healthy(s) })),
    async send(lines: string[]): Promise<Outcome> {
      let packed;
      try {
        packed = packBatch(opts.tag, lines, writer);
      } catch (e) {
        return { ok: false, retry: false, status: 0, reason: `cannot pack the batch for the forward protocol (${(e as Error).message})` };
      }
      const tried: string[] = [];
      for (const s of order()) {
        if (closed) break;
        try {
          const c = await connection(s);
          await c.sendAndAck(packed.bytes, packed.chunk, opts.ackTimeoutMs);
          s.hold = HOLD_MIN_MS;
          return { ok: true };
        } catch (e) {
          const err = e as NodeJS.ErrnoException;
          const problem = err instanceof AuthError ? err.message : err.code ?? err.message;
          setAside(s, problem, err instanceof AuthError);
          tried.push(`${s.where}: ${err instanceof AuthError ? `refused the handshake (${problem})` : problem}`);
        }
      }
      const aside = states.filter((s) => !healthy(s) && !tried.some((t) => t.startsWith(`${s.where}:`)));
      for (const s of aside) tried.push(`${s.where}: set aside (${s.lastProblem ?? 'failed'})`);
      return { ok: false, retry: true, reason: `no forward server took the chunk ${packed.chunk}: ${tried.join('; ')}` };
    },
    close() {
      closed = true;
      for (const s of states) {
        clearTimeout(s.probe);
        s.conn?.close();
      }
    },
  };
}
