// stdout and stderr written by file descriptor. process.stdout and process.stderr are streams Node
// builds on first use; for a pipe or a socket (td-agent's in_exec, mackerel-agent, systemd's
// journal) that is a net.Socket and its stream machinery, about 5 ms of a one-shot run that writes
// one tick. On Linux those streams write pipes, sockets, files and terminals synchronously anyway,
// so one writeSync of the whole text behaves the same, without the set-up. A non-blocking pipe
// that is full (EAGAIN: the reader is slow, and whoever made the pipe set O_NONBLOCK) gets the rest
// through the stream, which waits for the reader; every later write follows it, in order.

import { writeSync } from 'node:fs';

/** What the stdout sink needs of its stream: a NodeJS.WritableStream fits. */
export interface Out {
  on(event: 'error', handler: (err: NodeJS.ErrnoException) => void): unknown;
  write(text: string, cb?: (err?: Error | null) => void): boolean;
  readonly writableLength?: number;
}

/** Writes what it can of `buf` to `fd`: the bytes written, and the error that stopped it. */
function writeAll(fd: number, buf: Buffer): { done: number; err?: NodeJS.ErrnoException } {
  let done = 0;
  try {
    while (done < buf.length) done += writeSync(fd, buf, done);
  } catch (e) {
    return { done, err: e as NodeJS.ErrnoException };
  }
  return { done };
}

export function fdOut(fd: 1 | 2, stream: () => NodeJS.WritableStream): Out {
  const handlers: ((err: NodeJS.ErrnoException) => void)[] = [];
  let slow: NodeJS.WritableStream | undefined;
  let broken: NodeJS.ErrnoException | undefined;
  return {
    on(_event, handler) {
      handlers.push(handler);
      slow?.on('error', handler);
      return this;
    },
    get writableLength() {
      return (slow as { writableLength?: number } | undefined)?.writableLength ?? 0;
    },
    write(text, cb) {
      if (slow) return slow.write(text, cb);
      if (broken) {
        const err = broken;
        process.nextTick(() => cb?.(err));
        return false;
      }
      const buf = Buffer.from(text);
      const { done, err } = writeAll(fd, buf);
      if (err?.code === 'EAGAIN') {
        slow = stream();
        for (const h of handlers) slow.on('error', h);
        return slow.write(buf.subarray(done), cb);
      }
      if (err) {
        broken = err;
        // As a stream reports it: on a later tick, to the callback and to the error handlers.
        process.nextTick(() => {
          cb?.(err);
          for (const h of handlers) h(err);
        });
        return false;
      }
      if (cb) process.nextTick(cb);
      return true;
    },
  };
}

/** stderr's lines (lib/log.ts): synchronous, falling back to process.stderr as stdout does. */
let errOut: Out | undefined;
/** Where stderr's lines go instead, while set (`wsgistat top`: onto its screen, not through it). */
let diverted: ((text: string) => void) | undefined;
export function divertStderr(to: ((text: string) => void) | undefined): void {
  diverted = to;
}
export function writeStderr(text: string): void {
  if (diverted) return diverted(text);
  errOut ??= fdOut(2, () => process.stderr);
  errOut.write(text);
}
