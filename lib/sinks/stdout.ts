// JSON lines on stdout: the td-agent in_exec / jq / systemd journal path. One write per tick, so a
// tick's records reach the reader together and at once.

import { toJsonLine } from '../records/serialize.js';
import type { Rec } from '../records/types.js';
import type { Sink } from './types.js';

export interface StdoutOptions {
  /** Called once if the reader goes away (`wsgistat | head -1`): the caller exits quietly. */
  onClosed: () => void;
  stream?: NodeJS.WritableStream;
  /** One tick's records as text; default: JSON lines. */
  format?: (records: Rec[]) => string;
}

function jsonLines(records: Rec[]): string {
  let out = '';
  for (const r of records) out += toJsonLine(r);
  return out;
}

export function stdoutSink(opts: StdoutOptions): Sink {
  const stream = opts.stream ?? process.stdout;
  const format = opts.format ?? jsonLines;
  let closed = false;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (closed) return;
    closed = true;
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') opts.onClosed();
    else throw err;
  });
  return {
    name: 'stdout',
    async write(records: Rec[]) {
      if (closed) return;
      const out = format(records);
      if (out !== '') stream.write(out);
    },
    async close() {
      return 0;
    },
  };
}
