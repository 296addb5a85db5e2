// The Fluentd forward output kind: forward://HOST:PORT[,HOST:PORT...]/TAG (forward+tls:// for TLS),
// the Forward Protocol v1 with acks, failover, the shared-key handshake and TLS, to in_forward
// (Fluentd, td-agent, Fluent Bit). The first server of the URL is the primary, the others its
// standbys in order; the config file's "servers" gives weights (several primaries share the
// batches by weight) and standbys explicitly. msgpack and the socket code (lib/sinks/forward/)
// are loaded only when such an output is configured.

import { readRegular } from '../fsafe.js';
import { readFileBoundedSync } from '../read.js';
import { SourceError } from '../errors.js';
import { bad, duration, type Origin, type ValueType } from '../options/values.js';
import { deliveringSink, readProblem, spoolDirOf, TLS_OPTION_DOCS, type TlsFiles } from './http-output.js';
import type { ForwardServer } from './forward/transport.js';
import type { DeliverySettings, OutputOption, OutputSpec, SinkKind } from './types.js';

/** A secret: read when the run starts from the environment or a file, never given as is. */
export type Secret = { env: string } | { file: string };

export interface ForwardOutput extends OutputSpec {
  kind: 'forward';
  tls: boolean;
  tag: string;
  servers: ForwardServer[];
  sharedKey?: Secret;
  username?: string;
  password?: Secret;
  selfHostname?: string;
  tlsFiles: TlsFiles;
  ackTimeoutMs: number;
}

const forms = 'forward://host:port[,host:port...]/tag (Fluentd in_forward; forward+tls:// for TLS)';
const DEFAULT_PORT = 24224;
const TAG = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const SECRET_MAX_BYTES = 64 * 1024;
const TLS_FILE_MAX_BYTES = 1024 * 1024;
export const ACK_TIMEOUT_MS = 30_000;

/** host:port, [v6]:port or host (port 24224). */
function parseServer(text: string, origin: string): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9_.-]+))(?::(\d{1,5}))?$/.exec(text.trim());
  const port = m?.[3] === undefined ? DEFAULT_PORT : Number(m[3]);
  if (!m || port < 1 || port > 65535) throw new Error(`${origin}: expected host:port, got ${JSON.stringify(text)}`);
  return { host: m[1] ?? m[2]!, port };
}

function parseForwardUrl(text: string): ForwardOutput {
  const m = /^(forward(?:\+tls)?):\/\/([^/?#]+)\/([^?#]*)$/i.exec(text);
  if (!m) throw new Error(`expected ${forms}, got ${JSON.stringify(text)}`);
  const scheme = m[1]!.toLowerCase();
  // Not the URL itself in the message: its user:password part may be a secret.
  if (m[2]!.includes('@')) throw new Error(`a ${scheme}:// URL takes no credentials (user:password@): give "username", and "password" as env:VARIABLE or file:PATH, per output`);
  const servers = m[2]!.split(',').map((s, i) => ({ ...parseServer(s, JSON.stringify(text)), weight: 1, standby: i > 0 }));
  const tag = decodeURIComponent(m[3]!).replace(/^\/+|\/+$/g, '').split('/').filter(Boolean).join('.');
  if (!TAG.test(tag)) throw new Error(`${JSON.stringify(text)}: the path is the Fluentd tag, e.g. forward://127.0.0.1:24224/uwsgi.stats`);
  const hosts = servers.map((s) => (s.host.includes(':') ? `[${s.host}]` : s.host) + `:${s.port}`).join(',');
  return { kind: 'forward', name: `${scheme}://${hosts}/${tag}`, tls: scheme === 'forward+tls', tag, servers, tlsFiles: {}, ackTimeoutMs: ACK_TIMEOUT_MS };
}

const secretType = (what: string): ValueType<Secret> => ({
  parse(v: unknown, origin: Origin) {
    if (typeof v === 'string' && v.startsWith('env:') && v.length > 4) return { env: v.slice(4) };
    if (typeof v === 'string' && v.startsWith('file:') && v.length > 5) return { file: v.slice(5) };
    // Not the value itself in the message: it may be the secret.
    return bad(origin, `the ${what} as env:VARIABLE or file:PATH (never as is: it would show in the process list or sit in the config file)`, typeof v === 'string' ? '(a value without env: or file:)' : v);
  },
  show: () => 'none',
});

const serverList: ValueType<ForwardServer[]> = {
  parse(v: unknown, origin: Origin) {
    const list = Array.isArray(v) ? v : [v];
    if (list.length === 0) bad(origin, 'at least one server', v);
    const out = list.map((x: unknown, i: number): ForwardServer => {
      const at = `${origin}[${i}]`;
      if (typeof x === 'string') {
        // host:port[,weight=N][,standby]
        const [addr, ...flags] = x.split(',');
        const s: ForwardServer = { ...wrap(() => parseServer(addr!, at)), weight: 1, standby: false };
        for (const f of flags) {
          const w = /^weight=(\d{1,4})$/.exec(f.trim());
          if (w && Number(w[1]) >= 1) s.weight = Number(w[1]);
          else if (f.trim() === 'standby') s.standby = true;
          else bad(at, 'host:port[,weight=N][,standby]', x);
        }
        return s;
      }
      if (typeof x !== 'object' || x === null) return bad(at, '"host:port" or {"host": ..., "port": ..., "weight": ..., "standby": ...}', x);
      const o = x as Record<string, unknown>;
      for (const k of Object.keys(o)) if (!['host', 'port', 'weight', 'standby'].includes(k)) bad(at, 'only host, port, weight and standby', k);
      const s = wrap(() => parseServer(`${typeof o.host === 'string' && o.host.includes(':') ? `[${o.host}]` : String(o.host)}:${o.port ?? DEFAULT_PORT}`, at));
      const weight = o.weight ?? 1;
      if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 1 || weight > 9999) bad(`${at}.weight`, 'an integer from 1 to 9999', weight);
      if (o.standby !== undefined && typeof o.standby !== 'boolean') bad(`${at}.standby`, 'true or false', o.standby);
      return { ...s, weight, standby: o.standby === true };
    });
    if (out.every((s) => s.standby)) bad(origin, 'at least one server that is not a standby', v);
    return out;
  },
  show: () => 'the servers of the URL',
};

function wrap<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    return bad('', (e as Error).message, undefined);
  }
}

