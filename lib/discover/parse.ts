// Pure parsers for discovery: /proc/net/unix, /proc/net/tcp{,6}, /proc/PID/stat, cmdline and
// status, and uWSGI's ini files. No I/O here (index.ts reads; spec/discover-parse.spec.ts feeds
// captured text).

import { parseStat } from '../proc.js';

/** A listening socket, by inode: its address in wsgistat's form (/path, @name, host:port). */
export type Listeners = Map<string, string>;

/** __SO_ACCEPTCON in /proc/net/unix's Flags column: the socket listens. */
const ACCEPTCON = 0x10000;

/** /proc/net/unix: `Num RefCount Protocol Flags Type St Inode [Path]`; listening sockets only.
 *  An abstract name starts with "@" there (its NULs shown as "@" too). */
export function parseNetUnix(text: string): Listeners {
  const out: Listeners = new Map();
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || !f[7]) continue;
    if ((parseInt(f[3]!, 16) & ACCEPTCON) === 0) continue;
    // A path may hold spaces: everything after the inode column.
    const path = line.trim().split(/\s+/).slice(7).join(' ');
    out.set(f[6]!, path);
  }
  return out;
}

/** An address from /proc/net/tcp's hex form: IPv4 is one little-endian word, IPv6 four. */
function hexAddress(hex: string): string {
  const [h, p] = hex.split(':') as [string, string];
  const port = parseInt(p, 16);
  if (h.length === 8) return `${[0, 1, 2, 3].map((i) => parseInt(h.slice(6 - i * 2, 8 - i * 2), 16)).join('.')}:${port}`;
  const bytes: string[] = [];
  for (let w = 0; w < 4; w++) {
    const word = h.slice(w * 8, w * 8 + 8);
    for (let i = 3; i >= 0; i--) bytes.push(word.slice(i * 2, i * 2 + 2));
  }
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(parseInt(bytes[i]! + bytes[i + 1]!, 16).toString(16));
  const v6 = groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::').replace(/:{3,}/, '::');
  const mapped = /^::ffff:([0-9a-f]+):([0-9a-f]+)$/.exec(v6);
  if (mapped) {
    const a = parseInt(mapped[1]!, 16), b = parseInt(mapped[2]!, 16);
    return `${a >> 8}.${a & 255}.${b >> 8}.${b & 255}:${port}`;
  }
  return `[${v6}]:${port}`;
}

/** /proc/net/tcp or tcp6: sockets in LISTEN (state 0A), inode → host:port. A wildcard address
 *  (0.0.0.0, ::) is read on loopback. */
export function parseNetTcp(text: string): Listeners {
  const out: Listeners = new Map();
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== '0A') continue;
    let addr = hexAddress(f[1]!);
    if (addr.startsWith('0.0.0.0:')) addr = `127.0.0.1:${addr.slice(8)}`;
    else if (addr.startsWith('[::]:')) addr = `[::1]:${addr.slice(5)}`;
    out.set(f[9]!, addr);
  }
  return out;
}

export interface Proc {
  pid: number;
  ppid: number;
  /** The command name in /proc/PID/stat (15 characters at most). */
  comm: string;
  argv: string[];
}

/** One process from its stat and cmdline texts; undefined when stat does not parse. */
export function parseProc(pid: number, stat: string, cmdline: string): Proc | undefined {
  const st = parseStat(stat);
  if (!st) return undefined;
  const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  const argv = cmdline.split('\0');
  if (argv.at(-1) === '') argv.pop();
  // A rewritten title (setproctitle, uWSGI's procname) may be one string with spaces.
  const words = argv.length === 1 ? argv[0]!.split(' ').filter(Boolean) : argv;
  return { pid, ppid: st.ppid, comm, argv: words };
}

/** The real uid in /proc/PID/status ("Uid:\treal\teffective\t..."). */
export function statusUid(text: string): number | undefined {
  const m = /^Uid:\s+(\d+)/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** /etc/passwd: uid → name. */
export function parsePasswd(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && /^\d+$/.test(f[2]!)) out.set(Number(f[2]), f[0]!);
  }
  return out;
}

const base = (p: string) => p.slice(p.lastIndexOf('/') + 1);

