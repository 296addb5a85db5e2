// The sink registry: what each --output becomes. The HTTP sinks (and got) are loaded only when an
// HTTP output is configured, so that the stdout path starts as fast as before.

import type { Config } from '../config.js';
import * as log from '../log.js';
import type { Rec } from '../records/types.js';
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

/** An output whose spool cannot be used (a planted or shared directory): it says so once, takes
 *  nothing, and counts what it could not deliver, so that the others go on and the exit status
 *  tells. */
function refusedSink(name: string, why: string): Sink {
  log.error(`sink ${name}`, `${why}; this output gets nothing in this run, the others go on`);
  let lost = 0;
  return {
    name,
    async write(records: Rec[]) {
      lost += records.length;
    },
    async close() {
      if (lost > 0) log.error(`sink ${name}`, `${lost} records were not delivered: its spool was refused`);
      return lost;
    },
  };
}

async function deliveringSink(config: Config, out: HttpOutput): Promise<DeliverySink | Sink> {
  const [{ deliverySink }, { Spool }, http] = await Promise.all([import('./delivery.js'), import('./spool.js'), import('./http.js')]);
  const opts = { timeoutMs: config.sendTimeoutMs };
  const transport = out.kind === 'fluentd' ? await http.fluentdTransport(out, opts) : await http.norikraTransport(out, opts);
  let spool: InstanceType<typeof Spool>;
  try {
    spool = new Spool(spoolDirOf(config.spoolDir, out), config.spoolMaxBytes);
  } catch (e) {
    transport.close();
    const why = (e as Error).name === 'UnsafePathError' ? (e as Error).message : `cannot use the spool ${spoolDirOf(config.spoolDir, out)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
    return refusedSink(transport.name, why);
  }
  return deliverySink(transport, { spool, retryForMs: config.retryForMs });
}
