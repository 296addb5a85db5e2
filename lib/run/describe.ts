// The resolved configuration as --check prints it: never a secret.

import { delivers, type Config } from '../config.js';
import { describeOutput } from '../sinks/outputs.js';

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
    state_file: config.stateFile ?? null,
    max_gap_ms: config.maxGapMs,
    format: config.format,
    outputs: config.outputs.map((o) => describeOutput(o, config.delivery)),
    ...(delivers(config) ? {
      send_timeout_ms: config.delivery.sendTimeoutMs, retry_for_ms: config.delivery.retryForMs, spool_max: config.delivery.spoolMaxBytes,
    } : {}),
    ...(config.format === 'mackerel' ? { metric_prefix: config.formatOptions.metric_prefix ?? 'by server' } : {}),
  };
}
