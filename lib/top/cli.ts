// `wsgistat top [SOURCE...]`: a live view of the servers in the terminal, refreshed on the wall
// clock; with no source, of what discovery finds. Loaded by lib/cli.ts only for this command, so
// the one-shot start-up does not carry it.

import { parseArgv, resolveConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import * as log from '../log.js';
import { TIMEOUT, MAX_BYTES } from '../sources/index.js';
import { duration } from './render.js';
import { MIN_MS, STEPS } from './keys.js';
import { startTop, type TopOptions } from './run.js';
import { given } from './sample.js';
import { openTerminal } from './terminal.js';
import { discovered, REDISCOVER_TICKS } from './watch.js';

const EXIT_OK = 0;
const EXIT_USAGE = 2;
const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;

export const TOP_HELP = `Usage: wsgistat top [-i DURATION] [-t DURATION] [-c FILE] [SOURCE...]

A live view of uWSGI and gunicorn servers in the terminal, sampled on the wall clock: per server
a header (version, workers busy and idle, listen queue and kernel backlog, requests/s, mean
latency and rt_p50/p90/p99 where known, exceptions/s, STALLED shown loudly) and a row per worker
(status, busy for, requests/s, mean latency, requests, exceptions, respawns, rss). A source that
fails shows its error in its place; the others go on. With no SOURCE (and no "sources" in the
config file): the servers wsgistat discover finds, looked for again every ${REDISCOVER_TICKS} samples.

Keys:
  q, Ctrl-C   quit (the terminal is put back as it was)
  + -         sample less or more often (${STEPS.map(duration).join(' ')})
  d           type the interval in seconds, then Enter
  r b m i     sort workers by requests/s, busy time, rss (memory), id
  c           show each worker's cores (uWSGI) or threads (gunicorn gthread)

Options:
  -i, --interval DURATION  how often to sample (default: 1s)
  -t, --timeout DURATION   time allowed for each source to answer (default: 3s)
  --max-bytes SIZE         size cap for one stats document (default: 16MiB)
  --listen HOST:PORT       the one source's TCP listener, for its kernel backlog
  -c, --config FILE        read the sources (and the options above) from a JSON config file
  -h, --help               this text

Needs a terminal: for records, run wsgistat --interval 1s SOURCE... instead.
Colour is off under NO_COLOR or where the terminal has none.
Exit status: 0 quit; 2 a usage error or no terminal; 128+N on signal N.
`;

/** What top reads of the common options; the others are for the record-writing runs. */
const TOP_FLAGS = new Set(['--config', TIMEOUT.key, MAX_BYTES.key, 'listen', 'interval', '--help']);

function options(argv: string[]): TopOptions | number {
  try {
    const args = parseArgv(argv);
    if (args.flags.get('--help')) {
      process.stdout.write(TOP_HELP);
      return EXIT_OK;
    }
    const other = [...args.flags.keys()].find((k) => !TOP_FLAGS.has(k));
    if (other) throw new ConfigError(`top: ${other.startsWith('--') ? other : `--${other.replaceAll('_', '-')}`} does not apply to top (see wsgistat top --help)`);
    const config = resolveConfig(args);
    const intervalMs = config.intervalMs ?? 1000;
    if (intervalMs < MIN_MS) throw new ConfigError(`top: --interval: at least ${duration(MIN_MS)}, got ${duration(intervalMs)}`);
    // For discovered sources: what the flags say, else the defaults (given sources have theirs).
    const flag = (o: typeof TIMEOUT) => (args.flags.has(o.key) ? o.type.parse(args.flags.get(o.key), o.flag) : o.default!);
    const defaults = { timeoutMs: flag(TIMEOUT), maxBytes: flag(MAX_BYTES) };
    if (config.sources.length) return { intervalMs, sources: { fixed: config.sources.map(given) } };
    return { intervalMs, sources: { find: () => discovered(defaults), every: REDISCOVER_TICKS, none: `no uWSGI or gunicorn server found on this host (wsgistat discover); looking again every ${REDISCOVER_TICKS} samples` } };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    log.error('config', e.message);
    return EXIT_USAGE;
  }
}

export async function topMain(argv: string[]): Promise<number> {
  const opts = options(argv);
  if (typeof opts === 'number') return opts;
  if (!process.stdout.isTTY || !process.stdin.isTTY) {
    log.error('config', `top: needs a terminal on stdin and stdout (${process.stdout.isTTY ? 'stdin' : 'stdout'} is not one); for records, run wsgistat --interval 1s SOURCE... instead`);
    return EXIT_USAGE;
  }
  let top: ReturnType<typeof startTop> | undefined;
  // A source's error is shown in its place; other diagnostics go to the key line for a while.
  const term = openTerminal((line) => {
    if (!/^wsgistat: error \[source /.test(line)) top?.say(line);
  });
  let signal: keyof typeof SIGNALS | undefined;
  const handlers = (Object.keys(SIGNALS) as (keyof typeof SIGNALS)[]).map((name) => {
    const f = () => {
      signal ??= name;
      top?.stop();
    };
    process.on(name, f);
    return () => process.off(name, f);
  });
  try {
    top = startTop(term, opts);
    await top.done;
    return signal ? 128 + SIGNALS[signal] : EXIT_OK;
  } finally {
    term.close();
    handlers.forEach((off) => off());
    // A read still in flight (a source that does not answer) would hold the exit for up to
    // --timeout: quit means now. lib/cli.ts sets the exit status before this fires.
    setTimeout(() => process.exit(), 50).unref();
  }
}
