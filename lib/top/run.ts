// The running view: a sample on the wall clock (every 1 s by default, at :00, :01, ...), a redraw
// after each, on every key and on resize, until q, Ctrl-C or a signal. sample → view → render →
// terminal.

import type { Key } from 'node:readline';
import { holdYoungGeneration } from '../heap.js';
import { alignedEvery } from '../schedule.js';
import { render, duration, type UiState } from './render.js';
import { sampler, type Watched } from './sample.js';
import type { Terminal } from './terminal.js';
import { onKey } from './keys.js';
import type { ServerView } from './view.js';

/** How long a diagnostic stays on the key line. */
const MESSAGE_MS = 5000;

export interface TopOptions {
  intervalMs: number;
  /** What to watch: fixed, or asked again every `every` ticks (discovery). */
  sources: { fixed: Watched[] } | { find: () => Promise<Watched[]>; every: number; none: string };
}

export interface Top {
  /** Resolves when the view is quit, with how. */
  done: Promise<'quit'>;
  stop(): void;
  /** A diagnostic line to show on the key line for a while. */
  say(line: string): void;
}

export function startTop(term: Terminal, opts: TopOptions): Top {
  holdYoungGeneration();
  const s = sampler();
  const ui: UiState = { sort: 'id', cores: false, intervalMs: opts.intervalMs };
  let views: ServerView[] = [];
  let message: { text: string; until: number } | undefined;
  let prompt: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let busy = false;
  let ticks = 0;
  let firstAt: number | undefined;
  let stopped = false;
  let quit!: (how: 'quit') => void;
  const done = new Promise<'quit'>((r) => (quit = r));

  const redraw = () => {
    const note = prompt !== undefined ? `interval in seconds (now ${duration(ui.intervalMs)}), Enter sets, Esc cancels: ${prompt}` : message && Date.now() < message.until ? message.text : undefined;
    const empty = 'find' in opts.sources ? opts.sources.none : 'nothing to watch';
    term.draw(render(views, { ...ui, message: note, empty: ticks === 0 ? 'reading…' : empty }, { cols: term.cols, rows: term.rows, colour: term.colour }));
  };
  const say = (text: string) => {
    message = { text, until: Date.now() + MESSAGE_MS };
    redraw();
  };

  async function sampleNow(until: number): Promise<void> {
    busy = true;
    try {
      const src = opts.sources;
      if ('fixed' in src) {
        if (ticks === 0) s.watch(src.fixed);
      } else if (ticks % src.every === 0) {
        s.watch(await src.find());
      }
      const got = await s.sample(until);
      ticks++;
      ui.at = Date.now();
      firstAt ??= ui.at;
      if (!stopped) views = got;
    } finally {
      busy = false;
    }
    if (!stopped) redraw();
  }

  function schedule(): void {
    clearTimeout(timer);
    if (stopped) return;
    const next = alignedEvery(ui.intervalMs);
    let due = next(Date.now());
    // A sane first rate: the second sample at least half an interval after the first (which is
    // taken at start, off the wall clock), not over the few ms that may be left to the next tick.
    if (ticks === 1 && firstAt !== undefined && due - firstAt < ui.intervalMs / 2) due = next(due);
    timer = setTimeout(() => {
      if (busy) return schedule();
      // Stop waiting for a slow source a little before the next tick is due (as continuous runs
      // do): it is shown as still reading, and the others are drawn on time.
      const nextDue = next(due);
      void sampleNow(nextDue - Math.min(250, (nextDue - due) / 10)).catch((e: unknown) => say(`wsgistat: error: ${(e as Error).message}`)).finally(schedule);
    }, Math.max(0, due - Date.now()));
  }

  function key(text: string | undefined, k: Key): void {
    const a = onKey({ ...ui, prompt }, text, k);
    if ('quit' in a) return stop();
    const changed = a.set.intervalMs !== ui.intervalMs;
    ({ sort: ui.sort, cores: ui.cores, intervalMs: ui.intervalMs, prompt } = a.set);
    if (changed) {
      say(`sampling every ${duration(ui.intervalMs)}`);
      if (!busy) schedule();
    }
    if (a.say) say(a.say);
    else redraw();
  }

  function stop(): void {
    if (stopped) return;
    stopped = true;
    clearTimeout(timer);
    quit('quit');
  }

  term.onKey(key);
  term.onResize(redraw);
  redraw();
  void sampleNow(Date.now() + ui.intervalMs).catch((e: unknown) => say(`wsgistat: error: ${(e as Error).message}`)).finally(schedule);
  return { done, stop, say };
}
