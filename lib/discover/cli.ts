// `wsgistat discover`: prints the servers discovery finds, one address per line (so that
// `wsgistat $(wsgistat discover)` reads them all) or one JSON record per server. Loaded by
// lib/cli.ts only for this command.

import * as log from '../log.js';
import { discover, type Found } from './index.js';

export const EXIT_FOUND = 0;
export const EXIT_NONE = 1;
export const EXIT_PARTIAL = 2;

export const DISCOVER_HELP = `Usage: wsgistat discover [--format text|json] [--proc DIR]

Lists the uWSGI and gunicorn servers running on this host, from /proc alone (no socket is
connected to): one wsgistat source address per line, so that \`wsgistat $(wsgistat discover)\`
reads them all; with --format json, one record per server:
  {"kind":"uwsgi","pid":1234,"user":"www-data","address":"unix:///run/app.stats","found_by":"..."}
with "vassal_of" (the Emperor's pid) for a vassal and "problem" for what could not be read.

uWSGI: the stats server is the listening socket its master holds and no worker does
(/proc/PID/fd, /proc/net/unix, /proc/net/tcp); --stats-http is read from the command line or ini.
gunicorn: the directory of conf/gunicorn_wsgistat.py (WSGISTAT_GUNICORN_DIR, or its default, when
its master.json names the master) and PROMETHEUS_MULTIPROC_DIR, from /proc/PID/environ.
Another user's descriptors and environment need that user or root: such a server is listed with
its problem, and stderr says so.

Options:
  --format text|json  one address per line (default), or one JSON record per server
  --proc DIR          the proc filesystem to read (default: /proc)
  -h, --help          this text

Exit status: 0 servers found, each with an address; 1 none found; 2 some found without an address
(another user's, or no stats server configured): the others are still printed.
`;

function usage(message: string): number {
  log.error('config', `discover: ${message} (see wsgistat discover --help)`);
  return EXIT_PARTIAL;
}

function report(found: Found[], format: string): number {
  if (format === 'json') process.stdout.write(found.map((f) => JSON.stringify(f) + '\n').join(''));
  else process.stdout.write(found.flatMap((f) => (f.address ? [f.address + '\n'] : [])).join(''));
  for (const f of found) if (f.problem) log.warn('wsgistat', `discover: ${f.kind} pid ${f.pid} (${f.user}): ${f.problem}`);
  if (found.length === 0) {
    log.warn('wsgistat', 'discover: no uWSGI or gunicorn server found on this host');
    return EXIT_NONE;
  }
  return found.some((f) => f.problem) ? EXIT_PARTIAL : EXIT_FOUND;
}

export async function discoverMain(argv: string[]): Promise<number> {
  let format = 'text';
  let proc: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    if (flag === '-h' || flag === '--help') {
      process.stdout.write(DISCOVER_HELP);
      return EXIT_FOUND;
    }
    if (flag !== '--format' && flag !== '--proc') return usage(`unknown argument ${JSON.stringify(a)}`);
    const value = inline ?? argv[++i];
    if (value === undefined) return usage(`${flag} needs a value`);
    if (flag === '--proc') proc = value;
    else if (value === 'text' || value === 'json') format = value;
    else return usage(`--format: expected text or json, got ${JSON.stringify(value)}`);
  }
  return report(await discover({ proc }), format);
}
