// Adds the kernel's accept backlog of a TCP listener to a source's summary: the listener named by
// --listen, or, for gunicorn with the wsgistat hooks, the one its master holds open.

import type { Body } from '../records/types.js';
import { listeners, lookupListener, parseListen, socketInodes, somaxconn, type Listener } from './backlog.js';
import type { Sample, Source } from './types.js';

const show = (l: Listener) => (l.address.includes(':') ? `[${l.address}]:${l.port}` : `${l.address}:${l.port}`);

/** The master's TCP listener: from the bind addresses it recorded, else from the sockets it holds
 *  open (/proc/<pid>/fd, which needs gunicorn's user or root); or why it could not be found. */
function masterListener(pid: number, bind: string[]): Listener | string | undefined {
  for (const b of bind) {
    const hp = parseListen(b);
    const l = hp && lookupListener(hp.host, hp.port);
    if (l) return l;
  }
  let inodes: Set<number>;
  try {
    inodes = socketInodes(pid);
  } catch (e) {
    return `cannot read /proc/${pid}/fd (${(e as NodeJS.ErrnoException).code}): run wsgistat as gunicorn's user or give --listen HOST:PORT`;
  }
  return [...listeners(4), ...listeners(6)].find((l) => inodes.has(l.inode));
}

function addBacklog(summary: Body, l: Listener, setting: number | undefined): void {
  summary.backlog = l.queue;
  summary.backlog_address = show(l);
  const cap = somaxconn();
  const max = setting !== undefined && cap !== undefined ? Math.min(setting, cap) : setting;
  if (max !== undefined) summary.backlog_max = max;
  // gunicorn has no accept-queue figure of its own: this is it (and the stall check reads it).
  if (summary.listen_queue === undefined) summary.listen_queue = l.queue;
}

export function withBacklog(source: Source): Source {
  const listen = source.spec.listen;
  return {
    spec: source.spec,
    server: source.server,
    close: () => source.close?.(),
    async collect(): Promise<Sample> {
      const sample = await source.collect();
      const summary = sample.bodies.find((b) => b.type === 'summary');
      if (!summary) return sample;
      const hint = sample.listener;
      const setting = hint?.backlog;
      if (listen === 'none') return sample;
      if (listen) {
        const l = lookupListener(listen.host, listen.port);
        if (l) addBacklog(summary, l, setting);
        else sample.notices.push(`no TCP listener on ${listen.host}:${listen.port} in /proc/net/tcp or tcp6 (is the server running, on this host and in this network namespace?)`);
        return sample;
      }
      if (!hint?.pid) return sample;
      const found = masterListener(hint.pid, hint.tcp);
      if (typeof found === 'string') sample.notices.push(found);
      else if (found) addBacklog(summary, found, setting);
      else if (hint.unix.length) sample.notices.push(`gunicorn listens on ${hint.unix.join(', ')}: the accept backlog of a unix socket is not in /proc/net; not reported`);
      return sample;
    },
  };
}