const filePath: ValueType<string> = { parse: (v, origin) => (typeof v === 'string' && v !== '' ? v : bad(origin, 'a file path', v)), show: (v) => v };
const plain = (what: string): ValueType<string> => ({ parse: (v, origin) => (typeof v === 'string' && v !== '' && !/[\r\n\0]/.test(v) ? v : bad(origin, what, v)), show: (v) => v });

const tlsOption = (flag: `--${string}`, key: string, field: keyof TlsFiles, defaultDoc: string, doc: string): OutputOption<ForwardOutput, string> => ({
  flag, key, arg: 'PATH', type: filePath, defaultDoc, doc,
  apply: (spec, value, fromFlag) => {
    if (!fromFlag || spec.tlsFiles[field] === undefined) spec.tlsFiles[field] = value;
  },
});

function setOnce<K extends keyof ForwardOutput>(key: K) {
  return (spec: ForwardOutput, value: ForwardOutput[K], fromFlag: boolean) => {
    if (!fromFlag || spec[key] === undefined) spec[key] = value;
  };
}

export const FORWARD_OPTIONS: readonly OutputOption<ForwardOutput>[] = [
  {
    flag: '--forward-server', key: 'servers', arg: 'HOST:PORT[,weight=N][,standby]', type: serverList, repeatable: true, defaultDoc: 'the servers of the URL',
    doc: 'forward outputs: the servers, replacing those of the URL; several primaries share the batches by weight, standbys get them only when no primary is up',
    apply: (spec, value: ForwardServer[]) => {
      spec.servers = value;
    },
  },
  { flag: '--shared-key', key: 'shared_key', arg: 'env:VAR|file:PATH', type: secretType('shared key'), defaultDoc: 'none (no handshake)', doc: 'forward outputs: the shared key of in_forward\'s <security>; never printed or logged', apply: setOnce('sharedKey') },
  { flag: '--self-hostname', key: 'self_hostname', arg: 'NAME', type: plain('a host name'), defaultDoc: "this machine's host name", doc: 'forward outputs: the name this client gives in the handshake', apply: setOnce('selfHostname') },
  { flag: '--forward-username', key: 'username', arg: 'NAME', type: plain('a user name'), defaultDoc: 'none', doc: 'forward outputs: the user of in_forward\'s <security><user>, with password', apply: setOnce('username') },
  { flag: '--forward-password', key: 'password', arg: 'env:VAR|file:PATH', type: secretType('password'), defaultDoc: 'none', doc: 'forward outputs: the password of username; never printed or logged', apply: setOnce('password') },
  { flag: '--ack-timeout', key: 'ack_timeout', arg: 'DURATION', type: duration, default: ACK_TIMEOUT_MS, doc: 'forward outputs: how long a server has to ack a chunk before the chunk goes, with the same chunk id, to the next server (or again)', apply: (spec, v: number, fromFlag) => {
    if (!fromFlag || spec.ackTimeoutMs === ACK_TIMEOUT_MS) spec.ackTimeoutMs = v;
  } },
  ...TLS_OPTION_DOCS.map(([flag, key, field, defaultDoc, doc]) => tlsOption(flag, key, field, defaultDoc, doc)),
];

