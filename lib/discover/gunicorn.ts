// gunicorn masters and what wsgistat can read of each: the directory conf/gunicorn_wsgistat.py
// keeps (WSGISTAT_GUNICORN_DIR, default /dev/shm/wsgistat-gunicorn, confirmed by the pid in its
// master.json) and a prometheus_client multiprocess directory (PROMETHEUS_MULTIPROC_DIR).

import type { Found } from './index.js';
import { asWho, isGunicorn, parseEnviron, type Proc } from './parse.js';
import { isUnread, readText, userOf, type Table } from './procfs.js';

/** conf/gunicorn_wsgistat.py's STATUS_DIR when the variable is unset. */
export const DEFAULT_HOOKS_DIR = '/dev/shm/wsgistat-gunicorn';

/** The pid master.json names, or why it could not be read. */
function masterPid(dir: string): number | string {
  const text = readText(`${dir}/master.json`, 1024 * 1024);
  if (isUnread(text)) return text.why;
  try {
    const pid = (JSON.parse(text) as { pid?: unknown }).pid;
    return typeof pid === 'number' ? pid : 'no pid in it';
  } catch {
    return 'not JSON';
  }
}

function hooks(p: Proc, env: Map<string, string> | undefined, base: Found): Found | undefined {
  const set = env?.get('WSGISTAT_GUNICORN_DIR');
  const dir = set ?? DEFAULT_HOOKS_DIR;
  const pid = masterPid(dir);
  const how = set ? 'WSGISTAT_GUNICORN_DIR in its environment' : env ? 'the hooks default directory' : 'the hooks default directory (environment unreadable)';
  if (pid === p.pid) return { ...base, address: `gunicorn://${dir}`, found_by: `${how}; ${dir}/master.json names this master` };
  if (!set) return undefined; // the default directory is some other master's, or none
  const why = typeof pid === 'number' ? `names pid ${pid}, not this master` : `cannot be read (${pid})`;
  return { ...base, address: null, found_by: how, problem: `${dir}/master.json ${why}: is gunicorn running with conf/gunicorn_wsgistat.py?` };
}

function oneMaster(root: string, p: Proc): Found[] {
  const base: Found = { kind: 'gunicorn', pid: p.pid, user: userOf(root, p.pid), address: null, found_by: '' };
  const text = readText(`${root}/${p.pid}/environ`, 1024 * 1024);
  const env = isUnread(text) ? undefined : parseEnviron(text);
  const out: Found[] = [];
  const h = hooks(p, env, base);
  if (h) out.push(h);
  const prom = env?.get('PROMETHEUS_MULTIPROC_DIR') ?? env?.get('prometheus_multiproc_dir');
  if (prom) out.push({ ...base, address: `prometheus-multiproc://${prom}`, found_by: 'PROMETHEUS_MULTIPROC_DIR in its environment' });
  if (!env) {
    const denied = `cannot read /proc/${p.pid}/environ (${(text as { why: string }).why}; the process is ${base.user}'s): run discover as ${asWho(base.user)} to find its hooks or multiprocess directory`;
    if (out.length) out.forEach((f) => (f.problem = denied));
    else out.push({ ...base, found_by: 'the process tree', problem: denied });
  } else if (out.length === 0) {
    out.push({ ...base, found_by: 'the process tree', problem: 'nothing wsgistat can read: run gunicorn with conf/gunicorn_wsgistat.py (or set PROMETHEUS_MULTIPROC_DIR)' });
  }
  return out;
}

/** Every gunicorn master: a gunicorn process with gunicorn children and no gunicorn parent. */
export function gunicornServers(root: string, table: Table): Found[] {
  const out: Found[] = [];
  for (const p of table.procs.values()) {
    if (!isGunicorn(p)) continue;
    const parent = table.procs.get(p.ppid);
    if (parent && isGunicorn(parent)) continue;
    const workers = (table.children.get(p.pid) ?? []).filter((c) => isGunicorn(table.procs.get(c)!));
    if (workers.length === 0) continue;
    out.push(...oneMaster(root, p));
  }
  return out.sort((a, b) => a.pid - b.pid);
}
