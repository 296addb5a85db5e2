#!/usr/bin/env node
// The command line: the only file that touches argv, exit codes and signals.
// cli → config → run (plan, one-shot or continuous) → pipeline tick → sources collect → records
// (rates) → sinks write.

import { readFileSync } from 'node:fs';
import { resolveConfig, parseArgv, type Config } from './config.js';
import { ConfigError } from './errors.js';
import { helpText } from './help.js';
import * as log from './log.js';
import type { Rates } from './pipeline.js';
import type { RateState } from './records/rates.js';
import { cronProblem } from './schedule.js';
import { FORMATS } from './sinks/formats.js';
import { continuous } from './run/continuous.js';
import { describe } from './run/describe.js';
import { oneShot } from './run/once.js';
import { openSinks, plan, type Plan } from './run/plan.js';
import { readState } from './run/state.js';
import type { Sink } from './sinks/types.js';

const EXIT_OK = 0;
const EXIT_SOURCE_FAILED = 1;
const EXIT_USAGE = 2;
const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;
type SignalName = keyof typeof SIGNALS;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Parses and checks everything, before any source is read. */
async function configure(argv: string[], reloading = false): Promise<Config | number> {
  try {
    const args = parseArgv(argv);
    if (!reloading && args.flags.get('--help')) {
      process.stdout.write(helpText());
      return EXIT_OK;
    }
    if (!reloading && args.flags.get('--version')) {
      process.stdout.write(`wsgistat ${version()}\n`);
      return EXIT_OK;
    }
    return await checked(resolveConfig(args));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    log.error('config', e.message);
    return EXIT_USAGE;
  }
}

async function checked(config: Config): Promise<Config> {
  if (config.sources.length === 0) {
    throw new ConfigError('no source given, e.g. wsgistat unix:///run/uwsgi/app.stats (see wsgistat --help)');
  }
  FORMATS.find((f) => f.name === config.format)!.check?.(config.sources);
  const cronError = config.cron ? await cronProblem(config.cron) : undefined;
  if (cronError) throw new ConfigError(`--cron: expected a cron expression such as "*/10 * * * * *", got ${JSON.stringify(config.cron)} (${cronError})`);
  return config;
}

/** Handlers for the signals, taken off by the returned function. */
function onSignals(handlers: Partial<Record<SignalName, (name: SignalName) => void>>): () => void {
  const on = (Object.entries(handlers) as [SignalName, (name: SignalName) => void][]).map(([name, h]) => {
    const f = () => h(name);
    process.on(name, f);
    return [name, f] as const;
  });
  return () => on.forEach(([name, f]) => process.off(name, f));
}

/** A reader of stdout that goes away early (`wsgistat | head -1`) is not an error: with stdout the
 *  only output, wsgistat stops quietly; otherwise the others go on. */
function stdoutClosed(config: Config): () => void {
  let gone = false;
  // A format with a stdout of its own writes nowhere else.
  const only = config.outputs.length === 1 || FORMATS.find((f) => f.name === config.format)?.stdout !== undefined;
  return () => {
    if (only) process.exit(EXIT_OK);
    if (!gone) log.warn('sink stdout', 'the reader of stdout went away; the other outputs go on');
    gone = true;
  };
}

async function sinksOf(p: Plan): Promise<Sink[] | number> {
  try {
    return await openSinks(p, stdoutClosed(p.config));
  } catch (e) {
    log.error('wsgistat', `cannot set up the outputs: ${(e as Error).message}`);
    return EXIT_USAGE;
  }
}

/** One sample. SIGTERM, SIGINT or SIGHUP: what is not delivered yet goes to the spool at once (not
 *  after --retry-for), stderr says so, and the exit status is 128 + the signal. */
async function once(p: Plan): Promise<number> {
  const sinks = await sinksOf(p);
  if (typeof sinks === 'number') return sinks;
  const run = oneShot(p, sinks);
  let got: SignalName | undefined;
  const stop = (name: SignalName) => {
    if (got) return;
    got = name;
    log.warn('wsgistat', `${name}: stopping now; records not yet delivered go to the spool`);
    run.abort();
  };
  const off = onSignals({ SIGHUP: stop, SIGINT: stop, SIGTERM: stop });
  try {
    const { failed, undelivered } = await run.done;
    return got ? 128 + SIGNALS[got] : failed > 0 || undelivered > 0 ? EXIT_SOURCE_FAILED : EXIT_OK;
  } finally {
    off();
  }
}

/** Stays up until SIGTERM or SIGINT. SIGHUP reloads, as Fluentd and Telegraf do: the configuration
 *  is read again and, if it is good, the run finishes its tick, closes its outputs and starts again
 *  with it (rates go on); if not, it says why and goes on. */
async function stayUp(argv: string[], p: Plan, states: Map<string, RateState>): Promise<number | { next: Config; states: Map<string, RateState> }> {
  const sinks = await sinksOf(p);
  if (typeof sinks === 'number') return sinks;
  const rates: Rates = { states, maxGapMs: p.config.maxGapMs };
  const run = continuous(p, sinks, rates);
  let reload: Config | undefined;
  const hup = () => {
    void configure(argv, true).then((c) => {
      if (typeof c === 'number') return log.error('wsgistat', 'SIGHUP: the configuration has errors (above); going on with the current one');
      if (c.check || c.format !== 'json' || (!c.intervalMs && !c.cron)) return log.error('wsgistat', 'SIGHUP: the new configuration is not a continuous run; going on with the current one');
      log.warn('wsgistat', 'SIGHUP: reloading the configuration');
      reload = c;
      run.stop();
    });
  };
  const off = onSignals({ SIGTERM: () => run.stop(), SIGINT: () => run.stop(), SIGHUP: hup });
  const { delivered } = await run.done;
  off();
  if (reload) return { next: reload, states: rates.states };
  return delivered ? EXIT_OK : EXIT_SOURCE_FAILED;
}

async function main(argv: string[]): Promise<number> {
  // A subcommand loads its own code only when named, so the sampling path starts as before.
  if (argv[0] === 'discover') return (await import('./discover/cli.js')).discoverMain(argv.slice(1));
  if (argv[0] === 'top') return (await import('./top/cli.js')).topMain(argv.slice(1));
  let config = await configure(argv);
  if (typeof config === 'number') return config;
  if (config.check) {
    process.stdout.write(JSON.stringify(describe(config), null, 2) + '\n');
    return EXIT_OK;
  }
  let states: Map<string, RateState> | undefined;
  for (;;) {
    const p = plan(config);
    if (p.once) return once(p);
    const r = await stayUp(argv, p, states ?? (config.stateFileGiven ? readState(config) : new Map()));
    if (typeof r === 'number') return r;
    ({ next: config, states } = r);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // A bug, not an expected failure: one line, and the stack only when asked for.
    log.error('wsgistat', `internal error: ${(err as Error)?.message ?? String(err)}`);
    if (process.env.WSGISTAT_DEBUG) process.stderr.write(`${(err as Error)?.stack}\n`);
    process.exitCode = 70;
  },
);
