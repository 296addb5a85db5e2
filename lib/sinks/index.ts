// The sink registry: what each --output becomes. The HTTP sinks (and got) are loaded only when an
// HTTP output is configured, so that the stdout path starts as fast as before.

import { spoolDirOf, type Config } from '../config.js';
import type { DeliverySink } from './delivery.js';
import type { HttpOutput } from './outputs.js';
import { stdoutSink } from './stdout.js';
import type { Sink } from './types.js';

export interface Sinks {
  all: Sink[];
  /** The sinks that deliver over the network, with a spool. */
  delivering: DeliverySink[];
}

export async function createSinks(config: Config, onStdoutClosed: () => void): Promise<Sinks> {
  const all: Sink[] = [];
  const delivering: DeliverySink[] = [];
  for (const out of config.outputs) {
    if (out.kind === 'stdout') {
      all.push(stdoutSink({ onClosed: onStdoutClosed }));
      continue;
    }
    const sink = await deliveringSink(config, out);
    all.push(sink);
    delivering.push(sink);
  }
  return { all, delivering };
}

async function deliveringSink(config: Config, out: HttpOutput): Promise<DeliverySink> {
  const [{ deliverySink }, { Spool }, http] = await Promise.all([import('./delivery.js'), import('./spool.js'), import('./http.js')]);
  const opts = { timeoutMs: config.sendTimeoutMs };
  const transport = out.kind === 'fluentd' ? await http.fluentdTransport(out, opts) : await http.norikraTransport(out, opts);
  const spool = new Spool(spoolDirOf(config, out), config.spoolMaxBytes);
  return deliverySink(transport, { spool, retryForMs: config.retryForMs });
}
