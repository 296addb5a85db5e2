// The sink registry: what each --output becomes. The HTTP sinks (and got) are loaded only when an
// HTTP output is configured, so that the stdout path starts as fast as before.

import type { Config } from '../config.js';
import type { DeliverySink } from './delivery.js';
import { spoolDirOf, type HttpOutput } from './outputs.js';
import { stdoutSink } from './stdout.js';
import type { Sink } from './types.js';

export async function createSinks(config: Config, onStdoutClosed: () => void): Promise<Sink[]> {
  const sinks: Sink[] = [];
  for (const out of config.outputs) {
    sinks.push(out.kind === 'stdout' ? stdoutSink({ onClosed: onStdoutClosed }) : await deliveringSink(config, out));
  }
  return sinks;
}

async function deliveringSink(config: Config, out: HttpOutput): Promise<DeliverySink> {
  const [{ deliverySink }, { Spool }, http] = await Promise.all([import('./delivery.js'), import('./spool.js'), import('./http.js')]);
  const opts = { timeoutMs: config.sendTimeoutMs };
  const transport = out.kind === 'fluentd' ? await http.fluentdTransport(out, opts) : await http.norikraTransport(out, opts);
  const spool = new Spool(spoolDirOf(config.spoolDir, out), config.spoolMaxBytes);
  return deliverySink(transport, { spool, retryForMs: config.retryForMs });
}
