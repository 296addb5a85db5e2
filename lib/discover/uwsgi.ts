// uWSGI masters and their stats servers, from /proc alone: no socket is connected to, since a
// connect to an app socket ties up a worker. The stats server is the listening socket that the
// master holds and none of its workers do (app sockets are inherited by every worker).

import type { Found } from './index.js';
import { asWho, hasPlaceholder, isUwsgi, parseIni, statsAddress, uwsgiFlags, type Proc, type StatsConfig } from './parse.js';
import { cwdOf, isUnread, listeners, readText, socketInodes, under, userOf, type Table } from './procfs.js';

type Ctx = { root: string; table: Table; net: ReturnType<typeof listeners> };

const kids = (t: Table, pid: number) => (t.children.get(pid) ?? []).map((c) => t.procs.get(c)!).filter(isUwsgi);

/** The command line, then every ini it names (relative to the process's cwd): what they say of
 *  --stats and --stats-http, and what could not be read. */
function config(ctx: Ctx, p: Proc): { cfg: StatsConfig; unread: string[] } {
  const cfg = uwsgiFlags(p.argv);
  const unread: string[] = [];
  for (const ini of cfg.inis) {
    let path = ini;
    if (!ini.startsWith('/')) {
      const cwd = cwdOf(ctx.root, p.pid);
      if (isUnread(cwd)) {
        unread.push(`${ini} (cwd: ${cwd.why})`);
        continue;
      }
      path = under(cwd, ini);
    }
    const text = readText(path, 1024 * 1024);
    if (isUnread(text)) unread.push(`${path} (${text.why})`);
    else parseIni(text, cfg);
  }
  return { cfg, unread };
}

/** An Emperor: --emperor on its command line or in its ini, or every uWSGI child of it is itself
 *  a master with uWSGI children (vassals). */
function isEmperor(ctx: Ctx, p: Proc, cfg: StatsConfig): boolean {
  if (cfg.emperor) return true;
  const ks = kids(ctx.table, p.pid);
  return ks.length > 0 && ks.every((k) => kids(ctx.table, k.pid).length > 0);
}

/** Listening sockets held by the master and by no process under it. */
function masterOnly(ctx: Ctx, p: Proc): string[] | { why: string } {
  const mine = socketInodes(ctx.root, p.pid);
  if (isUnread(mine)) return { why: mine.why };
  const stack = kids(ctx.table, p.pid).map((k) => k.pid);
  for (let n = 0; stack.length && n < 10_000; n++) {
    const pid = stack.pop()!;
    const theirs = socketInodes(ctx.root, pid);
    if (!isUnread(theirs)) for (const i of theirs) mine.delete(i);
    stack.push(...(ctx.table.children.get(pid) ?? []));
  }
  const out: string[] = [];
  for (const inode of mine) {
    const unix = ctx.net.unix.get(inode);
    if (unix !== undefined) {
      const cwd = unix.startsWith('/') || unix.startsWith('@') ? '' : cwdOf(ctx.root, p.pid);
      out.push(typeof cwd === 'string' && cwd ? under(cwd, unix) : unix);
      continue;
    }
    const tcp = ctx.net.tcp.get(inode);
    if (tcp !== undefined) out.push(tcp);
  }
  return out.sort();
}

/** The raw address a stats option value binds, as /proc/net shows it, to match a socket. */
function bound(ctx: Ctx, p: Proc, value: string): string {
  const a = statsAddress(value, false).replace(/^(unix|tcp):\/\//, '');
  if (a.startsWith('/') || a.startsWith('@') || /:\d+$/.test(a)) return a;
  const cwd = cwdOf(ctx.root, p.pid);
  return typeof cwd === 'string' ? under(cwd, a) : a;
}

function oneMaster(ctx: Ctx, p: Proc, vassalOf: number | undefined): Found {
  const { cfg, unread } = config(ctx, p);
  const f: Found = { kind: 'uwsgi', pid: p.pid, user: userOf(ctx.root, p.pid), address: null, found_by: '', ...(vassalOf ? { vassal_of: vassalOf } : {}) };
  const held = masterOnly(ctx, p);
  const httpNote = unread.length ? `; --stats-http assumed off (cannot read ${unread.join(', ')})` : cfg.http ? '; --stats-http from the config' : '';
  if (!Array.isArray(held)) {
    if (cfg.stats && !hasPlaceholder(cfg.stats)) {
      f.address = statsAddress(cfg.stats, cfg.http);
      f.found_by = `the --stats option (not checked against the sockets)${httpNote}`;
    }
    f.problem = `cannot read /proc/${p.pid}/fd (${held.why}; the process is ${f.user}'s): run discover as ${asWho(f.user)} to confirm its stats server`;
    return f;
  }
  const want = cfg.stats && !hasPlaceholder(cfg.stats) ? bound(ctx, p, cfg.stats) : undefined;
  const pick = want && held.includes(want) ? want : held.length === 1 ? held[0] : undefined;
  if (pick === undefined) {
    f.found_by = held.length ? `sockets held by the master alone: ${held.join(', ')}` : 'no listening socket held by the master alone';
    f.problem = held.length ? 'several sockets held by the master alone and no readable --stats option to choose one' : 'no stats server: start uWSGI with --stats';
    return f;
  }
  f.address = statsAddress(pick, cfg.http);
  f.found_by = `the listening socket held by the master alone (${/:\d+$/.test(pick) && !pick.startsWith('/') ? '/proc/net/tcp' : '/proc/net/unix'})${want === pick ? ', as --stats says' : ''}${httpNote}`;
  if (unread.length && !cfg.http) f.problem = `cannot read ${unread.join(', ')}: if it sets stats-http, read ${statsAddress(pick, true)} instead`;
  return f;
}

/** Every uWSGI master under the table: top-level uWSGI processes and the vassals of an Emperor. */
export function uwsgiServers(root: string, table: Table): Found[] {
  const ctx: Ctx = { root, table, net: listeners(root) };
  const out: Found[] = [];
  for (const p of table.procs.values()) {
    if (!isUwsgi(p)) continue;
    const parent = table.procs.get(p.ppid);
    if (parent && isUwsgi(parent)) continue; // a worker, mule or vassal: reached from its parent
    const { cfg } = config(ctx, p);
    if (!isEmperor(ctx, p, cfg)) {
      out.push(oneMaster(ctx, p, undefined));
      continue;
    }
    for (const v of kids(table, p.pid)) out.push(oneMaster(ctx, v, p.pid));
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/** The vassals of the Emperor `emperorPid` (its uWSGI children), each with its stats address;
 *  the uWSGI source reads an Emperor's vassals with it (sources/uwsgi/index.ts). */
export function vassalsOf(root: string, table: Table, emperorPid: number): Found[] {
  const ctx: Ctx = { root, table, net: listeners(root) };
  return kids(table, emperorPid).map((v) => oneMaster(ctx, v, emperorPid));
}
