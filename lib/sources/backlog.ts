// The accept backlog of a listening TCP socket, read from the kernel: in /proc/net/tcp and tcp6 a
// listening socket (state 0A) has, as rx_queue, the connections the kernel has completed that no
// worker has accepted yet (the kernel's sk_ack_backlog). Works for any server, from outside it. Its limit is
// not in that file: it is the server's listen backlog, capped by net.core.somaxconn.
// Unix-socket listeners have no such figure there, and are reported as not supported.

import { readdirSync, readlinkSync } from 'node:fs';
import { readFileBoundedSync } from '../read.js';
import { splitHostPort } from '../hostport.js';

/** /proc/net/tcp has ~150 bytes a socket: this is room for ~400,000 sockets, and a bound. */
const PROC_NET_MAX = 64 * 1024 * 1024;

export interface Listener {
  address: string;
  port: number;
  /** Connections waiting to be accepted. */
  queue: number;
  inode: number;
}

/** "0100007F" → "127.0.0.1"; 32 hex digits → an IPv6 address (each 32-bit word in host order). */
function hexAddress(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => (w.match(/../g) ?? []).reverse().map((b) => parseInt(b, 16)));
  if (bytes.length === 4) return bytes.join('.');
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  const v6 = groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::').replace(/:{3,}/, '::');
  const mapped = /^::ffff:([0-9a-f]+):([0-9a-f]+)$/.exec(v6);
  if (mapped) {
    const n = (parseInt(mapped[1]!, 16) << 16) | parseInt(mapped[2]!, 16);
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  }
  return v6;
}

/** The listening sockets in the text of /proc/net/tcp or /proc/net/tcp6. */
export function parseProcNetTcp(text: string): Listener[] {
  const out: Listener[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== '0A') continue;
    const [addr, port] = f[1]!.split(':');
    const rx = f[4]!.split(':')[1];
    out.push({ address: hexAddress(addr!), port: parseInt(port!, 16), queue: parseInt(rx!, 16), inode: Number(f[9]) });
  }
  return out;
}

/** The listeners of one family. Each read walks the kernel's whole TCP hash table, which is sized
 *  by memory (3.5 ms on a 24 GiB machine, however few sockets there are): read only what is needed. */
export function listeners(family: 4 | 6): Listener[] {
  try {
    const path = family === 4 ? '/proc/net/tcp' : '/proc/net/tcp6';
    return parseProcNetTcp(readFileBoundedSync(path, path, { maxBytes: PROC_NET_MAX }).toString('latin1'));
  } catch {
    return [];
  }
}

const WILDCARD = new Set(['0.0.0.0', '::']);

/** The listener for host:port: the exact address, or a wildcard one on that port. */
export function findListener(all: Listener[], host: string, port: number): Listener | undefined {
  const want = host === 'localhost' ? '127.0.0.1' : host;
  return all.find((l) => l.port === port && l.address === want) ?? all.find((l) => l.port === port && WILDCARD.has(l.address));
}

/** Finds host:port reading /proc/net/tcp for an IPv4 address, and tcp6 only when needed (an IPv6
 *  address, or a dual-stack listener on :: that serves IPv4 too). */
export function lookupListener(host: string, port: number): Listener | undefined {
  if (!host.includes(':')) {
    const v4 = findListener(listeners(4), host, port);
    if (v4) return v4;
  }
  return findListener(listeners(6), host, port);
}

/** The socket inodes a process holds open (needs permission to read /proc/<pid>/fd). */
export function socketInodes(pid: number): Set<number> {
  const inodes = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

export function somaxconn(): number | undefined {
  try {
    return Number(readFileBoundedSync('/proc/sys/net/core/somaxconn', 'somaxconn', { maxBytes: 64 }).toString('latin1').trim()) || undefined;
  } catch {
    return undefined;
  }
}

/** "host:port", "[v6]:port" or ":port" → parts, or undefined. */
export function parseListen(text: string): { host: string; port: number } | undefined {
  const hp = splitHostPort(text.trim());
  return 'problem' in hp ? undefined : { host: hp.host || '0.0.0.0', port: hp.port };
}
