// The uwsgi source kind: uWSGI's stats server on a unix, abstract or TCP socket, raw or HTTP mode.

import { afterScheme, problem, tcpEndpoint, unixEndpoint, type Address } from '../endpoint.js';
import type { SourceKind } from '../types.js';
import { uwsgiSocketSource } from './index.js';

function httpAddress(text: string, rest: string, overUnix: boolean): Address {
  if (overUnix) return { text, kind: 'uwsgi', endpoint: unixEndpoint(rest), mode: 'http', httpPath: '/' };
  const slash = rest.indexOf('/');
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const httpPath = slash === -1 ? '/' : rest.slice(slash);
  return { text, kind: 'uwsgi', endpoint: tcpEndpoint(authority), mode: 'http', httpPath };
}

const raw = (text: string, endpoint: Address['endpoint']): Address => ({ text, kind: 'uwsgi', endpoint, mode: 'raw', httpPath: '/' });

export const uwsgiKind: SourceKind = {
  name: 'uwsgi',
  schemes: ['unix', 'tcp', 'http', 'http+unix', 'https'],
  parse(text, scheme) {
    const has = (prefix: string) => text.toLowerCase().startsWith(prefix);
    switch (scheme) {
      case 'unix':
        return raw(text, unixEndpoint(afterScheme(text, 'unix')));
      case 'tcp':
        if (!has('tcp://')) problem('expected tcp://host:port');
        return raw(text, tcpEndpoint(afterScheme(text, 'tcp')));
      case 'http':
        if (!has('http://')) problem('expected http://host:port');
        return httpAddress(text, afterScheme(text, 'http'), false);
      case 'http+unix':
        if (!has('http+unix://')) problem('expected http+unix:///path or http+unix://@name');
        return httpAddress(text, afterScheme(text, 'http+unix'), true);
      default:
        return problem("uWSGI's stats server does not speak TLS; use http:// or a unix socket");
    }
  },
  bare(text) {
    if (text.startsWith('@') || text.startsWith('/') || text.startsWith('./') || text.startsWith('../')) return raw(text, unixEndpoint(text));
    if (/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]*):\d+$/.test(text)) return raw(text, tcpEndpoint(text));
    return undefined;
  },
  forms: ['unix:///path', '/path', '@name', 'unix:@name', 'tcp://host:port', 'host:port', 'http://host:port', 'http+unix:///path'],
  help: [
    ['unix:///run/uwsgi/app.stats, /run/uwsgi/app.stats', 'uWSGI stats on a unix socket'],
    ['@name, unix:@name', '... on an abstract unix socket'],
    ['tcp://127.0.0.1:1717, 127.0.0.1:1717', '... on TCP'],
    ['http://127.0.0.1:1717', '... a server started with --stats-http'],
    ['http+unix:///run/uwsgi/app.stats', '... --stats-http on a unix socket'],
  ],
  docs: [
    { forms: '`unix:///run/uwsgi/app.stats`, `unix:/run/...`, `/run/uwsgi/app.stats`, `./app.stats`', reads: 'a stats server on a unix socket' },
    { forms: '`@name`, `unix:@name`, `unix://@name`', reads: 'a stats server on an abstract unix socket (see [Abstract sockets](#abstract-sockets))' },
    { forms: '`tcp://127.0.0.1:1717`, `127.0.0.1:1717`, `[::1]:1717`, `:1717` (loopback)', reads: 'a stats server on TCP' },
    { forms: '`http://127.0.0.1:1717`, `http://127.0.0.1:1717/path`', reads: 'a stats server started with `--stats-http`' },
    { forms: '`http+unix:///run/uwsgi/app.stats`, `http+unix://@name`', reads: '`--stats-http` on a unix or abstract socket' },
  ],
  create: uwsgiSocketSource,
};
