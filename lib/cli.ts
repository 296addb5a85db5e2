#!/usr/bin/env node
// The command line: the only file that touches argv, exit codes and signals.
// cli → config → pipeline tick → sources collect → records → sinks write.

import { readFileSync } from 'node:fs';
import { resolveConfig, parseArgv, type Config } from './config.js';
import { ConfigError } from './errors.js';
import { helpText } from './help.js';
import * as log from './log.js';
import { tick } from './pipeline.js';
import { stdoutSink } from './sinks/stdout.js';
import { createSource } from './sources/index.js';

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
    })),
    records: [...config.records],
    vars: config.vars.kind === 'some' ? [...config.vars.names] : config.vars.kind,
    error_records: config.errorRecords,
    hostname: config.hostname,
  };
}

async function main(argv: string[]): Promise<number> {
  let config: Config;
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
    config = resolveConfig(args);
    if (config.sources.length === 0) {
      throw new ConfigError('no source given, e.g. wsgistat unix:///run/uwsgi/app.stats (see wsgistat --help)');
    }
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    log.error('config', e.message);
    return EXIT_USAGE;
  }
  if (config.check) {
    process.stdout.write(JSON.stringify(describe(config), null, 2) + '\n');
    return EXIT_OK;
  }

  const shape = { records: config.records, vars: config.vars };
  const sources = config.sources.map((spec) => createSource(spec, shape));
  // A reader that goes away early (`wsgistat | head -1`) is not an error: stop quietly.
  const sinks = [stdoutSink({ onClosed: () => process.exit(EXIT_OK) })];
  const { failed } = await tick(sources, sinks, { hostname: config.hostname, errorRecords: config.errorRecords });
  await Promise.all(sinks.map((s) => s.close()));
  return failed > 0 ? EXIT_SOURCE_FAILED : EXIT_OK;
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
