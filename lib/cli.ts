#!/usr/bin/env node
// The command line: the only file that touches argv, exit codes and signals.
// cli → config → schedule → pipeline tick → sources collect → records (rates) → sinks write.

import { readFileSync } from 'node:fs';
import { resolveConfig, parseArgv, type Config } from './config.js';
import { describeOutput } from './sinks/outputs.js';
import { ConfigError } from './errors.js';
import { helpText } from './help.js';
import * as log from './log.js';
import { tick, type Rates, type TickOptions } from './pipeline.js';
import type { RateState } from './records/rates.js';
import type { RecordType } from './records/types.js';
import { alignedEvery, cronNext, cronProblem, scheduler } from './schedule.js';
import { metaOutput, metricLines, segmentsFor } from './sinks/mackerel.js';
import { createSinks } from './sinks/index.js';
import type { Sink } from './sinks/types.js';
import { stdoutSink } from './sinks/stdout.js';
import { createSource, type Source } from './sources/index.js';
import { keepNewer, loadStates, lockStates, saveStates, unlockStates } from './state.js';

const EXIT_OK = 0;
const EXIT_SOURCE_FAILED = 1;
const EXIT_USAGE = 2;
const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** The resolved configuration as --check prints it. */
function describe(config: Config): object {
  return {
    sources: config.sources.map((s) => ({
      address: s.address.text,
      ...(s.label ? { label: s.label } : {}),
      endpoint: s.address.endpoint.kind === 'unix' && s.address.endpoint.path.startsWith('\0')
        ? { kind: 'unix', abstract: s.address.endpoint.path.slice(1) }
        : s.address.endpoint,
      mode: s.address.mode,
      timeout_ms: s.timeoutMs,
      max_bytes: s.maxBytes,
      ...(s.listen ? { listen: s.listen === 'none' ? 'none' : `${s.listen.host}:${s.listen.port}` } : {}),
    })),
    records: [...config.records],
    vars: config.vars.kind === 'some' ? [...config.vars.names] : config.vars.kind,
    error_records: config.errorRecords,
    hostname: config.hostname,
    schedule: config.intervalMs ? { interval_ms: config.intervalMs } : config.cron ? { cron: config.cron } : 'once',
    state_file: config.stateFile ?? null,
    max_gap_ms: config.maxGapMs,
    format: config.format,
    outputs: config.outputs.map((o) => describeOutput(o, config.spoolDir)),
    ...(config.outputs.some((o) => o.kind !== 'stdout') ? {
      send_timeout_ms: config.sendTimeoutMs, retry_for_ms: config.retryForMs, spool_max: config.spoolMaxBytes,
    } : {}),
    ...(config.format === 'mackerel' ? { metric_prefix: config.metricPrefix ?? 'by server' } : {}),
  };
}

