// Discovery: the uWSGI and gunicorn servers running on this host, each with an address wsgistat
// can read, found from /proc alone (see uwsgi.ts and gunicorn.ts for how each is decided).

import { gunicornServers } from './gunicorn.js';
import { readTable } from './procfs.js';
import { uwsgiServers } from './uwsgi.js';

export interface Found {
  kind: 'uwsgi' | 'gunicorn';
  /** The master's pid. */
  pid: number;
  user: string;
  /** A wsgistat source address, or null when none could be found or read. */
  address: string | null;
  /** How the address was decided, and any assumption made. */
  found_by: string;
  /** The Emperor's pid, for a vassal. */
  vassal_of?: number;
  /** What could not be read, and what to do. */
  problem?: string;
}

export async function discover(opts: { proc?: string } = {}): Promise<Found[]> {
  const root = opts.proc ?? '/proc';
  const table = readTable(root);
  return [...uwsgiServers(root, table), ...gunicornServers(root, table)];
}
