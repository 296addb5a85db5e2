// Endpoints: where a source's bytes come from, and the pieces of address syntax the source kinds
// share (unix and abstract socket paths, host:port, file paths). Pure: no I/O.

import { isAbsolute, resolve } from 'node:path';
import { splitHostPort } from '../hostport.js';

/** Where bytes come from: a stream socket, or a file. */
export type Endpoint =
  | { kind: 'unix'; path: string }            // abstract sockets: path starts with "\0"
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'file'; path: string };

export interface Address {
  /** The address as the user wrote it; records carry it as `source`. */
  text: string;
  /** The source kind that reads it (sources/kinds.ts). */
  kind: string;
  endpoint: Endpoint;
  /** How the kind talks to it: `raw` = uWSGI's default stats mode, `http` = --stats-http; `file`
   *  and `gunicorn` for those kinds. */
  mode: string;
  /** For `http`: the request path. */
  httpPath: string;
}

/** What is wrong with an address, without the address: sources/address.ts adds it, and the forms. */
export class AddressProblem extends Error {}

export function problem(why: string): never {
  throw new AddressProblem(why);
}

/** `/path`, `./path`, `@name` (abstract). */
export function unixEndpoint(rest: string): Endpoint {
  if (rest.startsWith('@')) {
    if (rest.length === 1) problem('an abstract socket needs a name after "@"');
    return { kind: 'unix', path: `\0${rest.slice(1)}` };
  }
  if (rest === '') problem('no socket path');
  return { kind: 'unix', path: isAbsolute(rest) ? rest : resolve(rest) };
}

/** `host:port`, `[v6]:port` or `:port` (which means the loopback address). */
export function tcpEndpoint(rest: string): Endpoint {
  const hp = splitHostPort(rest);
  if ('problem' in hp) return problem(hp.problem);
  const host = hp.host === '' || hp.host === '0.0.0.0' ? '127.0.0.1' : hp.host;
  return { kind: 'tcp', host: host === '::' ? '::1' : host, port: hp.port };
}

export function fileEndpoint(rest: string, what: string): Endpoint {
  if (rest === '') problem(`no ${what}`);
  return { kind: 'file', path: isAbsolute(rest) ? rest : resolve(rest) };
}

/** The text after `scheme://` or `scheme:`. */
export function afterScheme(text: string, scheme: string): string {
  const lower = text.toLowerCase();
  return lower.startsWith(`${scheme}://`) ? text.slice(scheme.length + 3) : text.slice(scheme.length + 1);
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
