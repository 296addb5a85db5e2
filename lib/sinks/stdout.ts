// JSON lines on stdout: the td-agent in_exec / jq / systemd journal path. One write per tick, so a
// tick's records reach the reader together and at once.

import { toJsonLine } from '../records/serialize.js';
import type { Rec } from '../records/types.js';
import type { Sink } from './types.js';

export interface StdoutOptions {
  /** Called once if the reader goes away (`wsgistat | head -1`): the caller exits quietly. */
  onClosed: () => void;
  stream?: NodeJS.WritableStream;
}

export function stdoutSink(opts: StdoutOptions): Sink {
  const stream = opts.stream ?? process.stdout;
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
      if (closed || records.length === 0) return;
      let out = '';
      for (const r of records) out += toJsonLine(r);
      stream.write(out);
    },
    async close() {},
  };
}