/** Parses and checks everything, before any source is read. */
async function configure(argv: string[], reloading = false): Promise<Config | number> {
  try {
    const args = parseArgv(argv);
    if (reloading) return await checked(resolveConfig(args));
    if (args.flags.get('--help')) {
      process.stdout.write(helpText());
      return EXIT_OK;
    }
    if (args.flags.get('--version')) {
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
  {
    if (config.sources.length === 0) {
      throw new ConfigError('no source given, e.g. wsgistat unix:///run/uwsgi/app.stats (see wsgistat --help)');
    }
    if (config.format === 'mackerel') segmentsFor(config.sources); // names that collide are a config error
    const cronError = config.cron ? await cronProblem(config.cron) : undefined;
    if (cronError) throw new ConfigError(`--cron: expected a cron expression such as "*/10 * * * * *", got ${JSON.stringify(config.cron)} (${cronError})`);
    return config;
  }
}

function readState(config: Config): Map<string, RateState> {
  if (!config.stateFile) return new Map();
  const { states, notice } = loadStates(config.stateFile, config.hostname);
  if (notice) log.warn('wsgistat', notice);
  return states;
}

function writeState(config: Config, states: Map<string, RateState>): void {
  if (!config.stateFile) return;
  try {
    saveStates(config.stateFile, config.hostname, states);
  } catch (e) {
    log.warn('wsgistat', `cannot write state file ${config.stateFile} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); the next run gets no rates`);
  }
}

/** The state file of a one-shot run: read once the sources are read, under its lock, and written
 *  back (`done`) before the lock goes, so that runs at once take turns and never count the same
 *  interval twice. A state file that cannot be used costs the rates only. */
function sharedState(config: Config): { rates: () => Promise<Rates>; done: () => void } {
  let locked = false;
  let loaded = new Map<string, RateState>();
  let states: Map<string, RateState> | undefined;
  return {
    async rates() {
      try {
        locked = await lockStates(config.stateFile!);
        if (!locked) log.warn('wsgistat', `another wsgistat holds the lock of ${config.stateFile} for more than 3 s; going on without it`);
      } catch (e) {
        log.warn('wsgistat', `cannot lock state file ${config.stateFile}: ${(e as Error).message}; no rates this time`);
        states = undefined;
        return { states: new Map(), maxGapMs: config.maxGapMs };
      }
      states = readState(config);
      loaded = new Map(states);
      return { states, maxGapMs: config.maxGapMs };
    },
    done() {
      if (states) {
        keepNewer(loaded, states);
        writeState(config, states);
      }
      if (locked) unlockStates(config.stateFile!);
      locked = false;
      states = undefined;
    },
  };
}

/** A one-shot run stopped by SIGTERM, SIGINT or SIGHUP: what is not delivered yet goes to the spool
 *  at once (not after --retry-for), stderr says so, and the exit status is 128 + the signal. */
function onStopSignals(sinks: Sink[]): { signal: () => number | undefined; off: () => void } {
  let got: keyof typeof SIGNALS | undefined;
  const handlers = (Object.keys(SIGNALS) as (keyof typeof SIGNALS)[]).map((name) => {
    const h = () => {
      if (got) return;
      got = name;
      log.warn('wsgistat', `${name}: stopping now; records not yet delivered go to the spool`);
      for (const s of sinks) s.abort?.();
    };
    process.on(name, h);
    return [name, h] as const;
  });
  return {
    signal: () => (got ? 128 + SIGNALS[got] : undefined),
    off: () => handlers.forEach(([name, h]) => process.off(name, h)),
  };
}

/** How long a SIGTERM leaves a receiver to take the batch in flight before it goes to the spool. */
const STOP_GRACE_MS = 2000;

/** Stays up and samples on the schedule until SIGTERM or SIGINT, then finishes the tick in flight,
 *  and leaves what receivers have not taken in their spools. SIGHUP reloads, as Fluentd and
 *  Telegraf do: the configuration is read again and, if it is good, the run finishes its tick,
 *  closes its outputs and starts again with it (rates go on); if not, it says why and goes on. */
async function continuous(argv: string[], config: Config, sources: Source[], opts: TickOptions, rates: Rates | undefined, sinks: Sink[]): Promise<number | Config> {
  const next = config.cron ? await cronNext(config.cron) : alignedEvery(config.intervalMs!);
  const s = scheduler(next);
  let reload: Config | undefined;
  const stop = () => s.stop();
  const hup = () => {
    void configure(argv, true).then((c) => {
      if (typeof c === 'number') return log.error('wsgistat', 'SIGHUP: the configuration has errors (above); going on with the current one');
      if (c.check || c.format === 'mackerel' || (!c.intervalMs && !c.cron)) return log.error('wsgistat', 'SIGHUP: the new configuration is not a continuous run; going on with the current one');
      log.warn('wsgistat', 'SIGHUP: reloading the configuration');
      reload = c;
      s.stop();
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', hup);
  // Each source's read in flight, so that a slow one costs only itself its ticks.
  const inFlight = new Map<Source, { since: number }>();
  await s.run(
    async (due) => {
      // Stop waiting a little before the next tick is due, so that this one has written its
      // records by then and the next is not skipped.
      const nextDue = next(due);
      const until = nextDue - Math.min(250, (nextDue - due) / 10);
      await tick(sources, sinks, { ...opts, overrun: { until, inFlight } });
    },
    (due, since) => log.warn('wsgistat', `skipped the tick due at ${new Date(due).toISOString()}: the tick of ${new Date(since).toISOString()} is still running`),
    // Not expected (sources and sinks report their own failures): said, and the next tick goes on.
    (due, e) => log.error('wsgistat', `the tick due at ${new Date(due).toISOString()} failed: ${(e as Error)?.message ?? String(e)}; the next tick goes on`),
  );
  process.off('SIGTERM', stop);
  process.off('SIGINT', stop);
  process.off('SIGHUP', hup);
  const undelivered = await Promise.all(sinks.map((sink) => sink.close(STOP_GRACE_MS)));
  if (config.stateFileGiven && rates) writeState(config, rates.states);
  if (reload) return reload;
  return undelivered.some((n) => n > 0) ? EXIT_SOURCE_FAILED : EXIT_OK;
}

/** The sinks of --output. A reader of stdout that goes away early (`wsgistat | head -1`) is not an
 *  error: with stdout the only output, wsgistat stops quietly; otherwise the others go on. */
async function openSinks(config: Config): Promise<Sink[] | number> {
  let stdoutGone = false;
  const onStdoutClosed = () => {
    if (config.outputs.length === 1) process.exit(EXIT_OK);
    if (!stdoutGone) log.warn('sink stdout', 'the reader of stdout went away; the other outputs go on');
    stdoutGone = true;
  };
  try {
    return await createSinks(config, onStdoutClosed);
  } catch (e) {
    log.error('wsgistat', `cannot set up the outputs: ${(e as Error).message}`);
    return EXIT_USAGE;
  }
}

/** --format mackerel: one sample, printed as a mackerel-agent plugin does. A failed source prints
 *  nothing (mackerel has no error metric), says why on stderr and makes the exit status 1. With
 *  MACKEREL_AGENT_PLUGIN_META set, the graph definitions instead; the state file is not touched. */
async function mackerel(config: Config, sources: Source[]): Promise<number> {
  const meta = (process.env.MACKEREL_AGENT_PLUGIN_META ?? '') !== '';
  const naming = { prefix: config.metricPrefix, segments: segmentsFor(config.sources) };
  const state = !meta && config.stateFile ? sharedState(config) : undefined;
  const sink = stdoutSink({ onClosed: () => process.exit(EXIT_OK), format: (r) => (meta ? metaOutput(r, naming) : metricLines(r, naming)) });
  const records = new Set<RecordType>(['summary']);
  try {
    const { failed } = await tick(sources, [sink], { hostname: config.hostname, errorRecords: false, records, rates: state?.rates });
    const lost = await sink.close();
    return failed > 0 || lost > 0 ? EXIT_SOURCE_FAILED : EXIT_OK;
  } finally {
    state?.done();
  }
}

/** One sample, its delivery and its state; a stop signal cuts the delivery short. */
async function oneShot(config: Config, sources: Source[], opts: TickOptions, sinks: Sink[]): Promise<number> {
  const state = config.stateFile ? sharedState(config) : undefined;
  const signals = onStopSignals(sinks);
  try {
    const { failed } = await tick(sources, sinks, { ...opts, rates: state?.rates });
    state?.done(); // before delivery: the next run need not wait for this one's receivers
    // Receivers get --retry-for to take this run's batch (and any the spool held); the rest waits
    // in the spool for the next run.
    const undelivered = await Promise.all(sinks.map((s) => s.close()));
    return signals.signal() ?? (failed > 0 || undelivered.some((n) => n > 0) ? EXIT_SOURCE_FAILED : EXIT_OK);
  } finally {
    state?.done();
    signals.off();
  }
}

/** A run of one configuration; a continuous run that reloads (SIGHUP) returns the next one. */
async function run(argv: string[], config: Config, carried?: Map<string, RateState>): Promise<number | Config> {
  if (config.check) {
    process.stdout.write(JSON.stringify(describe(config), null, 2) + '\n');
    return EXIT_OK;
  }
  if (config.format === 'mackerel') {
    // Rates need the worker records; only summaries are printed.
    const shape = { records: new Set<RecordType>(['summary', 'worker']), vars: { kind: 'none' } as const };
    return mackerel(config, config.sources.map((spec) => createSource(spec, shape)));
  }
  const once = !config.intervalMs && !config.cron;
  // Rates need a previous sample: in memory when continuous, in the state file when one-shot.
  const withRates = !once || config.stateFile !== undefined;
  const shapeRecords = new Set<RecordType>(config.records);
  if (withRates) ['summary', 'worker'].forEach((t) => shapeRecords.add(t as RecordType));
  const sources = config.sources.map((spec) => createSource(spec, { records: shapeRecords, vars: config.vars }));
  const opts: TickOptions = { hostname: config.hostname, errorRecords: config.errorRecords, records: config.records };
  const sinks = await openSinks(config);
  if (typeof sinks === 'number') return sinks;
  if (once) return oneShot(config, sources, opts, sinks);
  const rates: Rates = { states: carried ?? (config.stateFileGiven ? readState(config) : new Map()), maxGapMs: config.maxGapMs };
  const next = await continuous(argv, config, sources, { ...opts, rates }, rates, sinks);
  return typeof next === 'number' ? next : run(argv, next, rates.states);
}

async function main(argv: string[]): Promise<number> {
  const config = await configure(argv);
  if (typeof config === 'number') return config;
  const r = await run(argv, config);
  return typeof r === 'number' ? r : EXIT_OK;
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
