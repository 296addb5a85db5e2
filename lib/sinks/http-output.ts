// What the outputs with an HTTP receiver share (Fluentd in_http, Norikra): their URL, their
// per-output options (headers, TLS files), the checks made before anything runs, how --check shows
// them, and how one becomes a delivering sink with its own spool. The receiver code (and got) is
// loaded only when such an output is configured, so the stdout path starts as fast as before.

import { join } from 'node:path';
import { readRegular } from '../fsafe.js';
import { readFileBoundedSync } from '../read.js';
import { ConfigError, SourceError } from '../errors.js';
import * as log from '../log.js';
import { bad, type Origin, type ValueType } from '../options/values.js';
import { fnv } from '../state.js';
import type { Transport } from './delivery.js';
import type { DeliverySettings, OutputOption, OutputSpec, Sink } from './types.js';

/** A header value: given as is, or read when the run starts (never printed, never logged). */
export type HeaderValue = { literal: string } | { env: string } | { file: string };

export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

export interface HttpOutput extends OutputSpec {
  kind: 'fluentd' | 'norikra';
  /** http: or https: base, e.g. http://127.0.0.1:9880 */
  origin: string;
  /** Fluentd: the tag (the path, slashes as dots); Norikra: the target. */
  tag: string;
  /** user:password from the URL, sent as basic auth; never logged. */
  auth?: { username: string; password: string };
  headers: Record<string, HeaderValue>;
  tls: TlsFiles;
}

const TLS_FILE_MAX_BYTES = 1024 * 1024;

/** Parses an http(s) URL of an output kind: the scheme picks TLS, the path is the kind's to read. */
export function parseHttpUrl(text: string, kind: HttpOutput['kind'], opts: { forms: string; defaultPort?: string; tagOf(path: string): string }): HttpOutput {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`expected ${opts.forms}, got ${JSON.stringify(text)}`);
  }
  const scheme = url.protocol.slice(0, -1);
  if (url.search || url.hash) throw new Error(`${JSON.stringify(text)}: no query or fragment, please: the path alone names the ${kind === 'fluentd' ? 'tag' : 'target'}`);
  const https = scheme.endsWith('https');
  const port = url.port || opts.defaultPort || (https ? '443' : '80');
  const origin = `${https ? 'https' : 'http'}://${url.hostname}:${port}`;
  const path = decodeURIComponent(url.pathname.replace(/^\/+|\/+$/g, ''));
  const tag = opts.tagOf(path);
  const auth = url.username ? { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) } : undefined;
  return { kind, name: `${scheme}://${url.host}/${path}`, origin, tag, ...(auth ? { auth } : {}), headers: {}, tls: {} };
}

/** NAME=VALUE, NAME=env:VAR or NAME=file:PATH. */
export function parseHeader(text: string): [string, HeaderValue] {
  const m = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)=(.*)$/s.exec(text);
  if (!m) throw new Error(`expected NAME=VALUE, NAME=env:VARIABLE or NAME=file:PATH, got a value without a valid header name`);
  const [, name, value] = m;
  if (value!.startsWith('env:')) return [name!, { env: value!.slice(4) }];
  if (value!.startsWith('file:')) return [name!, { file: value!.slice(5) }];
  return [name!, { literal: value! }];
}

/** Why a file of a receiver's could not be read, in a word or two. */
export function readProblem(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.name === 'UnsafePathError' ? 'not a regular file' : err.code === 'too_large' ? err.message : err.code ?? err.message;
}

/** Reads the header values from the environment and files; errors name the header, never the value. */
export function resolveHeaders(headers: Record<string, HeaderValue>, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(headers)) {
    if ('literal' in v) out[name] = v.literal;
    else if ('env' in v) {
      const value = env[v.env];
      if (value === undefined || value === '') throw new Error(`header ${name}: environment variable ${v.env} is not set`);
      out[name] = value;
    } else {
      try {
        const data = readRegular(v.file, 64 * 1024, true);
        if (!data) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
        out[name] = data.toString('utf8').trim();
      } catch (e) {
        throw new Error(`header ${name}: cannot read ${v.file} (${readProblem(e)})`);
      }
    }
    if (/[\r\n]/.test(out[name]!)) throw new Error(`header ${name}: the value holds a line break`);
  }
  return out;
}

const headersType: ValueType<Record<string, HeaderValue>> = {
  parse(v: unknown, origin: Origin) {
    const entries: string[] = Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x : bad(origin, 'NAME=VALUE strings', x)))
      : typeof v === 'object' && v !== null ? Object.entries(v).map(([k, x]) => (typeof x === 'string' ? `${k}=${x}` : bad(`${origin}.${k}`, 'a string: a value, env:VARIABLE or file:PATH', x)))
        : typeof v === 'string' ? [v] : bad(origin, 'headers as {"NAME": "VALUE"} (VALUE may be env:VARIABLE or file:PATH)', v);
    const out: Record<string, HeaderValue> = {};
    for (const e of entries) {
      try {
        const [name, value] = parseHeader(e);
        out[name] = value;
      } catch (err) {
        // Not the text itself: it may hold a secret.
        throw new ConfigError(`${origin}: ${(err as Error).message}`);
      }
    }
    return out;
  },
  show: () => 'none',
};

const filePath: ValueType<string> = { parse: (v, origin) => (typeof v === 'string' && v !== '' ? v : bad(origin, 'a file path', v)), show: (v) => v };

const tlsOption = (flag: `--${string}`, key: string, field: keyof TlsFiles, defaultDoc: string, doc: string): OutputOption<HttpOutput, string> => ({
  flag, key, arg: 'PATH', type: filePath, defaultDoc, doc,
  apply: (spec, value, fromFlag) => {
    if (!fromFlag || spec.tls[field] === undefined) spec.tls[field] = value;
  },
});