/** Reads a secret; errors name it and where it comes from, never the value. */
export function resolveSecret(what: string, s: Secret, env: NodeJS.ProcessEnv = process.env): string {
  if ('env' in s) {
    const v = env[s.env];
    if (v === undefined || v === '') throw new Error(`${what}: environment variable ${s.env} is not set`);
    return v;
  }
  let data: Buffer | undefined;
  try {
    data = readRegular(s.file, SECRET_MAX_BYTES, true);
    if (!data) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
  } catch (e) {
    throw new Error(`${what}: cannot read ${s.file} (${readProblem(e)})`);
  }
  const v = data.toString('utf8').trim();
  if (v === '') throw new Error(`${what}: ${s.file} is empty`);
  return v;
}

function readTls(o: ForwardOutput): { ca?: Buffer; cert?: Buffer; key?: Buffer } {
  const out: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  for (const [what, path] of Object.entries(o.tlsFiles) as [keyof TlsFiles, string | undefined][]) {
    if (path === undefined) continue;
    try {
      out[what] = readFileBoundedSync(path, path, { maxBytes: TLS_FILE_MAX_BYTES });
    } catch (e) {
      const why = e instanceof SourceError ? e.code : (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      throw new Error(`cannot read the ${what === 'ca' ? 'CA file' : what === 'cert' ? 'client certificate' : 'client key'} ${path} (${why})`);
    }
  }
  return out;
}

export function checkForwardOutput(o: ForwardOutput): void {
  if (Boolean(o.tlsFiles.cert) !== Boolean(o.tlsFiles.key)) throw new Error('a client certificate needs both --cert-file and --key-file');
  if (!o.tls && (o.tlsFiles.ca || o.tlsFiles.cert)) throw new Error('--ca-file, --cert-file and --key-file are for forward+tls:// outputs');
  if ((o.username === undefined) !== (o.password === undefined)) throw new Error('username and password go together');
  if (o.username !== undefined && !o.sharedKey) throw new Error('username and password need shared_key: in_forward asks for them in its <security> handshake');
  if (o.sharedKey) resolveSecret('shared_key', o.sharedKey);
  if (o.password) resolveSecret('password', o.password);
  readTls(o);
}

const describeSecret = (s: Secret) => ('env' in s ? `from environment variable ${s.env}` : `from file ${s.file}`);

export function describeForwardOutput(o: ForwardOutput, delivery: DeliverySettings): object {
  return {
    url: o.name,
    kind: 'forward',
    tag: o.tag,
    servers: o.servers.map((s) => ({ server: `${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}`, weight: s.weight, ...(s.standby ? { standby: true } : {}) })),
    tls: o.tls,
    ...(o.tlsFiles.ca ? { ca_file: o.tlsFiles.ca } : {}),
    ...(o.tlsFiles.cert ? { cert_file: o.tlsFiles.cert, key_file: o.tlsFiles.key } : {}),
    ...(o.sharedKey ? { shared_key: describeSecret(o.sharedKey) } : {}),
    ...(o.username !== undefined ? { username: o.username, password: describeSecret(o.password!) } : {}),
    ...(o.sharedKey ? { self_hostname: o.selfHostname ?? '(this machine\'s host name)' } : {}),
    ack_timeout_ms: o.ackTimeoutMs,
    spool: spoolDirOf(delivery.spoolDir, o),
  };
}

export const forwardKind: SinkKind<ForwardOutput> = {
  name: 'forward',
  claims: (text) => /^forward(\+tls)?:/i.test(text),
  parse: parseForwardUrl,
  forms,
  docs: [{
    output: '`forward://host:port/tag`, `forward://a:24224,b:24224/tag`, `forward+tls://...`',
    does: 'Fluentd `in_forward` (also td-agent, Fluent Bit): one PackedForward message per batch, EventTime from `time`, acked per chunk; the first server is the primary, the others standbys; shared key, user and TLS. See [Fluentd forward](#fluentd-forward) and [conf/fluentd-forward.conf](conf/fluentd-forward.conf)',
  }],
  options: FORWARD_OPTIONS,
  noun: 'forward output',
  delivers: true,
  check: checkForwardOutput,
  describe: describeForwardOutput,
  async create(spec, ctx) {
    const { forwardTransport, defaultSelfHostname } = await import('./forward/transport.js');
    const tls = spec.tls ? readTls(spec) : undefined;
    const security = spec.sharedKey ? {
      sharedKey: resolveSecret('shared_key', spec.sharedKey),
      selfHostname: spec.selfHostname ?? defaultSelfHostname(),
      ...(spec.username !== undefined ? { username: spec.username, password: resolveSecret('password', spec.password!) } : {}),
    } : undefined;
    const transport = forwardTransport({
      name: spec.name,
      tag: spec.tag,
      servers: spec.servers,
      ackTimeoutMs: spec.ackTimeoutMs,
      connect: { ...(tls ? { tls } : {}), ...(security ? { security } : {}), connectTimeoutMs: ctx.delivery.sendTimeoutMs },
    });
    return deliveringSink(spec, transport, ctx.delivery);
  },
};
