// Source addresses: what a user may write, parsed into where to connect and how to talk.
// Pure: no I/O. Every form here is documented in the README's "Addresses" table.

import { isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { splitHostPort } from '../hostport.js';

/** Where bytes come from: a stream socket, or a file. */
export type Endpoint =
  | { kind: 'unix'; path: string }            // abstract sockets: path starts with "\0"
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'file'; path: string };

export interface Address {
  /** The address as the user wrote it; records carry it as `source`. */
  text: string;
  endpoint: Endpoint;
  /** For sockets: the protocol the user named. `raw` = uWSGI's default stats mode.
   *  `gunicorn`: a gunicorn status file kept by config hooks. */
  mode: 'raw' | 'http' | 'file' | 'gunicorn';
  /** For `http`: the request path. */
  httpPath: string;
}

const FORMS =
  'unix:///path, /path, @name, unix:@name, tcp://host:port, host:port, ' +
  'http://host:port, http+unix:///path, file:///path.json, gunicorn:///path.json';

function fail(text: string, why: string): never {
  throw new ConfigError(`source ${JSON.stringify(text)}: ${why} (address forms: ${FORMS})`);
}

function unixEndpoint(text: string, rest: string): Endpoint {
  if (rest.startsWith('@')) {
    if (rest.length === 1) fail(text, 'an abstract socket needs a name after "@"');
    return { kind: 'unix', path: `\0${rest.slice(1)}` };
  }
  if (rest === '') fail(text, 'no socket path');
  return { kind: 'unix', path: isAbsolute(rest) ? rest : resolve(rest) };
}

/** Parses `host:port`, `[v6]:port` or `:port` (which means the loopback address). */
function hostPort(text: string, rest: string): { host: string; port: number } {
  const hp = splitHostPort(rest);
  if ('problem' in hp) return fail(text, hp.problem);
  const host = hp.host === '' || hp.host === '0.0.0.0' ? '127.0.0.1' : hp.host;
  return { host: host === '::' ? '::1' : host, port: hp.port };
}

function httpAddress(text: string, rest: string, overUnix: boolean): Address {
  if (overUnix) {
    return { text, endpoint: unixEndpoint(text, rest), mode: 'http', httpPath: '/' };
  }
  const slash = rest.indexOf('/');
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const httpPath = slash === -1 ? '/' : rest.slice(slash);
  return { text, endpoint: { kind: 'tcp', ...hostPort(text, authority) }, mode: 'http', httpPath };
}

/** Parses one source address. Throws ConfigError naming the address and the forms it may take. */
export function parseAddress(input: string): Address {
  const text = input.trim();
  if (text === '') fail(input, 'empty address');
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(text)?.[1]?.toLowerCase();
  const after = (prefix: string) => text.slice(prefix.length);

  switch (scheme) {
    case 'unix': {
      const rest = text.startsWith('unix://') ? after('unix://') : after('unix:');
      return { text, endpoint: unixEndpoint(text, rest), mode: 'raw', httpPath: '/' };
    }
    case 'tcp':
      if (!text.startsWith('tcp://')) fail(text, 'expected tcp://host:port');
      return { text, endpoint: { kind: 'tcp', ...hostPort(text, after('tcp://')) }, mode: 'raw', httpPath: '/' };
    case 'http':
      if (!text.startsWith('http://')) fail(text, 'expected http://host:port');
      return httpAddress(text, after('http://'), false);
    case 'http+unix':
      if (!text.startsWith('http+unix://')) fail(text, 'expected http+unix:///path or http+unix://@name');
      return httpAddress(text, after('http+unix://'), true);
    case 'https':
      return fail(text, "uWSGI's stats server does not speak TLS; use http:// or a unix socket");
    case 'file': {
      const rest = text.startsWith('file://') ? after('file://') : after('file:');
      if (rest === '') fail(text, 'no file path');
      return { text, endpoint: { kind: 'file', path: isAbsolute(rest) ? rest : resolve(rest) }, mode: 'file', httpPath: '/' };
    }
    case 'gunicorn': {
      const rest = text.startsWith('gunicorn://') ? after('gunicorn://') : after('gunicorn:');
      if (rest === '') fail(text, 'no status file path');
      return { text, endpoint: { kind: 'file', path: isAbsolute(rest) ? rest : resolve(rest) }, mode: 'gunicorn', httpPath: '/' };
    }
    default:
      break;
  }
  if (text.startsWith('@')) return { text, endpoint: unixEndpoint(text, text), mode: 'raw', httpPath: '/' };
  if (text.startsWith('/') || text.startsWith('./') || text.startsWith('../')) {
    return { text, endpoint: unixEndpoint(text, text), mode: 'raw', httpPath: '/' };
  }
  if (/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]*):\d+$/.test(text)) {
    return { text, endpoint: { kind: 'tcp', ...hostPort(text, text) }, mode: 'raw', httpPath: '/' };
  }
  if (scheme) fail(text, `unknown scheme "${scheme}:"`);
  return fail(text, 'cannot tell what kind of address this is');
}

/** How an endpoint is named in messages ("unix socket /run/app.stats", "127.0.0.1:1717"). */
export function describeEndpoint(endpoint: Endpoint): string {
  switch (endpoint.kind) {
    case 'unix':
      return endpoint.path.startsWith('\0')
        ? `abstract socket @${endpoint.path.slice(1)}`
        : `unix socket ${endpoint.path}`;
    case 'tcp':
      return endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
    case 'file':
      return `file ${endpoint.path}`;
  }
}
