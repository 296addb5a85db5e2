#!/usr/bin/env node
// The command line: the only file that touches argv, exit codes and signals.
// cli → config → schedule → pipeline tick → sources collect → records (rates) → sinks write.

import { readFileSync } from 'node:fs';
import { resolveConfig, parseArgv, type Config } from './config.js';
import { describeOutput } from './sinks/outputs.js';
import { ConfigError } from './errors.js';
import { helpText } from './help.js';
import * as log from './log.js';
import { tick, type TickOptions } from './pipeline.js';
import type { RateState } from './records/rates.js';
import type { RecordType } from './records/types.js';
import { alignedEvery, cronNext, cronProblem, scheduler } from './schedule.js';
import { metaOutput, metricLines, segmentsFor } from './sinks/mackerel.js';
import { createSinks } from './sinks/index.js';
import type { Sink } from './sinks/types.js';
import { stdoutSink } from './sinks/stdout.js';
import { createSource, type Source } from './sources/index.js';
import { loadStates, saveStates } from './state.js';

const EXIT_OK = 0;
const EXIT_SOURCE_FAILED = 1;
const EXIT_USAGE = 2;

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
async function configure(argv: string[]): Promise<Config | number> {
  try {
    const args = parseArgv(argv);
    if (args.flags.get('--help')) {
      process.stdout.write(helpText());
      return EXIT_OK;
    }
    if (args.flags.get('--version')) {
      process.stdout.write(`wsgistat ${version()}\n`);
      return EXIT_OK;
    }
    const config = resolveConfig(args);
    if (config.sources.length === 0) {
      throw new ConfigError('no source given, e.g. wsgistat unix:///run/uwsgi/app.stats (see wsgistat --help)');
    }
    if (config.format === 'mackerel') segmentsFor(config.sources); // names that collide are a config error
    const cronError = config.cron ? await cronProblem(config.cron) : undefined;
    if (cronError) throw new ConfigError(`--cron: expected a cron expression such as "*/10 * * * * *", got ${JSON.stringify(config.cron)} (${cronError})`);
    return config;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    log.error('config', e.message);
    return EXIT_USAGE;
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

/** How long a SIGTERM leaves a receiver to take the batch in flight before it goes to the spool. */
const STOP_GRACE_MS = 2000;

/** Stays up and samples on the schedule until SIGTERM or SIGINT, then finishes the tick in flight,
 *  and leaves what receivers have not taken in their spools. */
async function continuous(config: Config, sources: Source[], opts: TickOptions, write: TickOptions['rates'], sinks: Sink[]): Promise<number> {
  const next = config.cron ? await cronNext(config.cron) : alignedEvery(config.intervalMs!);
  const s = scheduler(next);
  const stop = () => s.stop();
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  await s.run(
    async () => {
      await tick(sources, sinks, opts);
    },
    (due, since) => log.warn('wsgistat', `skipped the tick due at ${new Date(due).toISOString()}: the tick of ${new Date(since).toISOString()} is still running`),
  );
  await Promise.all(sinks.map((sink) => sink.close(STOP_GRACE_MS)));
  if (config.stateFileGiven && write) writeState(config, write.states);
  return EXIT_OK;
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
  const rates = !meta && config.stateFile ? { states: readState(config), maxGapMs: config.maxGapMs } : undefined;
  const sink = stdoutSink({ onClosed: () => process.exit(EXIT_OK), format: (r) => (meta ? metaOutput(r, naming) : metricLines(r, naming)) });
  const records = new Set<RecordType>(['summary']);
  const { failed } = await tick(sources, [sink], { hostname: config.hostname, errorRecords: false, records, rates });
  await sink.close();
  if (rates) writeState(config, rates.states);
  return failed > 0 ? EXIT_SOURCE_FAILED : EXIT_OK;
}

async function main(argv: string[]): Promise<number> {
  const config = await configure(argv);
  if (typeof config === 'number') return config;
  if (config.check) {
    process.stdout.write(JSON.stringify(describe(config), null, 2) + '\n');
    return EXIT_OK;
  }
  if (config.format === 'mackerel') {
    // Rates need the worker records; only summaries are printed.
    const shape = { records: new Set<RecordType>(['summary', 'worker']), vars: { kind: 'none' } as const };
    return mackerel(config, config.sources.map((spec) => createSource(spec, shape)));
  }
  const oneShot = !config.intervalMs && !config.cron;
  // Rates need a previous sample: in memory when continuous, in the state file when one-shot.
  const withRates = !oneShot || config.stateFile !== undefined;
  const shapeRecords = new Set<RecordType>(config.records);
  if (withRates) ['summary', 'worker'].forEach((t) => shapeRecords.add(t as RecordType));
  const sources = config.sources.map((spec) => createSource(spec, { records: shapeRecords, vars: config.vars }));
  const useStateFile = oneShot || config.stateFileGiven;
  const rates = withRates ? { states: useStateFile ? readState(config) : new Map<string, RateState>(), maxGapMs: config.maxGapMs } : undefined;
  const opts: TickOptions = { hostname: config.hostname, errorRecords: config.errorRecords, records: config.records, rates };
  const sinks = await openSinks(config);
  if (typeof sinks === 'number') return sinks;
  if (!oneShot) return continuous(config, sources, opts, rates, sinks);

  const { failed } = await tick(sources, sinks, opts);
  // Receivers get --retry-for to take this run's batch (and any the spool held); the rest waits in
  // the spool for the next run.
  const undelivered = await Promise.all(sinks.map((s) => s.close()));
  if (rates) writeState(config, rates.states);
  return failed > 0 || undelivered.some((n) => n > 0) ? EXIT_SOURCE_FAILED : EXIT_OK;
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
