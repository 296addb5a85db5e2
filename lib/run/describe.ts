// The resolved configuration as --check prints it: never a secret.

import { delivers, type Config } from '../config.js';
import { describeOutput } from '../sinks/outputs.js';
import { FORMATS } from '../sinks/formats.js';

function usedStateFile(config: Config): string | undefined {
  const once = !config.intervalMs && !config.cron;
  if (!once) return config.stateFileGiven ? config.stateFile : undefined;
  return FORMATS.find((f) => f.name === config.format)?.usesState?.() === false ? undefined : config.stateFile;
}

export function describe(config: Config): object {
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
      ...(s.own ? s.own : {}),
    })),
    records: [...config.records],
    vars: config.vars.kind === 'some' ? [...config.vars.names] : config.vars.kind,
    error_records: config.errorRecords,
    hostname: config.hostname,
    schedule: config.intervalMs ? { interval_ms: config.intervalMs } : config.cron ? { cron: config.cron } : 'once',
    // Only a state file the run would use: continuous mode keeps its rates in memory and touches
    // a state file only when one is given; mackerel's graph definitions use none.
    state_file: usedStateFile(config) ?? null,
    max_gap_ms: config.maxGapMs,
    format: config.format,
    outputs: config.outputs.map((o) => describeOutput(o, config.delivery)),
    ...(delivers(config) ? {
      send_timeout_ms: config.delivery.sendTimeoutMs, retry_for_ms: config.delivery.retryForMs, spool_max: config.delivery.spoolMaxBytes,
    } : {}),
    ...(config.format === 'mackerel' ? { metric_prefix: config.formatOptions.metric_prefix ?? 'by server' } : {}),
  };
}
