// What to tell a user whose uWSGI address is not a stats server: an application socket, a
// --stats-http server named as raw, a file or directory given without its scheme, a stale socket
// file, a socket this user may not open. Each failure becomes one line that says what the address
// really is and which address to use. Loaded only when a read has failed or got nothing.

import { accessSync, constants, readdirSync, statSync, type Stats } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname } from 'node:path';
import { parsePasswd } from '../../discover/parse.js';
import { isUnread, readText } from '../../discover/procfs.js';
import { SourceError, describeBytes } from '../../errors.js';
import { fileKind, readFileBoundedSync } from '../../read.js';
import { describeEndpoint, type Address, type Endpoint } from '../endpoint.js';
import { decodeJson } from '../json.js';
import { isGunicornStatus } from '../gunicorn/shape.js';
import { identify, type Holder } from './identify.js';
import { isUwsgiStats } from './shape.js';
import type { Verdict } from './transport.js';

const seconds = (ms: number) => `${+(ms / 1000).toFixed(3)}s`;
const STATS_EXAMPLE = 'stats = /run/uwsgi/app.stats';

/** The same endpoint in the --stats-http address form. */
function httpForm(ep: Endpoint): string {
  if (ep.kind === 'tcp') return `http://${describeEndpoint(ep)}`;
  const path = ep.kind === 'unix' && ep.path.startsWith('\0') ? `@${ep.path.slice(1)}` : ep.path;
  return `http+unix://${path}`;
}

/** A socket known to be an application's. (Another process may relay a stats server: ssh, socat.) */
type Other = Extract<Holder, { is: 'uwsgi-app' | 'gunicorn-app' }>;

/** What the socket is, and what to read instead. */
function misnamed(h: Other): string {
  switch (h.is) {
    case 'uwsgi-app':
      return `uWSGI pid ${h.pid}'s application socket (${h.proto ?? 'shared by its workers'}${h.told ? ', as its options say' : ''}), not its stats server: ` +
        (h.stats ? `use its stats server, ${h.stats}` : `it has no stats server; start it with --stats (${STATS_EXAMPLE} in its ini) and read that`);
    case 'gunicorn-app':
      return `gunicorn pid ${h.pid}'s application socket, not a stats server (gunicorn has none): ` +
        (h.status ? `use ${h.status}` : 'start gunicorn with -c conf/gunicorn_wsgistat.py and read the directory those hooks keep (gunicorn:///dev/shm/wsgistat-gunicorn by default)');
  }
}

/** Errors that already say what the address is. */
const explained = new WeakSet<Error>();
const said = (e: SourceError) => (explained.add(e), e);

const isOther = (h: Holder | undefined): h is Other => h?.is === 'uwsgi-app' || h?.is === 'gunicorn-app';

/** A raw read got nothing within the probe window: what the socket is decides what to do. */
export async function onSilence(addr: Address, waitedMs: number): Promise<Verdict> {
  const where = describeEndpoint(addr.endpoint);
  const h = identify(addr.endpoint);
  if (h?.is === 'uwsgi-stats') {
    if (h.http) return { do: 'http' };
    return { do: 'wait', note: `it is uWSGI pid ${h.pid}'s stats server in raw mode, which writes at once, so its master is blocked (py-spy dump --pid ${h.pid} shows where)` };
  }
  if (isOther(h)) return { do: 'fail', error: said(new SourceError('not_stats', `${where} is ${misnamed(h)} (nothing was sent to it)`)) };
  const hidden = h?.is === 'hidden' ? "; /proc cannot tell which, as the process that listens is another user's"
    : h?.is === 'other' ? `; it is held by pid ${h.pid} (${h.comm}), not by uWSGI, which may relay either` : '';
  return {
    do: 'fail',
    error: said(new SourceError('not_stats', `${where} sent nothing within ${seconds(waitedMs)} and nothing was sent to it: a raw uWSGI stats ` +
      `server writes at once, so this is either a stats server started with --stats-http (then use ${httpForm(addr.endpoint)}) or an ` +
      `application socket (socket= or http-socket=; then use the address of uWSGI's stats option)${hidden}`)),
  };
}

/** Failures that can come from the wrong kind of server, on an HTTP or a raw read. */
const SERVED_WRONG = new Set(['http_error', 'invalid_json', 'not_stats', 'empty', 'timeout', 'connection_reset', 'truncated']);

/** A failed read, said again with what the address really is and what to use. */
export function explain(addr: Address, e: SourceError, maxBytes: number): SourceError {
  if (explained.has(e)) return e;
  const ep = addr.endpoint;
  const path = ep.kind === 'unix' && !ep.path.startsWith('\0') ? ep.path : undefined;
  const better =
    (path && e.code === 'connection_refused' && notASocket(path, maxBytes)) ||
    (path && e.code === 'permission_denied' && denied(path)) ||
    (SERVED_WRONG.has(e.code) && application(addr, e));
  if (!better) return e;
  return new SourceError(better.code ?? e.code, better.message, { cause: e });
}

type Better = { message: string; code?: SourceError['code'] } | undefined;

