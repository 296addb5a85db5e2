// The outputs of a configuration: --output (or "outputs": URLs, or objects with a url and the
// options of the output's kind), each given to its kind; a kind's option given as a flag is for the
// one output of the kinds that take it.

import { ConfigError } from '../errors.js';
import { given, type Layers, type Option } from '../options/engine.js';
import { bad, onlyKeys, type Origin } from '../options/values.js';
import { kindOf, parseOutput, type OutputSpec } from '../sinks/outputs.js';
import { SINK_KINDS, type OutputOption } from '../sinks/index.js';

export const OUTPUT: Option<unknown> = {
  flag: '--output', short: '-o', key: 'outputs', arg: 'URL', repeatable: true, type: { parse: (v) => v, show: () => 'stdout' }, defaultDoc: 'stdout',
  doc: `where records go, repeatable: ${SINK_KINDS.map((k) => k.forms).join(', ')}; see "Outputs"`,
};

/** The options of the output kinds, once each (kinds may share them), in the order declared. */
export function outputOptions(): OutputOption<any>[] {
  const seen = new Set<string>();
  return SINK_KINDS.flatMap((k) => k.options ?? []).filter((o) => !seen.has(o.key) && seen.add(o.key));
}

function fromUrl(text: unknown, origin: Origin): OutputSpec {
  if (typeof text !== 'string') bad(origin, 'an output URL', text);
  try {
    return parseOutput(text);
  } catch (e) {
    throw new ConfigError(`${origin}: ${(e as Error).message}`);
  }
}

function outputOf(v: unknown, origin: Origin): OutputSpec {
  if (typeof v === 'string') return fromUrl(v, origin);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad(origin, 'an output URL or {"url": ...}', v);
  const o = v as Record<string, unknown>;
  onlyKeys(o, origin, ['url', ...outputOptions().map((x) => x.key!)]);
  const out = fromUrl(o.url, `${origin}.url`);
  // A key of another kind is a mistake, never ignored: a shared_key on an http:// output would
  // otherwise look set and do nothing.
  const own = kindOf(out).options ?? [];
  for (const k of Object.keys(o)) {
    if (k === 'url' || own.some((x) => x.key === k)) continue;
    const nouns = [...new Set(SINK_KINDS.filter((x) => x.options?.some((y) => y.key === k)).map((x) => (x.noun ? `${x.noun}s` : `${x.name} outputs`)))];
    throw new ConfigError(`${origin}.${k}: "${k}" is for ${nouns.join(' and ')}, not for ${out.name}${own.length ? `, which takes ${own.map((x) => x.key).join(', ')}` : ', which takes no options'}`);
  }
  for (const opt of own) {
    if (o[opt.key] !== undefined) opt.apply(out, opt.type.parse(o[opt.key], `${origin}.${opt.key}`), false);
  }
  return out;
}

export function resolveOutputs(layers: Layers): OutputSpec[] {
  const o = given(layers, OUTPUT);
  let outputs: OutputSpec[];
  if (!o) outputs = [{ kind: 'stdout', name: 'stdout' }];
  else {
    const list = Array.isArray(o.v) ? o.v : bad(o.origin, 'a list of outputs', o.v);
    if (list.length === 0) bad(o.origin, 'at least one output', o.v);
    outputs = list.map((x: unknown, i: number) => outputOf(x, o.cli ? o.origin : `${o.origin}[${i}]`));
  }
  const names = outputs.map((x) => x.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new ConfigError(`output ${dup} is given twice`);
  for (const opt of outputOptions()) {
    const g = given(layers, opt);
    if (!g) continue;
    const takers = outputs.filter((x) => kindOf(x).options?.some((k) => k.key === opt.key));
    if (takers.length !== 1) {
      const noun = SINK_KINDS.find((k) => k.options?.includes(opt))?.noun ?? 'output';
      throw new ConfigError(`${g.origin} is for the one ${noun}, but there are ${takers.length}: give each output its own "${opt.key}" in the config file ("outputs": [{"url": ..., "${opt.key}": ...}])`);
    }
    const target = takers[0]!;
    const own = kindOf(target).options!.find((k) => k.key === opt.key)!;
    own.apply(target, own.type.parse(g.v, g.origin), true);
  }
  for (const out of outputs) {
    try {
      kindOf(out).check?.(out);
    } catch (e) {
      throw new ConfigError(`output ${out.name}: ${(e as Error).message}`);
    }
  }
  return outputs;
}
