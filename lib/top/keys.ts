// Pure: what a key does to the view's settings. The interval prompt (`d`) is a mode of its own:
// digits and a point, Backspace, Enter to set, Esc to cancel.

import type { Key } from 'node:readline';
import { SORTS, type SortKey } from './view.js';

/** The intervals +/- step through, ms. */
export const STEPS = [200, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000];
export const MIN_MS = 200;
export const MAX_MS = 3_600_000;

export interface Settings {
  sort: SortKey;
  cores: boolean;
  intervalMs: number;
  /** What is typed at the interval prompt, while it is open. */
  prompt?: string;
}

export type Action =
  | { quit: true }
  | { set: Settings; say?: string };

const clamp = (ms: number) => Math.min(MAX_MS, Math.max(MIN_MS, ms));

function promptKey(s: Settings, text: string | undefined, key: Key): Action {
  const typed = s.prompt ?? '';
  if (key.name === 'escape') return { set: { ...s, prompt: undefined } };
  if (key.name === 'backspace') return { set: { ...s, prompt: typed.slice(0, -1) } };
  if (key.name === 'return' || key.name === 'enter') {
    const v = Number(typed);
    if (typed === '' || !Number.isFinite(v) || v <= 0) return { set: { ...s, prompt: undefined }, say: `not a number of seconds: ${JSON.stringify(typed)}` };
    return { set: { ...s, prompt: undefined, intervalMs: clamp(v * 1000) } };
  }
  return { set: text && /^[0-9.]$/.test(text) ? { ...s, prompt: typed + text } : s };
}

export function onKey(s: Settings, text: string | undefined, key: Key): Action {
  if (key.ctrl && key.name === 'c') return { quit: true };
  if (s.prompt !== undefined) return promptKey(s, text, key);
  if (text === 'q') return { quit: true };
  const sort = (Object.keys(SORTS) as SortKey[]).find((k) => SORTS[k].key === text);
  if (sort) return { set: { ...s, sort } };
  if (text === 'c') return { set: { ...s, cores: !s.cores } };
  if (text === '+') return { set: { ...s, intervalMs: STEPS.find((m) => m > s.intervalMs) ?? MAX_MS } };
  if (text === '-') return { set: { ...s, intervalMs: [...STEPS].reverse().find((m) => m < s.intervalMs) ?? MIN_MS } };
  if (text === 'd') return { set: { ...s, prompt: '' } };
  if (!text) return { set: s };
  return { set: s, say: `no key ${JSON.stringify(text)}: q quits, + - d set the interval, r b m i sort, c shows cores` };
}
