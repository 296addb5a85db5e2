// The sources of a configuration: positional addresses, or the config file's "sources" (strings,
// or objects with an address and per-source options), each given to its kind. The options every
// source has (sources/options.ts) and a kind's own options come from the same declarations.

import { ConfigError } from '../errors.js';
import { fileOrigin, given, type Layers } from '../options/engine.js';
import { bad, onlyKeys, type Origin } from '../options/values.js';
import { parseAddress, SOURCE_KINDS, SOURCE_OPTIONS, type SourceSpec } from '../sources/index.js';

const LABEL_TEXT = /^([A-Za-z][A-Za-z0-9_.-]*)=(.+)$/;
const LABEL = /^[A-Za-z][A-Za-z0-9_.-]*$/;

/** The values every source starts from: the flags and top-level keys of the `each` options. */
type Defaults = Record<string, unknown>;

/** "address" or "label=address" (a label starts with a letter; letters, digits, _ . - follow). */
function fromString(text: string, origin: Origin, defaults: Defaults): SourceSpec {
  const m = LABEL_TEXT.exec(text);
  try {
    const address = parseAddress(m ? m[2]! : text);
    return { address, timeoutMs: defaults.timeout as number, maxBytes: defaults.max_bytes as number, ...(m ? { label: m[1]! } : {}) };
  } catch (e) {
    throw new ConfigError(`${origin}: ${(e as Error).message}`);
  }
}

const field: Record<string, keyof SourceSpec> = { timeout: 'timeoutMs', max_bytes: 'maxBytes', listen: 'listen' };

function fromObject(o: Record<string, unknown>, origin: Origin, defaults: Defaults): SourceSpec {
  if (typeof o.address !== 'string') {
    onlyKeys(o, origin, ['address', 'label', ...SOURCE_OPTIONS.map((x) => x.key)]);
    bad(`${origin}.address`, 'an address string', o.address);
  }
  const spec = fromString(o.address, `${origin}.address`, defaults);
  const own = SOURCE_KINDS.find((k) => k.name === spec.address.kind)?.options ?? [];
  onlyKeys(o, origin, ['address', 'label', ...SOURCE_OPTIONS.map((x) => x.key), ...own.map((x) => x.key)]);
  if (o.label !== undefined) {
    if (typeof o.label !== 'string' || !LABEL.test(o.label)) bad(`${origin}.label`, 'a label: a letter, then letters, digits, _ . -', o.label);
    spec.label = o.label;
  }
  for (const opt of SOURCE_OPTIONS) {
    if (o[opt.key] !== undefined) (spec as unknown as Record<string, unknown>)[field[opt.key]!] = opt.type.parse(o[opt.key], `${origin}.${opt.key}`);
  }
  const mine = own.filter((x) => o[x.key] !== undefined);
  if (mine.length) spec.own = Object.fromEntries(mine.map((x) => [x.key, x.type.parse(o[x.key], `${origin}.${x.key}`)]));
  return spec;
}

function entries(layers: Layers, positional: string[], defaults: Defaults): SourceSpec[] {
  if (positional.length > 0) return positional.map((s, i) => fromString(s, `source ${i + 1}`, defaults));
  const list = layers.file.sources;
  if (list === undefined) return [];
  const origin = fileOrigin(layers, 'sources');
  if (!Array.isArray(list)) bad(origin, 'a list of addresses or {"address": ..., "label": ...} objects', list);
  return list.map((s: unknown, i: number) => {
    if (typeof s === 'string') return fromString(s, `${origin}[${i}]`, defaults);
    if (typeof s === 'object' && s !== null && !Array.isArray(s)) return fromObject(s as Record<string, unknown>, `${origin}[${i}]`, defaults);
    return bad(`${origin}[${i}]`, 'an address string or an object with "address"', s);
  });
}

/** Two addresses that read the same thing: the same endpoint, the same way. */
function sameServer(a: SourceSpec, b: SourceSpec): boolean {
  const k = (s: SourceSpec) => JSON.stringify([s.address.kind, s.address.endpoint, s.address.mode, s.address.httpPath]);
  return k(a) === k(b);
}

export function resolveSources(layers: Layers, positional: string[]): SourceSpec[] {
  const defaults: Defaults = {};
  for (const opt of SOURCE_OPTIONS) {
    if (opt.scope !== 'each') continue;
    const g = given(layers, opt);
    defaults[opt.key] = g ? opt.type.parse(g.v, g.origin) : opt.default;
  }
  const sources = entries(layers, positional, defaults);
  for (const opt of SOURCE_OPTIONS) {
    if (opt.scope !== 'one') continue;
    const g = given(layers, opt);
    if (!g) continue;
    if (sources.length !== 1) throw new ConfigError(`${g.origin} names one listener, but there are ${sources.length} sources: give each its own "${opt.key}" in the config file`);
    (sources[0] as unknown as Record<string, unknown>)[field[opt.key]!] = opt.type.parse(g.v, g.origin);
  }
  sources.forEach((s, i) => {
    const same = sources.findIndex((o) => sameServer(o, s));
    if (same < i) throw new ConfigError(`source ${i + 1} (${s.address.text}) and source ${same + 1} (${sources[same]!.address.text}) are the same server; give it once`);
  });
  const labels = sources.flatMap((s) => (s.label ? [s.label] : []));
  const dup = labels.find((l, i) => labels.indexOf(l) !== i);
  if (dup) throw new ConfigError(`label "${dup}" is given to more than one source`);
  return sources;
}
