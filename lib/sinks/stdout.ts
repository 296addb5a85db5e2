// JSON lines on stdout: the td-agent in_exec / jq / systemd journal path. One write per tick, so a
// tick's records reach the reader together and at once.

import { toJsonLine } from '../records/serialize.js';
import type { Rec } from '../records/types.js';
import { fdOut, type Out } from '../fdout.js';
import * as log from '../log.js';
import type { Sink, SinkKind } from './types.js';

export interface StdoutOptions {
  /** Called once if the reader goes away (`wsgistat | head -1`): the caller exits quietly. */
  onClosed: () => void;
  stream?: Out;
  /** One tick's records as text; default: JSON lines. */
  format?: (records: Rec[]) => string;
}

function jsonLines(records: Rec[]): string {
  let out = '';
  for (const r of records) out += toJsonLine(r);
  return out;
}

export function stdoutSink(opts: StdoutOptions): Sink {
  const stream = opts.stream ?? fdOut(1, () => process.stdout);
  const format = opts.format ?? jsonLines;
  let closed = false;
  /** Records that a failed write took with it, or that came after it: the exit status counts them. */
  let lost = 0;
  /** Records written but not yet confirmed by the stream. */
  let unconfirmed = 0;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (closed) return;
    closed = true;
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') return opts.onClosed();
    // A full disk or a broken device (ENOSPC, EIO): one line, and the other outputs go on.
    lost += unconfirmed;
    unconfirmed = 0;
    log.error('sink stdout', `cannot write to stdout (${err.code ?? err.message}); the other outputs go on`);
  });
  return {
    name: 'stdout',
    async write(records: Rec[]) {
      if (closed) {
        lost += records.length;
        return;
      }
      const out = format(records);
      if (out === '') return;
      const n = records.length;
      unconfirmed += n;
      stream.write(out, (err) => {
        if (!err) unconfirmed -= n;
      });
    },
    async close() {
      // Wait for what is buffered, so that a write error is known before the exit status.
      if (!closed && ((stream as { writableLength?: number }).writableLength ?? 0) > 0) await new Promise<void>((r) => stream.write('', () => r()));
      await new Promise((r) => setImmediate(r)); // an error of the last write is emitted on the next tick
      if (lost > 0) log.error('sink stdout', `${lost} records did not reach stdout`);
      return lost;
    },
  };
}

export const stdoutKind: SinkKind = {
  name: 'stdout',
  claims: (text) => text === 'stdout' || text === '-',
  parse: () => ({ kind: 'stdout', name: 'stdout' }),
  forms: 'stdout',
  docs: [{ output: '`stdout` (or `-`)', does: 'JSON lines, as without `--output`' }],
  describe: () => 'stdout',
  create: async (_spec, ctx) => stdoutSink({ onClosed: ctx.onStdoutClosed }),
};