/** The TLS files, one declaration for the kinds that take them (https, norikra+https, forward+tls):
 *  --help, the man page and the README show the first kind's, so the words must fit all of them. */
export const TLS_OPTION_DOCS = [
  ['--ca-file', 'ca_file', 'ca', "the system's CAs", 'https and forward+tls outputs: trust the receiver\'s certificate by this CA (PEM)'],
  ['--cert-file', 'cert_file', 'cert', 'none', 'https and forward+tls outputs: client certificate (PEM), with --key-file'],
  ['--key-file', 'key_file', 'key', 'none', 'https and forward+tls outputs: key of the client certificate (PEM)'],
] as const satisfies readonly (readonly [`--${string}`, string, keyof TlsFiles, string, string])[];

export const HTTP_OUTPUT_OPTIONS: readonly OutputOption<HttpOutput>[] = [
  {
    flag: '--header', key: 'headers', arg: 'NAME=VALUE', type: headersType, repeatable: true, defaultDoc: 'none',
    doc: 'an HTTP header for the one HTTP output, repeatable; VALUE may be env:VARIABLE or file:PATH, and is never printed or logged (several outputs: per output in the config file)',
    apply: (spec, value: Record<string, HeaderValue>, fromFlag) => {
      spec.headers = fromFlag ? { ...value, ...spec.headers } : value;
    },
  },
  ...TLS_OPTION_DOCS.map(([flag, key, field, defaultDoc, doc]) => tlsOption(flag, key, field, defaultDoc, doc)),
];

/** The checks of an HTTP output made with the configuration: a missing variable or file is found
 *  now, not at the first send. */
export function checkHttpOutput(h: HttpOutput): void {
  if (Boolean(h.tls.cert) !== Boolean(h.tls.key)) throw new Error('a client certificate needs both --cert-file and --key-file');
  if ((h.tls.ca || h.tls.cert) && !h.origin.startsWith('https:')) throw new Error('--ca-file, --cert-file and --key-file are for https outputs');
  resolveHeaders(h.headers);
  for (const [what, path] of Object.entries(h.tls) as [keyof TlsFiles, string | undefined][]) {
    if (path === undefined) continue;
    try {
      readFileBoundedSync(path, path, { maxBytes: TLS_FILE_MAX_BYTES });
    } catch (e) {
      const why = e instanceof SourceError ? e.code : (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      throw new Error(`cannot read the ${what === 'ca' ? 'CA file' : what === 'cert' ? 'client certificate' : 'client key'} ${path} (${why})`);
    }
  }
}

/** The spool directory of one output under --spool-dir: readable, and unique per output. */
export function spoolDirOf(spoolDir: string, out: { name: string }): string {
  const slug = out.name.replace(/^[a-z+]+:\/\//, '').replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 60);
  return join(spoolDir, `${slug}-${fnv(out.name).slice(0, 8)}`);
}

/** How --check shows a header: where its value comes from, never the value. */
function describeHeader(v: HeaderValue): string {
  return 'env' in v ? `from environment variable ${v.env}` : 'file' in v ? `from file ${v.file}` : '(given on the command line or in the config file)';
}

/** An HTTP output as --check prints it: header sources, never header values. */
export function describeHttpOutput(o: HttpOutput, delivery: DeliverySettings): object {
  return {
    url: o.name,
    kind: o.kind,
    [o.kind === 'fluentd' ? 'tag' : 'target']: o.tag,
    ...(Object.keys(o.headers).length ? { headers: Object.fromEntries(Object.entries(o.headers).map(([k, v]) => [k, describeHeader(v)])) } : {}),
    ...(o.tls.ca ? { ca_file: o.tls.ca } : {}),
    ...(o.tls.cert ? { cert_file: o.tls.cert, key_file: o.tls.key } : {}),
    spool: spoolDirOf(delivery.spoolDir, o),
  };
}

/** An output whose spool cannot be used (a planted or shared directory): it says so once, takes
 *  nothing, and counts what it could not deliver, so that the others go on and the exit status
 *  tells. */
function refusedSink(name: string, why: string): Sink {
  log.error(`sink ${name}`, `${why}; this output gets nothing in this run, the others go on`);
  let lost = 0;
  return {
    name,
    async write(records) {
      lost += records.length;
    },
    async close() {
      if (lost > 0) log.error(`sink ${name}`, `${lost} records were not delivered: its spool was refused`);
      return lost;
    },
  };
}

/** A sink that delivers to `transport` through its own spool (delivery.ts). */
export async function deliveringSink(out: OutputSpec, transport: Transport, delivery: DeliverySettings): Promise<Sink> {
  const [{ deliverySink }, { Spool }] = await Promise.all([import('./delivery.js'), import('./spool.js')]);
  const dir = spoolDirOf(delivery.spoolDir, out);
  let spool: InstanceType<typeof Spool>;
  try {
    spool = new Spool(dir, delivery.spoolMaxBytes);
  } catch (e) {
    transport.close();
    const why = (e as Error).name === 'UnsafePathError' ? (e as Error).message : `cannot use the spool ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
    return refusedSink(transport.name, why);
  }
  return deliverySink(transport, { spool, retryForMs: delivery.retryForMs });
}

/** The factory of an HTTP output kind: its receiver (http.ts, loaded now, with got) behind a
 *  delivering sink. */
export function httpCreate(transport: 'fluentdTransport' | 'norikraTransport') {
  return async (spec: HttpOutput, ctx: { delivery: DeliverySettings }): Promise<Sink> => {
    const http = await import('./http.js');
    return deliveringSink(spec, await http[transport](spec, { timeoutMs: ctx.delivery.sendTimeoutMs }), ctx.delivery);
  };
}
