// The planning of a run: from a configuration to its sources, its sinks and its tick options, as
// the format asks (record types, rates, error records, its own stdout).

import type { Config } from '../config.js';
import type { TickOptions } from '../pipeline.js';
import { createSinks } from '../sinks/index.js';
import { FORMATS, type Format } from '../sinks/formats.js';
import type { Sink } from '../sinks/types.js';
import { createSource, type Source } from '../sources/index.js';

export interface Plan {
  config: Config;
  format: Format;
  /** Sample once and exit, or stay up on a schedule. */
  once: boolean;
  /** Whether the run reads and writes the state file. */
  state: boolean;
  sources: Source[];
  tick: TickOptions;
}

export function plan(config: Config): Plan {
  const format = FORMATS.find((f) => f.name === config.format)!;
  const once = !config.intervalMs && !config.cron;
  const state = once && config.stateFile !== undefined && format.usesState?.() !== false;
  // Rates need a previous sample: in memory when continuous, in the state file when one-shot.
  const shape = { records: format.shapes(config.records, !once || state), vars: format.name === 'json' ? config.vars : { kind: 'none' as const } };
  return {
    config,
    format,
    once,
    state,
    sources: config.sources.map((spec) => createSource(spec, shape)),
    tick: { hostname: config.hostname, errorRecords: format.errorRecords(config.errorRecords), records: format.prints(config.records) },
  };
}

/** The sinks of a run: the format's own stdout, or the outputs. */
export async function openSinks(p: Plan, onStdoutClosed: () => void): Promise<Sink[]> {
  if (p.format.stdout) return [await p.format.stdout({ sources: p.config.sources, own: p.config.formatOptions, onClosed: onStdoutClosed })];
  return createSinks(p.config.outputs, { delivery: p.config.delivery, onStdoutClosed });
}