/** What an HTTP (or unasked) answer that is not uWSGI's stats says: the application answered. */
function application(addr: Address, e: SourceError): Better {
  const where = describeEndpoint(addr.endpoint);
  const h = identify(addr.endpoint);
  if (isOther(h)) return { message: `${where} is ${misnamed(h)} (its answer: ${e.message})`, code: 'not_stats' };
  // uWSGI's stats server answers every request with 200 and its JSON: anything else is not it.
  // Unasked, a server that writes JSON at once is some stats server (the Emperor's has no
  // "workers"), but none writes HTML or HTTP.
  const wrong = addr.mode === 'http'
    ? e.code === 'http_error' || e.code === 'not_stats' || e.code === 'invalid_json'
    : / answered HTTP without being asked$/.test(e.message) || (e.code === 'invalid_json' && / of HTML or XML/.test(e.message));
  if (!wrong) return undefined;
  return { message: `${e.message}: this looks like the application, not uWSGI's stats server: use the address of uWSGI's stats option (http://HOST:PORT of it with --stats-http)` };
}

/** connection_refused on a path: a file, a directory, or a socket nothing listens on. */
function notASocket(path: string, maxBytes: number): Better {
  let st: Stats;
  try {
    st = statSync(path);
  } catch {
    return undefined;
  }
  const where = `unix socket ${path}`;
  if (st.isSocket()) {
    return { message: `connection refused: nothing is listening on ${where}: the socket file is left from a server that is not running, or that died or stopped without removing it ` +
      '(start the server; vacuum = true in its ini removes the file when it stops)' };
  }
  if (st.isDirectory()) return { message: `${path} is a directory, not a socket: ${inDirectory(path)}`, code: 'not_a_file' };
  if (!st.isFile()) return { message: `${path} is ${fileKind(st)}, not a socket: give uWSGI's stats socket`, code: 'not_a_file' };
  let bytes: Buffer;
  try {
    bytes = readFileBoundedSync(path, where, { maxBytes });
  } catch {
    return { message: `${path} is a regular file, not a socket: give uWSGI's stats socket, or file://${path} for a saved stats document`, code: 'not_a_file' };
  }
  let doc: unknown;
  try {
    doc = decodeJson(bytes, where).value;
  } catch {
    doc = undefined;
  }
  const is = isUwsgiStats(doc) ? ['a uWSGI stats document', `file://${path}`] : isGunicornStatus(doc) ? ['a gunicorn status file', `gunicorn://${path}`] : undefined;
  if (is) return { message: `${path} is a regular file holding ${is[0]}, not a socket: read it as ${is[1]}`, code: 'not_a_file' };
  return { message: `${path} is a regular file (${describeBytes(bytes)}), not a socket: give uWSGI's stats socket`, code: 'not_a_file' };
}

/** What a directory given as a socket holds, and the address to use. */
function inDirectory(dir: string): string {
  let names: string[] = [];
  try {
    names = readdirSync(dir).slice(0, 10_000);
  } catch {
    return "give uWSGI's stats socket";
  }
  if (names.includes('master.json')) return `it holds master.json, as the wsgistat gunicorn hooks' directory does: read it as gunicorn://${dir}`;
  if (names.some((n) => /^(counter|gauge|histogram|summary)_.*\.db$/.test(n))) return `it holds prometheus_client's multiprocess files: read it as prometheus-multiproc://${dir}`;
  const sockets = names.filter((n) => {
    try {
      return statSync(`${dir}/${n}`).isSocket();
    } catch {
      return false;
    }
  });
  return sockets.length ? `give one of the sockets in it (${sockets.slice(0, 5).join(', ')}), the one uWSGI's stats option names` : "give uWSGI's stats socket";
}

/** /etc/passwd or /etc/group: id → name (both keep the id in their third field). */
function names(file: string): Map<number, string> {
  const text = readText(file, 4 * 1024 * 1024);
  return isUnread(text) ? new Map() : parsePasswd(text);
}

/** permission_denied on a path: the directory or the socket that keeps this user out, its owner,
 *  group and mode, and which group to join. */
function denied(path: string): Better {
  const me = userInfo().username;
  const users = names('/etc/passwd');
  const groups = names('/etc/group');
  const describe = (p: string, st: Stats) =>
    `${p} (owner ${users.get(st.uid) ?? st.uid}, group ${groups.get(st.gid) ?? st.gid}, mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`;
  const chain: string[] = [];
  for (let d = dirname(path); chain.length < 64; d = dirname(d)) {
    chain.unshift(d);
    if (d === dirname(d)) break;
  }
  for (const d of chain) {
    try {
      accessSync(d, constants.X_OK);
    } catch {
      try {
        const st = statSync(d);
        return { message: `permission denied: ${me} cannot enter the directory ${describe(d, st)} on the way to unix socket ${path}: ${remedy(me, st, 0o010, groups, d)}` };
      } catch {
        return undefined;
      }
    }
  }
  let st: Stats;
  try {
    st = statSync(path);
  } catch {
    return undefined;
  }
  return { message: `permission denied opening unix socket ${describe(path, st)}: connecting needs write permission on it; ${remedy(me, st, 0o020, groups, path)}` };
}

/** Which group to join, or which mode to set, for `bit` (group search or group write). */
function remedy(me: string, st: Stats, bit: number, groups: Map<number, string>, what: string): string {
  const group = groups.get(st.gid) ?? `gid ${st.gid}`;
  const add = `add ${me} to group ${group} (usermod -aG ${group} ${me}, then start wsgistat again)`;
  if (st.mode & bit) return `${add}, or run wsgistat as a member of it`;
  return bit === 0o020
    ? `its mode lets only its owner write: set chmod-socket = 660 in uWSGI's ini (the socket's group is uWSGI's gid), then ${add}`
    : `its mode lets only its owner in: chmod g+x ${what} (or mode 0750), then ${add}`;
}
