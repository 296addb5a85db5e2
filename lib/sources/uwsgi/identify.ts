// What a local socket is, from /proc alone (nothing is sent to it): which process listens there,
// and whether it is a uWSGI master's stats server (the socket its master holds and no worker does,
// as discovery decides it), one of its application sockets (inherited by every worker), a gunicorn
// listener, or something else. Loaded only when a read has failed or got nothing.

import { gunicornServers } from '../../discover/gunicorn.js';
import { isGunicorn, isUwsgi, type Proc } from '../../discover/parse.js';
import { cwdOf, isUnread, listeners, readTable, readText, socketInodes, under, type Table } from '../../discover/procfs.js';
import { uwsgiServers } from '../../discover/uwsgi.js';
import type { Endpoint } from '../endpoint.js';
import { isLocal } from './liveness.js';

export type Holder =
  /** Nothing listens there in this network namespace. */
  | { is: 'nothing' }
  /** Something listens, but no process this user may look into holds it. */
  | { is: 'hidden' }
  /** A uWSGI master's stats server: `address` as discovery writes it (http:// for --stats-http).
   *  `told`: known from the master's options only, as its descriptors are another user's. */
  | { is: 'uwsgi-stats'; pid: number; address: string; http: boolean; told?: boolean }
  /** A socket of a uWSGI master that its workers share (or its --http router): `proto` from its
   *  options when they name this address; `stats`: its stats server, if it has one. */
  | { is: 'uwsgi-app'; pid: number; proto?: string; stats?: string; told?: boolean }
  /** A gunicorn master's listener; `status`: what wsgistat can read of it, if anything. */
  | { is: 'gunicorn-app'; pid: number; status?: string }
  | { is: 'other'; pid: number; comm: string };

/** uWSGI's options that bind an application socket, and what to call each. */
const APP_OPTIONS: Record<string, string> = {
  'socket': 'uwsgi protocol, socket=', 's': 'uwsgi protocol, socket=', 'uwsgi-socket': 'uwsgi protocol, uwsgi-socket=',
  'http-socket': 'http-socket=', 'https-socket': 'https-socket=', 'http': 'the HTTP router, http=',
  'fastcgi-socket': 'FastCGI, fastcgi-socket=', 'scgi-socket': 'SCGI, scgi-socket=',
};

/** The listening inodes of an endpoint, with their address as /proc/net shows it. */
function inodesOf(ep: Endpoint, net: ReturnType<typeof listeners>): Map<string, string> {
  const out = new Map<string, string>();
  if (ep.kind === 'unix') {
    const want = ep.path.startsWith('\0') ? `@${ep.path.slice(1)}` : ep.path;
    // uWSGI binds abstract names with their NUL, which /proc/net/unix shows as a trailing "@"; a
    // path bound relative is shown so, and checked against its holder's working directory.
    for (const [inode, path] of net.unix) {
      const relative = !path.startsWith('/') && !path.startsWith('@') && want.endsWith(`/${path}`);
      if (path === want || path === `${want}@` || relative) out.set(inode, path);
    }
  } else if (ep.kind === 'tcp') {
    const loopback = /^(127\.|::1$|localhost$)/.test(ep.host);
    for (const [inode, addr] of net.tcp) {
      const m = /^\[?(.*?)\]?:(\d+)$/.exec(addr);
      if (m && Number(m[2]) === ep.port && (m[1] === ep.host || (loopback && /^(127\.0\.0\.1|::1)$/.test(m[1]!)))) out.set(inode, addr);
    }
  }
  return out;
}

/** Every process holding one of the inodes (a relative path: resolved in its working directory to
 *  the path wanted). Bounded by the process table. */
function holders(root: string, table: Table, inodes: Map<string, string>, want: string | undefined): Proc[] {
  const out: Proc[] = [];
  for (const p of table.procs.values()) {
    const held = socketInodes(root, p.pid);
    if (isUnread(held)) continue;
    const fits = (shown: string) => {
      if (!want || shown.startsWith('/') || shown.startsWith('@')) return true;
      const cwd = cwdOf(root, p.pid);
      return typeof cwd === 'string' && under(cwd, shown) === want;
    };
    if ([...inodes].some(([inode, shown]) => held.has(inode) && fits(shown))) out.push(p);
  }
  return out;
}

/** `key=value` pairs of the command line (`--key value`, `--key=value`, `-s value`) and of the
 *  [uwsgi] section of every ini it names, for the application socket options only. */