export const isUwsgi = (p: Proc): boolean => p.comm.startsWith('uwsgi') || base(p.argv[0] ?? '').startsWith('uwsgi');

/** gunicorn: its own script (/usr/bin/gunicorn run by python), `python -m gunicorn`, or a title
 *  set by setproctitle ("gunicorn: master [app]"). */
export function isGunicorn(p: Proc): boolean {
  if (p.comm.startsWith('gunicorn') || base(p.argv[0] ?? '').startsWith('gunicorn')) return true;
  if (!/^python/.test(base(p.argv[0] ?? ''))) return false;
  const i = p.argv.findIndex((a, k) => k > 0 && !a.startsWith('-'));
  const script = p.argv[i] ?? '';
  return base(script).startsWith('gunicorn') || (p.argv.includes('-m') && p.argv[p.argv.indexOf('-m') + 1] === 'gunicorn');
}

/** What a uWSGI command line or ini says of its stats server. */
export interface StatsConfig {
  stats?: string;
  http: boolean;
  /** Ini files named (--ini, a bare *.ini argument), as written (may be relative). */
  inis: string[];
  emperor: boolean;
}

/** uWSGI's options from argv: `--stats X`, `--stats=X`, `--stats-server X`, `--stats-http`,
 *  `--ini F`, a bare `foo.ini`, `--emperor`. */
export function uwsgiFlags(argv: string[]): StatsConfig {
  const out: StatsConfig = { http: false, inis: [], emperor: false };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const name = a.startsWith('--') ? (eq > 0 ? a.slice(2, eq) : a.slice(2)) : '';
    const value = () => (eq > 0 ? a.slice(eq + 1) : argv[++i]);
    if (name === 'stats' || name === 'stats-server') out.stats = value();
    else if (name === 'stats-http') out.http = true;
    else if (name === 'ini') out.inis.push(value() ?? '');
    else if (name === 'emperor') out.emperor = true;
    else if (!name && a.endsWith('.ini')) out.inis.push(a);
  }
  return out;
}

const truthy = (v: string) => !/^(false|0|no|off)$/i.test(v.trim());

/** The [uwsgi] section of an ini: stats, stats-server, stats-http, emperor. A value with a
 *  placeholder (%d, $(VAR), @(file)) is kept as written; the caller says it could not expand it. */
export function parseIni(text: string, into: StatsConfig = { http: false, inis: [], emperor: false }): StatsConfig {
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith(';') || line.startsWith('#')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      section = sec[1]!.trim();
      continue;
    }
    if (section !== 'uwsgi') continue;
    const eq = line.indexOf('=');
    const key = (eq < 0 ? line : line.slice(0, eq)).trim().replaceAll('_', '-');
    const value = eq < 0 ? 'true' : line.slice(eq + 1).trim();
    if (key === 'stats' || key === 'stats-server') into.stats = value;
    else if (key === 'stats-http') into.http = truthy(value);
    else if (key === 'emperor') into.emperor = true;
  }
  return into;
}

/** Whether an ini value holds a placeholder uWSGI would expand. */
export const hasPlaceholder = (v: string): boolean => /%[a-zA-Z(]|\$\(|@\(/.test(v);

/** A uWSGI stats option value in wsgistat's address form. `http` adds the http:// or http+unix://
 *  scheme. "127.0.0.1:1717", ":1717" (all interfaces, read on loopback), "/path", "@name". */
export function statsAddress(value: string, http: boolean): string {
  const v = value.startsWith(':') ? `127.0.0.1${value}` : value.startsWith('0.0.0.0:') ? `127.0.0.1${value.slice(7)}` : value;
  const unix = v.startsWith('/') || v.startsWith('@') || !/:\d+$/.test(v);
  if (unix) return http ? `http+unix://${v}` : v.startsWith('@') ? v : `unix://${v}`;
  return http ? `http://${v}` : `tcp://${v}`;
}

/** NUL-separated environ text → the few variables discovery looks at. */
export function parseEnviron(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const kv of text.split('\0')) {
    const eq = kv.indexOf('=');
    if (eq > 0) out.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  return out;
}

/** Who can read another user's /proc entries: that user, or root. */
export const asWho = (user: string): string => (user === 'root' ? 'root' : `${user} or root`);
