// Where records go (--output): stdout, a Fluentd in_http input, or a Norikra target. Parsed and
// checked with the rest of the configuration, before anything is read or sent.

import { readRegular } from '../fsafe.js';
import { join } from 'node:path';
import { fnv } from '../state.js';

/** A header value: given as is, or read when the run starts (never printed, never logged). */
export type HeaderValue = { literal: string } | { env: string } | { file: string };

export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

export type OutputSpec =
  | { kind: 'stdout'; name: 'stdout' }
  | {
    kind: 'fluentd' | 'norikra';
    /** For diagnostics: the URL without credentials. */
    name: string;
    /** http: or https: base, e.g. http://127.0.0.1:9880 */
    origin: string;
    /** Fluentd: the tag (the path, slashes as dots); Norikra: the target. */
    tag: string;
    /** user:password from the URL, sent as basic auth; never logged. */
    auth?: { username: string; password: string };
    headers: Record<string, HeaderValue>;
    tls: TlsFiles;
  };

export type HttpOutput = Exclude<OutputSpec, { kind: 'stdout' }>;

/** Norikra's rule for target names (its Target class): a letter first, then letters, digits and
 *  underscores, not ending in an underscore. A name it refuses gets an HTTP 400. */
export const NORIKRA_TARGET = /^[a-zA-Z]([_a-zA-Z0-9]*[a-zA-Z0-9])?$/;

const FORMS = 'stdout, http(s)://host:port/tag (Fluentd in_http) or norikra://host:port/target (norikra+https:// for TLS)';

/** Parses one --output; throws an Error whose message says what was expected. */
export function parseOutput(text: string): OutputSpec {
  if (text === 'stdout' || text === '-') return { kind: 'stdout', name: 'stdout' };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`expected ${FORMS}, got ${JSON.stringify(text)}`);
  }
  const scheme = url.protocol.slice(0, -1);
  const kind = scheme === 'http' || scheme === 'https' ? 'fluentd' : scheme === 'norikra' || scheme === 'norikra+https' ? 'norikra' : undefined;
  if (!kind) throw new Error(`expected ${FORMS}, got ${JSON.stringify(text)}`);
  if (url.search || url.hash) throw new Error(`${JSON.stringify(text)}: no query or fragment, please: the path alone names the ${kind === 'fluentd' ? 'tag' : 'target'}`);
  const https = scheme === 'https' || scheme === 'norikra+https';
  const port = url.port || (kind === 'norikra' ? '26578' : https ? '443' : '80');
  const host = url.hostname;
  const origin = `${https ? 'https' : 'http'}://${host}:${port}`;
  const path = decodeURIComponent(url.pathname.replace(/^\/+|\/+$/g, ''));
  let tag: string;
  if (kind === 'fluentd') {
    // in_http: POST /a/b emits with tag a.b.
    tag = path.split('/').filter(Boolean).join('.');
    if (!/^[A-Za-z0-9_.-]+$/.test(tag)) throw new Error(`${JSON.stringify(text)}: the path is the Fluentd tag, e.g. http://127.0.0.1:9880/uwsgi.stats`);
  } else {
    tag = path;
    if (!NORIKRA_TARGET.test(tag)) throw new Error(`${JSON.stringify(text)}: the path is the Norikra target, a letter then letters, digits and _ (not ending in _), e.g. norikra://127.0.0.1:26578/uwsgi_stats`);
  }
  const name = `${scheme}://${url.host}/${path}`;
  const auth = url.username ? { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) } : undefined;
  return { kind, name, origin, tag, ...(auth ? { auth } : {}), headers: {}, tls: {} };
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
        throw new Error(`header ${name}: cannot read ${v.file} (${(e as Error).name === 'UnsafePathError' ? 'not a regular file' : (e as NodeJS.ErrnoException).code === 'too_large' ? (e as Error).message : (e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
    }
    if (/[\r\n]/.test(out[name]!)) throw new Error(`header ${name}: the value holds a line break`);
  }
  return out;
}

/** How --check shows a header: where its value comes from, never the value. */
function describeHeader(v: HeaderValue): string {
  return 'env' in v ? `from environment variable ${v.env}` : 'file' in v ? `from file ${v.file}` : '(given on the command line or in the config file)';
}

/** The spool directory of one output under --spool-dir: readable, and unique per output. */
export function spoolDirOf(spoolDir: string, out: { name: string }): string {
  const slug = out.name.replace(/^[a-z+]+:\/\//, '').replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 60);
  return join(spoolDir, `${slug}-${fnv(out.name).slice(0, 8)}`);
}

/** An output as --check prints it: header sources, never header values. */
export function describeOutput(o: OutputSpec, spoolDir: string): string | object {
  if (o.kind === 'stdout') return 'stdout';
  return {
    url: o.name,
    kind: o.kind,
    [o.kind === 'fluentd' ? 'tag' : 'target']: o.tag,
    ...(Object.keys(o.headers).length ? { headers: Object.fromEntries(Object.entries(o.headers).map(([k, v]) => [k, describeHeader(v)])) } : {}),
    ...(o.tls.ca ? { ca_file: o.tls.ca } : {}),
    ...(o.tls.cert ? { cert_file: o.tls.cert, key_file: o.tls.key } : {}),
    spool: spoolDirOf(spoolDir, o),
  };
}
