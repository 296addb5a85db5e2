// The receivers that take records over HTTP (Fluentd's in_http, Norikra's /api/send), as Transports
// for delivery.ts.
// got is loaded here only, and this module only when an HTTP output is configured, so the stdout
// path never pays for it.
//
// Fluentd in_http: one POST of a JSON array per batch to /<tag>; `time` is a number (epoch
// seconds), so in_http takes it as the event time (a string time would make it refuse the batch).
// 2xx is stored; 400 and other 4xx are refused for good; 5xx, 429 and 408 are worth another try.
//
// Norikra: events for a target that is not open are dropped without an error, and /api/send says
// the same whether it kept them or not. So the target is opened before the first batch, and after
// every batch an open is asked again: `{"result": false}` (already open) proves the target was
// there for the send; `true` means Norikra had lost it (a restart) and has just opened it anew,
// so the batch is sent again. Field names Norikra would drop or misread are made safe.

import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { describeBytes } from '../errors.js';
import { readRegular } from '../fsafe.js';
import type { Got } from 'got';
import { toJson } from '../records/serialize.js';
import type { Rec } from '../records/types.js';
import type { Outcome, Transport } from './delivery.js';
import { readProblem, resolveHeaders, type HttpOutput } from './http-output.js';

export interface HttpOptions {
  timeoutMs: number;
}

/** The fields a Norikra target is opened with; the others are added by auto_field as they come.
 *  conf/norikra-target.json holds the same definition (checked by spec/conf.spec.ts). */
export const NORIKRA_FIELDS: Record<string, string> = { type: 'string', host: 'string', source: 'string', time: 'double' };

const NORIKRA_FIELD = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A field name Norikra keeps and reads as one name: no dots (paths), no leading digit. */
export function norikraField(name: string): string {
  if (NORIKRA_FIELD.test(name)) return name;
  const safe = name.replace(/[^A-Za-z0-9_]/g, '_');
  return /^[0-9]/.test(safe) ? `_${safe}` : safe;
}

/** A receiver's answer for stderr and the dead-letter reason: its first lines, capped, with what
 *  it quotes left out. A receiver that refuses a batch may echo part of it back (records, and
 *  request variables with --vars), so a body that looks like data is only described. */
export function short(text: string): string {
  const one = text.split('\n').slice(0, 2).join(' ').replace(/\s+/g, ' ').trim();
  if (one === '') return '(empty body)';
  const err = norikraError(text);
  if (err) return short(err);
  if (/^[[{]/.test(one) || /[^\x20-\x7e]/.test(one)) return `(${describeBytes(Buffer.from(text))})`;
  const unquoted = one.replace(/'[^']*'|"[^"]*"/g, '\'…\'');
  return unquoted.length > 160 ? `${unquoted.slice(0, 160)}…` : unquoted;
}

/** Norikra's errors are `{"error": CLASS, "message": TEXT}`: the words, not the JSON. */
function norikraError(text: string): string | undefined {
  try {
    const v = JSON.parse(text) as { error?: unknown; message?: unknown };
    if (typeof v === 'object' && v !== null && typeof v.error === 'string') return `${v.error}${typeof v.message === 'string' ? `: ${v.message}` : ''}`;
  } catch {
    // not JSON
  }
  return undefined;
}

function networkReason(err: unknown, timeoutMs: number): string {
  const e = err as { code?: string; name?: string; message?: string };
  if (e.name === 'TimeoutError' || e.code === 'ETIMEDOUT') return `no answer within ${timeoutMs / 1000} s`;
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused (is it running, on this port?)',
    ECONNRESET: 'connection reset',
    EHOSTUNREACH: 'host unreachable',
    ENOTFOUND: 'host name not found',
    EPIPE: 'connection closed while sending',
    DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate (give its CA with --ca-file)',
    UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'certificate not trusted (give its CA with --ca-file)',
    SELF_SIGNED_CERT_IN_CHAIN: 'certificate chain not trusted (give its CA with --ca-file)',
    ERR_TLS_CERT_ALTNAME_INVALID: 'the certificate does not name this host',
  };
  return (e.code && known[e.code]) || `${e.code ?? e.name ?? 'error'}: ${e.message ?? String(err)}`;
}

/** What an HTTP answer means for a batch. */
function judge(status: number, body: string): Outcome {
  if (status >= 200 && status < 300) return { ok: true };
  if (status >= 500 || status === 429 || status === 408) return { ok: false, retry: true, reason: `answered ${status}: ${short(body)}` };
  return { ok: false, retry: false, status, reason: short(body) };
}