function appOptions(root: string, p: Proc): [string, string][] {
  const out: [string, string][] = [];
  const inis: string[] = [];
  for (let i = 1; i < p.argv.length; i++) {
    const a = p.argv[i]!;
    const m = /^--?([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) {
      if (a.endsWith('.ini')) inis.push(a);
      continue;
    }
    const value = () => m[2] ?? p.argv[++i] ?? '';
    if (m[1] === 'ini') inis.push(value());
    else if (m[1]! in APP_OPTIONS) out.push([m[1]!, value()]);
  }
  for (const ini of inis) {
    const cwd = ini.startsWith('/') ? '' : cwdOf(root, p.pid);
    if (isUnread(cwd)) continue;
    const text = readText(cwd ? under(cwd, ini) : ini, 1024 * 1024);
    if (isUnread(text)) continue;
    let section = '';
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      const sec = /^\[(.+)\]$/.exec(line);
      if (sec) section = sec[1]!.trim();
      const kv = /^([a-z_-]+)\s*=\s*(.*)$/.exec(line);
      if (section === 'uwsgi' && kv && kv[1]!.replaceAll('_', '-') in APP_OPTIONS) out.push([kv[1]!.replaceAll('_', '-'), kv[2]!.trim()]);
    }
  }
  return out;
}

/** Which option bound this address: its value resolved the way /proc/net shows addresses. */
function protoOf(root: string, p: Proc, shown: string[]): string | undefined {
  const cwd = cwdOf(root, p.pid);
  for (const [key, value] of appOptions(root, p)) {
    const v = value.split(',')[0]!.trim(); // http=ADDR,ROUTER-OPTIONS
    const addr = v.startsWith(':') ? `127.0.0.1${v}` : v.startsWith('0.0.0.0:') ? `127.0.0.1${v.slice(7)}` : v;
    const path = !/:\d+$/.test(addr) && !addr.startsWith('@') && typeof cwd === 'string' ? under(cwd, addr) : addr;
    if (shown.some((s) => s === path || s === `${path}@` || s === `[${path.replace(/^\[|\]$/g, '')}]`)) return APP_OPTIONS[key];
  }
  return undefined;
}

const bareOf = (address: string) => address.replace(/^(unix|tcp|http|http\+unix):\/\//, '');
const names = (shown: string[], address: string) => shown.some((s) => s === bareOf(address) || s === `${bareOf(address)}@`);

/** What the processes holding the socket say it is. */
function byHolders(root: string, table: Table, held: Proc[], top: Proc, shown: string[]): Holder {
  if (isUwsgi(top)) {
    const found = uwsgiServers(root, table).find((f) => f.pid === top.pid);
    if (held.length === 1 && found?.address && names(shown, found.address)) {
      return { is: 'uwsgi-stats', pid: top.pid, address: found.address, http: /^http(\+unix)?:/.test(found.address) };
    }
    const proto = protoOf(root, top, shown);
    return { is: 'uwsgi-app', pid: top.pid, ...(proto ? { proto } : {}), ...(found?.address ? { stats: found.address } : {}) };
  }
  if (isGunicorn(top)) {
    const status = gunicornServers(root, table).find((f) => f.pid === top.pid && f.address)?.address ?? undefined;
    return { is: 'gunicorn-app', pid: top.pid, ...(status ? { status } : {}) };
  }
  return { is: 'other', pid: top.pid, comm: top.comm };
}

/** Another user's socket: /proc/PID/fd is closed to us, but command lines are not. A uWSGI master
 *  whose stats option, or application socket option, names this address is taken at its word. */
function byConfig(root: string, table: Table, shown: string[]): Holder {
  for (const f of uwsgiServers(root, table)) {
    const p = table.procs.get(f.pid)!;
    if (f.address && names(shown, f.address)) return { is: 'uwsgi-stats', pid: f.pid, address: f.address, http: /^http(\+unix)?:/.test(f.address), told: true };
    const proto = protoOf(root, p, shown);
    if (proto) return { is: 'uwsgi-app', pid: f.pid, proto, ...(f.address ? { stats: f.address } : {}), told: true };
  }
  return { is: 'hidden' };
}

/** What listens at a local endpoint; undefined when /proc cannot tell (a remote host, no /proc). */
export function identify(ep: Endpoint, root = '/proc'): Holder | undefined {
  if (ep.kind === 'file' || !isLocal(ep)) return undefined;
  const net = listeners(root);
  if (net.unix.size === 0 && net.tcp.size === 0) return undefined; // no usable /proc
  const inodes = inodesOf(ep, net);
  if (inodes.size === 0) return { is: 'nothing' };
  const table = readTable(root);
  const want = ep.kind === 'unix' ? ep.path : undefined;
  const held = holders(root, table, inodes, want);
  const pids = new Set(held.map((p) => p.pid));
  const top = held.find((p) => !pids.has(p.ppid));
  // Relative paths, once matched, are named by the absolute path asked for.
  const shown = [...new Set([...inodes.values()].map((v) => (!want || v.startsWith('/') || v.startsWith('@') ? v : want)))];
  return top ? byHolders(root, table, held, top, shown) : byConfig(root, table, shown);
}
