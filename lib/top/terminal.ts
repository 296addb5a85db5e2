// The terminal, with no framework: the alternate screen and a hidden cursor while the view is up,
// raw keys through readline's keypress events, redraws on resize. Everything is put back on quit,
// on a signal and on a crash (the process 'exit' handler runs even then), and only once.

import fs from 'node:fs';
import { emitKeypressEvents, type Key } from 'node:readline';
import { divertStderr } from '../fdout.js';

const ENTER = '\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J';
const LEAVE = '\x1b[0m\x1b[?25h\x1b[?1049l';

export interface Terminal {
  readonly cols: number;
  readonly rows: number;
  readonly colour: boolean;
  /** Replaces the screen with these lines (as many as rows, none wider than cols). */
  draw(lines: string[]): void;
  onKey(f: (text: string | undefined, key: Key) => void): void;
  onResize(f: () => void): void;
  /** Puts the terminal back as it was; safe to call more than once. */
  close(): void;
}

/** Whether to colour: not under NO_COLOR (any non-empty value), and only where the terminal can. */
export function wantsColour(env: NodeJS.ProcessEnv, hasColors: () => boolean): boolean {
  return !env.NO_COLOR && hasColors();
}

/** While the view is up, what is written to stderr (diagnostics: one line each) would land on the
 *  screen and tear it: when stderr is this terminal, lib/log.ts's lines go to `onLine` instead
 *  (lib/fdout.ts divertStderr), and anything else written to process.stderr too, until close. */
function captureStderr(onLine: (line: string) => void): () => void {
  if (!process.stderr.isTTY) return () => {};
  const lines = (text: string) => {
    for (const line of text.split('\n')) if (line.trim()) onLine(line);
  };
  const original = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    lines(String(chunk));
    (rest.find((r) => typeof r === 'function') as (() => void) | undefined)?.();
    return true;
  }) as typeof process.stderr.write;
  divertStderr(lines);
  return () => {
    divertStderr(undefined);
    process.stderr.write = original;
  };
}

export function openTerminal(onStderr: (line: string) => void): Terminal {
  const out = process.stdout;
  const input = process.stdin;
  const keyHandlers: ((text: string | undefined, key: Key) => void)[] = [];
  const resizeHandlers: (() => void)[] = [];
  const onKeypress = (text: string | undefined, key: Key) => keyHandlers.forEach((f) => f(text, key ?? {}));
  const onResize = () => resizeHandlers.forEach((f) => f());
  let open = true;
  const uncapture = captureStderr(onStderr);
  // Synchronous writes: the 'exit' handler cannot wait for a stream.
  const write = (s: string) => {
    try {
      fs.writeSync(1, s);
    } catch {
      // the terminal went away (ssh closed): nothing left to restore
    }
  };
  const close = () => {
    if (!open) return;
    open = false;
    uncapture();
    input.off('keypress', onKeypress);
    out.off('resize', onResize);
    process.off('exit', close);
    process.off('uncaughtExceptionMonitor', close);
    if (input.isTTY) input.setRawMode(false);
    input.pause();
    write(LEAVE);
  };
  process.on('exit', close);
  // A crash: the terminal is put back before Node prints the error, so that it lands on the
  // shell's screen and not on the alternate one, which is about to go.
  process.on('uncaughtExceptionMonitor', close);
  write(ENTER);
  emitKeypressEvents(input);
  input.setRawMode(true);
  input.on('keypress', onKeypress);
  input.resume();
  out.on('resize', onResize);
  return {
    get cols() {
      return out.columns || 80;
    },
    get rows() {
      return out.rows || 24;
    },
    colour: wantsColour(process.env, () => out.hasColors()),
    draw(lines) {
      if (open) write(`\x1b[H${lines.map((l) => `${l}\x1b[K`).join('\r\n')}\x1b[J`);
    },
    onKey: (f) => void keyHandlers.push(f),
    onResize: (f) => void resizeHandlers.push(f),
    close,
  };
}