async function client(out: HttpOutput, opts: HttpOptions): Promise<{ got: Got; close: () => void }> {
  const { default: got } = await import('got');
  const read = (path: string | undefined, what: string) => {
    if (!path) return undefined;
    try {
      const data = readRegular(path, 1 << 20, true);
      if (!data) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
      return data;
    } catch (e) {
      throw new Error(`cannot read the ${what} ${path} (${readProblem(e)})`);
    }
  };
  const ca = read(out.tls.ca, 'CA file');
  const cert = read(out.tls.cert, 'client certificate');
  const key = read(out.tls.key, 'client key');
  const http = new HttpAgent({ keepAlive: true, maxSockets: 1 });
  const https = new HttpsAgent({ keepAlive: true, maxSockets: 1 });
  const instance = got.extend({
    prefixUrl: out.origin,
    agent: { http, https },
    https: { ...(ca ? { certificateAuthority: ca } : {}), ...(cert ? { certificate: cert } : {}), ...(key ? { key } : {}) },
    headers: { 'user-agent': 'wsgistat', ...resolveHeaders(out.headers) },
    ...(out.auth ? { username: out.auth.username, password: out.auth.password } : {}),
    timeout: { request: opts.timeoutMs },
    retry: { limit: 0 }, // delivery.ts retries, in order, with the spool
    throwHttpErrors: false,
    followRedirect: false,
    http2: false,
  });
  return {
    got: instance,
    close: () => {
      http.destroy();
      https.destroy();
    },
  };
}

async function post(got: Got, path: string, body: string, timeoutMs: number): Promise<{ status: number; body: string } | { error: string }> {
  try {
    const res = await got.post(path, { body, headers: { 'content-type': 'application/json' } });
    return { status: res.statusCode, body: res.body };
  } catch (e) {
    return { error: networkReason(e, timeoutMs) };
  }
}

export async function fluentdTransport(out: HttpOutput, opts: HttpOptions): Promise<Transport> {
  const { got, close } = await client(out, opts);
  return {
    name: out.name,
    encode: toJson,
    async send(lines) {
      const r = await post(got, out.tag, `[${lines.join(',')}]`, opts.timeoutMs);
      return 'error' in r ? { ok: false, retry: true, reason: r.error } : judge(r.status, r.body);
    },
    close,
  };
}

export async function norikraTransport(out: HttpOutput, opts: HttpOptions): Promise<Transport> {
  const { got, close } = await client(out, opts);
  const openBody = JSON.stringify({ target: out.tag, fields: NORIKRA_FIELDS, auto_field: true });
  let opened = false;

  /** Opens the target: true if Norikra opened it now, false if it was open, or why it failed. */
  async function open(): Promise<boolean | Outcome> {
    const r = await post(got, 'api/open', openBody, opts.timeoutMs);
    if ('error' in r) return { ok: false, retry: true, reason: r.error };
    const verdict = judge(r.status, r.body);
    if (!verdict.ok) return verdict.retry ? verdict : { ...verdict, reason: `opening target ${out.tag}: ${verdict.reason}` };
    try {
      return (JSON.parse(r.body) as { result?: unknown }).result === true;
    } catch {
      return { ok: false, retry: true, reason: `answered the open of target ${out.tag} with something that is not JSON: ${short(r.body)}` };
    }
  }

  async function sendOnce(lines: string[]): Promise<Outcome> {
    const r = await post(got, 'api/send', `{"target":${JSON.stringify(out.tag)},"events":[${lines.join(',')}]}`, opts.timeoutMs);
    return 'error' in r ? { ok: false, retry: true, reason: r.error } : judge(r.status, r.body);
  }

  return {
    name: out.name,
    encode(record: Rec) {
      for (const k in record) {
        if (!NORIKRA_FIELD.test(k)) {
          const safe: Record<string, unknown> = {};
          for (const [key, v] of Object.entries(record)) if (v !== undefined) safe[norikraField(key)] = v;
          return JSON.stringify(safe);
        }
      }
      return toJson(record);
    },
    async send(lines) {
      if (!opened) {
        const o = await open();
        if (typeof o !== 'boolean') return o;
        opened = true;
      }
      for (let tries = 0; tries < 3; tries++) {
        const sent = await sendOnce(lines);
        if (!sent.ok) {
          // A lost connection may mean a restarted Norikra: open again before the next try.
          if (sent.retry) opened = false;
          return sent;
        }
        const check = await open();
        if (typeof check !== 'boolean') {
          opened = false;
          return check.ok ? { ok: false, retry: true, reason: 'cannot confirm the target stayed open' } : check;
        }
        if (!check) return { ok: true };
        // Norikra had lost the target (restarted): the events went nowhere. It is open now: again.
      }
      return { ok: false, retry: true, reason: `target ${out.tag} keeps disappearing (Norikra restarting?)` };
    },
    close,
  };
}
