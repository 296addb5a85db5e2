// Value types of options: how a flag's text or a config file's JSON value becomes a typed value,
// and how a default is written back in --help and the README. A bad value is a ConfigError naming
// where it came from, what was expected and what was given.

import { ConfigError } from '../errors.js';

/** Where a value came from, for messages: `--timeout` or `config file /etc/w.json: "timeout"`. */
export type Origin = string;

export function bad(origin: Origin, expected: string, got: unknown): never {
  throw new ConfigError(`${origin}: expected ${expected}, got ${JSON.stringify(got)}`);
}

/** How a value is read and how a default is written. */
export interface ValueType<T> {
  parse(v: unknown, origin: Origin): T;
  show(v: T): string;
}

export function parseDuration(v: unknown, origin: Origin): number {
  const expected = 'a duration such as "3s", "500ms" or a number of seconds';
  if (typeof v === 'number') {
    if (!(v > 0) || !Number.isFinite(v)) bad(origin, expected, v);
    return Math.round(v * 1000);
  }
  const m = typeof v === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(v) : null;
  if (!m) bad(origin, expected, v);
  const ms = Number(m[1]) * ({ ms: 1, s: 1000, m: 60000 } as const)[(m[2] ?? 's') as 'ms' | 's' | 'm'];
  if (!(ms >= 1)) bad(origin, `${expected}, of at least 1ms`, v);
  return Math.round(ms);
}

export function parseSize(v: unknown, origin: Origin): number {
  const expected = 'a size such as "16MiB", "512K" or a number of bytes';
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 1) bad(origin, expected, v);
    return v;
  }
  const m = typeof v === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(?:(k|m|g)(?:i?b)?|b)?\s*$/i.exec(v) : null;
  if (!m) bad(origin, expected, v);
  const unit = ({ k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[m[2]?.toLowerCase() ?? ''] ?? 1;
  const bytes = Math.floor(Number(m[1]) * unit);
  if (bytes < 1) bad(origin, expected, v);
  return bytes;
}

const showDuration = (ms: number) => (ms % 60000 === 0 ? `${ms / 60000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
const showSize = (b: number) => (b % 1024 ** 2 === 0 ? `${b / 1024 ** 2}MiB` : b % 1024 === 0 ? `${b / 1024}KiB` : `${b}`);

/** "a,b" or ["a","b"] to a list of non-empty names. */
export function names(v: unknown, origin: Origin, expected: string): string[] {
  const parts = typeof v === 'string' ? v.split(',') : Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : bad(origin, expected, v);
  const out = parts.map((p: string) => p.trim()).filter((p: string) => p !== '');
  if (out.length === 0) bad(origin, expected, v);
  return out;
}

export const duration: ValueType<number> = { parse: parseDuration, show: showDuration };
export const size: ValueType<number> = { parse: parseSize, show: showSize };

/** A switch: a flag without a value; true or false in the config file. */
export const bool: ValueType<boolean> = {
  parse: (v, origin) => (typeof v === 'boolean' ? v : bad(origin, 'true or false', v)),
  show: (v) => (v ? 'on' : 'off'),
};

/** A non-empty string, checked by `test` when given (`expected` says what it should look like). */
export function text(expected: string, test?: (s: string) => boolean): ValueType<string> {
  return {
    parse: (v, origin) => (typeof v === 'string' && v.trim() !== '' && (!test || test(v)) ? v : bad(origin, expected, v)),
    show: (v) => v,
  };
}

/** One of a fixed set of words. */
export function oneOf<T extends string>(words: readonly T[]): ValueType<T> {
  return {
    parse: (v, origin) => ((words as readonly unknown[]).includes(v) ? (v as T) : bad(origin, `one of ${words.join(', ')}`, v)),
    show: (v) => v,
  };
}

export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

export function unknownKey(origin: Origin, key: string, known: readonly string[]): never {
  const near = known.find((k) => editDistance(k, key) <= 2);
  throw new ConfigError(`${origin}: unknown key "${key}"${near ? ` (did you mean "${near}"?)` : ''}; known keys: ${known.join(', ')}`);
}

/** Refuses the keys of an object that are not in `known`. */
export function onlyKeys(o: Record<string, unknown>, origin: Origin, known: readonly string[]): void {
  for (const k of Object.keys(o)) if (!known.includes(k)) unknownKey(`${origin}.${k}`, k, known);
}
