// The option engine: knows no option in particular. Options are declared (by config.ts, by the
// source and sink kinds) with a flag, a config key, a value type, a default as a value and a doc;
// this file splits argv by those declarations, picks each value from the command line over the
// config file over the default, and writes the docs rows that --help and the README show.

import { ConfigError } from '../errors.js';
import { editDistance, type Origin, type ValueType } from './values.js';

export interface Option<T = unknown> {
  flag: `--${string}`;
  short?: `-${string}`;
  /** Key in the config file; flags that only make sense on the command line have none. */
  key?: string;
  /** What the value looks like in --help (DURATION, PATH); a switch has none. */
  arg?: string;
  type: ValueType<T>;
  /** The default, as a value; undefined: none, or computed at run time (`defaultDoc` says how). */
  default?: T;
  /** The default in words, where it is not a fixed value. */
  defaultDoc?: string;
  doc: string;
  /** May be given more than once on the command line; the values make a list. */
  repeatable?: boolean;
}

/** An option of the config file alone, with no flag: a setting of one source among several (a
 *  key in that source's object), which one command line for every source could not give. --help,
 *  the man page and the completions know only flags; the README lists these keys apart. */
export type KeyOption<T = unknown> = Omit<Option<T>, 'flag' | 'short' | 'key' | 'repeatable'> & { key: string };

/** A config-only option as the README shows it. */
export function keyOptionDoc(o: KeyOption<any>): { key: string; arg?: string; default: string; doc: string } {
  return { key: o.key, ...(o.arg ? { arg: o.arg } : {}), default: o.defaultDoc ?? (o.default !== undefined ? o.type.show(o.default) : 'none'), doc: o.doc };
}

/** An option as --help and the README show it. */
export interface OptionDoc {
  flag: string;
  short?: string;
  key?: string;
  arg?: string;
  default: string;
  doc: string;
}

export function optionDoc(o: Option<any>): OptionDoc {
  const dflt = o.defaultDoc ?? (o.default !== undefined ? o.type.show(o.default) : 'none');
  return { flag: o.flag, ...(o.short ? { short: o.short } : {}), ...(o.key ? { key: o.key } : {}), ...(o.arg ? { arg: o.arg } : {}), default: dflt, doc: o.doc };
}

/** Flag values by config key (by flag for command-line-only flags); repeatable flags: a list. */
export type Flags = Map<string, string | boolean | string[]>;

export interface Argv {
  flags: Flags;
  positional: string[];
}

export const USAGE_HINT = ' (see wsgistat --help)';

const idOf = (o: Option<any>) => o.key ?? o.flag;

/** Splits argv into flags and positional arguments, strictly: an unknown flag, a missing value, a
 *  value given to a switch, and a value that looks like the next flag are errors (as in
 *  util.parseArgs' strict mode). `--name=value`, and `-x=value` for a short flag. */
export function parseArgv(argv: string[], options: readonly Option<any>[]): Argv {
  const flags: Flags = new Map();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      positional.push(a);
      continue;
    }
    const eq = a.startsWith('--') ? a.indexOf('=') : a[2] === '=' ? 2 : -1;
    const name = eq === -1 ? a : a.slice(0, eq);
    const def = options.find((o) => o.flag === name || o.short === name);
    if (!def) {
      const near = options.find((o) => editDistance(o.flag, name) <= 2);
      throw new ConfigError(`unknown option ${name}${near ? ` (did you mean ${near.flag}?)` : ''}${USAGE_HINT}`);
    }
    const id = idOf(def);
    if (!def.arg) {
      if (eq !== -1) throw new ConfigError(`${def.flag} takes no value${USAGE_HINT}`);
      flags.set(id, !def.flag.startsWith('--no-'));
      continue;
    }
    const value = eq !== -1 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new ConfigError(`${def.flag} needs a value: ${def.arg}${USAGE_HINT}`);
    // `--state-file --no-state` is a missing value, not a file named --no-state; a value that does
    // start with a dash is given as --flag=value.
    if (eq === -1 && value.startsWith('-') && value !== '-') {
      throw new ConfigError(`${name} needs a value: ${def.arg}, but the next argument is ${value}; to give a value that starts with "-", write ${def.flag}=${value}${USAGE_HINT}`);
    }
    if (def.repeatable) flags.set(id, [...((flags.get(id) as string[] | undefined) ?? []), value]);
    else flags.set(id, value);
  }
  return { flags, positional };
}

/** Where values come from: the command line, then the config file. */
export interface Layers {
  flags: Flags;
  file: Record<string, unknown>;
  /** The config file's path, for messages. */
  fileName?: string;
}

export interface Given {
  v: unknown;
  origin: Origin;
  /** Given on the command line (which overrides the config file). */
  cli: boolean;
}

export const fileOrigin = (layers: Layers, key: string): Origin => `config file ${layers.fileName}: "${key}"`;

/** The raw value of an option and where it came from, if it was given at all. */
export function given(layers: Layers, o: Option<any>): Given | undefined {
  const id = idOf(o);
  if (layers.flags.has(id)) return { v: layers.flags.get(id), origin: o.flag, cli: true };
  if (o.key && o.key in layers.file) return { v: layers.file[o.key], origin: fileOrigin(layers, o.key), cli: false };
  return undefined;
}

/** The checked value of an option: given, else its default. */
export function valueOf<T>(layers: Layers, o: Option<T>): T | undefined {
  const g = given(layers, o);
  return g ? o.type.parse(g.v, g.origin) : o.default;
}
