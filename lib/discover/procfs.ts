// The reads discovery makes under a /proc root (the real one, or a fixture tree in the specs):
// every read bounded, every failure a value ("denied", "gone") instead of an exception.

import { readdirSync, readlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { readFileBoundedSync } from '../read.js';
import { parseNetTcp, parseNetUnix, parsePasswd, parseProc, statusUid, type Listeners, type Proc } from './parse.js';

const MAX = 256 * 1024;

/** What a read could not do: EACCES/EPERM ("denied") or anything else (the process ended). */
export type Unread = { denied: boolean; why: string };

function unread(e: unknown): Unread {
  const err = (e as { cause?: NodeJS.ErrnoException }).cause ?? (e as NodeJS.ErrnoException);
  const denied = err.code === 'EACCES' || err.code === 'EPERM';
  return { denied, why: denied ? 'permission denied' : (err.message ?? String(err)) };
}

export function readText(path: string, max = MAX): string | Unread {
  try {
    return readFileBoundedSync(path, path, { maxBytes: max }).toString('utf8');
  } catch (e) {
    return unread(e);
  }
}

export const isUnread = (v: unknown): v is Unread => typeof v === 'object' && v !== null && 'denied' in v;

export interface Table {
  procs: Map<number, Proc>;
  children: Map<number, number[]>;
}

/** Every process under root: stat and cmdline (both readable for any user). */
export function readTable(root: string): Table {
  const procs = new Map<number, Proc>();
  const children = new Map<number, number[]>();
  let names: string[] = [];
  try {
    names = readdirSync(root);
  } catch {
    return { procs, children };
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readText(`${root}/${name}/stat`, 4096);
    const cmdline = readText(`${root}/${name}/cmdline`, 64 * 1024);
    if (typeof stat !== 'string') continue; // ended since the listing
    const p = parseProc(Number(name), stat, typeof cmdline === 'string' ? cmdline : '');
    if (!p) continue;
    procs.set(p.pid, p);
    children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  }
  return { procs, children };
}

/** The socket inodes a process holds open: /proc/PID/fd/N → "socket:[inode]". */
export function socketInodes(root: string, pid: number): Set<string> | Unread {
  let fds: string[];
  try {
    fds = readdirSync(`${root}/${pid}/fd`);
  } catch (e) {
    return unread(e);
  }
  const out = new Set<string>();
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`${root}/${pid}/fd/${fd}`));
      if (m) out.add(m[1]!);
    } catch {
      // closed since the listing
    }
  }
  return out;
}

/** Listening sockets of this network namespace, unix and TCP, by inode. Each table is read when
 *  first asked for: a read of /proc/net/tcp costs milliseconds however few sockets there are (the
 *  kernel walks its whole hash table), and a host with no uWSGI, or one on unix sockets only,
 *  needs none or one of them. */
export function listeners(root: string): { readonly unix: Listeners; readonly tcp: Listeners } {
  const text = (f: string) => {
    const t = readText(`${root}/net/${f}`, 16 * 1024 * 1024);
    return typeof t === 'string' ? t : '';
  };
  let unix: Listeners | undefined;
  let tcp: Listeners | undefined;
  return {
    get unix() {
      return (unix ??= parseNetUnix(text('unix')));
    },
    get tcp() {
      if (!tcp) {
        tcp = parseNetTcp(text('tcp'));
        for (const [k, v] of parseNetTcp(text('tcp6'))) tcp.set(k, v);
      }
      return tcp;
    },
  };
}

/** The process's working directory, to resolve relative paths it was given. */
export function cwdOf(root: string, pid: number): string | Unread {
  try {
    return readlinkSync(`${root}/${pid}/cwd`);
  } catch (e) {
    return unread(e);
  }
}

export const under = (cwd: string, p: string): string => resolve(cwd, p);

let users: Map<number, string> | undefined;

/** The name of the process's real user ("uid 1234" when /etc/passwd does not know it). */
export function userOf(root: string, pid: number): string {
  const status = readText(`${root}/${pid}/status`, 16 * 1024);
  const uid = typeof status === 'string' ? statusUid(status) : undefined;
  if (uid === undefined) return '?';
  if (!users) {
    const pw = readText('/etc/passwd', 4 * 1024 * 1024);
    users = typeof pw === 'string' ? parsePasswd(pw) : new Map();
  }
  return users.get(uid) ?? `uid ${uid}`;
}
