// The configuration: wsgistat's own options, and those the source kinds, output kinds, delivery
// and formats declare, checked by the generic engine (options/engine.ts) from flags over the JSON
// config file over the defaults, all of them before any source is read. A bad value is a
// ConfigError naming the key, what was expected and what was given; options that contradict each
// other are an error naming both.

import { hostname as osHostname } from 'node:os';
import { ConfigError } from './errors.js';
import { given, optionDoc, parseArgv as splitArgv, valueOf, type Argv, type Layers, type Option } from './options/engine.js';
import { bad, bool, duration, names, text, type Origin, type ValueType } from './options/values.js';
import { readConfigFile } from './config/file.js';
import { resolveSources } from './config/sources.js';
import { OUTPUT, outputOptions, resolveOutputs } from './config/outputs.js';
import { LISTEN, MAX_BYTES, TIMEOUT, type SourceSpec } from './sources/index.js';
import type { VarsPolicy } from './sources/types.js';
import { RECORD_TYPES, type RecordType } from './records/types.js';
import { defaultStatePath } from './state.js';
import { hasControllingTerminal } from './proc.js';
import { sourceKey } from './sources/index.js';
import type { DeliverySettings, OutputSpec } from './sinks/types.js';
import { DELIVERY_OPTIONS, deliverySettings } from './sinks/settings.js';
import { FORMATS, type Format } from './sinks/formats.js';
import { kindOf } from './sinks/outputs.js';

export { parseDuration, parseSize } from './options/values.js';
export type { Argv } from './options/engine.js';

export interface Config {
  sources: SourceSpec[];
  records: Set<RecordType>;
  vars: VarsPolicy;
  errorRecords: boolean;
  hostname: string;
  /** Continuous mode: a tick every this many ms, on the wall clock; undefined with --cron or one-shot. */
  intervalMs?: number;
  /** Continuous mode on a cron expression. */
  cron?: string;
  /** Where one-shot runs keep the previous sample; undefined with --no-state. */
  stateFile?: string;
  /** Whether stateFile was given rather than defaulted (continuous mode only uses a given one). */
  stateFileGiven: boolean;
  /** A previous sample older than this gives no rates. */
  maxGapMs: number;
  /** Validate and print the resolved configuration; read no source. */
  check: boolean;
  /** What stdout gets (sinks/formats.ts). */
  format: Format['name'];
  /** The format's own options, by key (mackerel: metric_prefix). */
  formatOptions: Record<string, unknown>;
  /** Where records go; stdout unless --output says otherwise. */
  outputs: OutputSpec[];
  delivery: DeliverySettings;
}

export function parseRecords(v: unknown, origin: Origin): Set<RecordType> {
  const expected = `a list of record types (${RECORD_TYPES.join(', ')}, all)`;
  const set = new Set<RecordType>();
  for (const n of names(v, origin, expected)) {
    if (n === 'all') RECORD_TYPES.forEach((t) => set.add(t));
    else if ((RECORD_TYPES as readonly string[]).includes(n)) set.add(n as RecordType);
    else bad(origin, expected, n);
  }
  return set;
}

export function parseVars(v: unknown, origin: Origin): VarsPolicy {
  const list = names(v, origin, 'a list of request variable names (REQUEST_METHOD,PATH_INFO), "all" or "none"');
  if (list.length === 1 && list[0] === 'none') return { kind: 'none' };
  if (list.length === 1 && list[0] === 'all') return { kind: 'all' };
  for (const n of list) if (!/^[A-Za-z0-9_.-]+$/.test(n)) bad(origin, 'request variable names such as PATH_INFO', n);
  return { kind: 'some', names: new Set(list) };
}

const recordsType: ValueType<Set<RecordType>> = { parse: parseRecords, show: (v) => [...v].join(',') };
const varsType: ValueType<VarsPolicy> = { parse: parseVars, show: (v) => (v.kind === 'some' ? [...v.names].join(',') : v.kind) };
const path = text('a file path');

const CONFIG: Option<string> = { flag: '--config', short: '-c', arg: 'FILE', type: path, defaultDoc: 'none', doc: 'read options and sources from a JSON file; flags override it' };
const RECORDS: Option<Set<RecordType>> = { flag: '--records', short: '-r', key: 'records', arg: 'LIST', type: recordsType, default: new Set(['summary', 'worker']), doc: `record types to print: ${RECORD_TYPES.join(', ')}, or all` };
const VARS: Option<VarsPolicy> = { flag: '--vars', key: 'vars', arg: 'LIST', type: varsType, default: { kind: 'none' }, doc: 'request variables of busy cores to add to core records as var_NAME (NAME,NAME or all); they can hold secrets' };
const ERROR_RECORDS: Option<boolean> = { flag: '--no-error-records', key: 'error_records', type: bool, default: true, defaultDoc: 'error records on', doc: 'do not print a type "error" record for a failed source (stderr still says why)' };
const HOSTNAME: Option<string> = { flag: '--hostname', key: 'hostname', arg: 'NAME', type: text('a host name'), defaultDoc: "this machine's hostname", doc: 'value of the host field' };
const INTERVAL: Option<number> = { flag: '--interval', short: '-i', key: 'interval', arg: 'DURATION', type: duration, defaultDoc: 'none: sample once and exit', doc: 'stay up and sample every DURATION, on the wall clock (10s ticks at :00, :10, ...)' };
const CRON: Option<string> = { flag: '--cron', key: 'cron', arg: 'EXPR', type: text('a cron expression such as "*/10 * * * * *"'), defaultDoc: 'none', doc: "stay up and sample when a cron expression matches (a leading seconds field is allowed: '*/10 * * * * *')" };
const STATE_FILE: Option<string> = { flag: '--state-file', key: 'state_file', arg: 'PATH', type: path, defaultDoc: '~/.local/state/wsgistat/state-<sources>.json', doc: 'where a one-shot run keeps its sample for the next run\'s rates (continuous mode: loaded at start, saved at exit)' };
const STATE: Option<boolean> = { flag: '--no-state', key: 'state', type: bool, default: true, defaultDoc: 'state on', doc: 'keep no state file: one-shot runs print no rates' };
const MAX_GAP: Option<number> = { flag: '--max-gap', key: 'max_gap', arg: 'DURATION', type: duration, default: 10 * 60 * 1000, doc: 'a previous sample older than this gives no rates' };
const FORMAT: Option<string> = {
  flag: '--format', short: '-f', key: 'format', arg: 'FORMAT', type: { parse: (v, o) => (FORMATS.some((f) => f.name === v) ? (v as string) : bad(o, `one of ${FORMATS.map((f) => f.name).join(', ')}`, v)), show: (v) => v },
  default: 'json', doc: FORMATS.map((f) => `${f.name}: ${f.doc}`).join('; '),
};
const CHECK: Option<boolean> = { flag: '--check', type: bool, defaultDoc: 'off', doc: 'check the options and addresses, print the resolved configuration as JSON, read nothing' };
const HELP: Option<boolean> = { flag: '--help', short: '-h', type: bool, defaultDoc: '', doc: 'show this help' };
const VERSION: Option<boolean> = { flag: '--version', short: '-V', type: bool, defaultDoc: '', doc: 'print the version' };

/** Every option, in the order --help and the README list them. */
export const ALL_OPTIONS: readonly Option<any>[] = [
  CONFIG, RECORDS, TIMEOUT, MAX_BYTES, VARS, ERROR_RECORDS, HOSTNAME, INTERVAL, CRON, STATE_FILE, STATE, LISTEN, MAX_GAP,
  OUTPUT, ...outputOptions(), ...DELIVERY_OPTIONS, FORMAT, ...FORMATS.flatMap((f) => f.options ?? []), CHECK, HELP, VERSION,
];

/** The options as --help and the README show them. */
export const OPTIONS = ALL_OPTIONS.map(optionDoc);

const FILE_KEYS = ['sources', ...ALL_OPTIONS.flatMap((o) => (o.key ? [o.key] : []))];

/** Splits argv into flags and positional source addresses. */
export const parseArgv = (argv: string[]): Argv => splitArgv(argv, ALL_OPTIONS);

/** The state file: given, turned off, or the default for these sources and this format. Both
 *  given in one place is a contradiction; otherwise the command line's overrides the file's. */
function stateOf(layers: Layers, sources: SourceSpec[], format: Format): { stateFile?: string; stateFileGiven: boolean } {
  let sf = given(layers, STATE_FILE);
  let st = given(layers, STATE);
  const off = st ? STATE.type.parse(st.v, st.origin) === false : false;
  if (sf) path.parse(sf.v, sf.origin);
  if (sf && off) {
    if (sf.cli === st!.cli) throw new ConfigError(`${sf.origin} and ${st!.origin} contradict each other: one names a state file, the other turns it off; give one`);
    if (st!.cli) sf = undefined;
    else st = undefined;
  }
  if (st && off) return { stateFile: undefined, stateFileGiven: false };
  if (sf) return { stateFile: sf.v as string, stateFileGiven: true };
  // A person running wsgistat by hand gets a default state file apart from the scheduled job's, so
  // that a manual run never takes the deltas the job's next sample is due.
  const job = [format.stateName, hasControllingTerminal() ? 'terminal' : undefined].filter(Boolean).join('#');
  return { stateFile: defaultStatePath(sources.map(sourceKey), job || undefined), stateFileGiven: false };
}

/** The format, its options, and what it rules out. */
function formatOf(layers: Layers, schedule: { origin: Origin } | undefined, outputs: OutputSpec[]): { format: Format; own: Record<string, unknown> } {
  const format = FORMATS.find((f) => f.name === valueOf(layers, FORMAT))!;
  const own: Record<string, unknown> = {};
  for (const f of FORMATS) {
    for (const o of f.options ?? []) {
      const g = given(layers, o);
      if (!g) continue;
      const v = o.type.parse(g.v, g.origin);
      if (f !== format) throw new ConfigError(`${g.origin} only applies to --format ${f.name}`);
      own[o.key!] = v;
    }
  }
  if (format.oneShotOnly && schedule) throw new ConfigError(`--format ${format.name} ${format.oneShotOnly}; drop ${schedule.origin}`);
  if (format.stdoutOnly && outputs.some((o) => o.kind !== 'stdout')) throw new ConfigError(`--format ${format.name} ${format.stdoutOnly}; drop --output`);
  return { format, own };
}

/** Resolves flags over the config file over the defaults, checking every value. */
export function resolveConfig(args: Argv): Config {
  const configPath = args.flags.get(CONFIG.flag);
  const layers: Layers = {
    flags: args.flags,
    file: typeof configPath === 'string' ? readConfigFile(configPath, FILE_KEYS) : {},
    ...(typeof configPath === 'string' ? { fileName: configPath } : {}),
  };
  const value = <T>(o: Option<T>): T | undefined => valueOf(layers, o);
  const records = value(RECORDS)!;
  const vars = value(VARS)!;
  const errorRecords = value(ERROR_RECORDS)!;
  const hostname = value(HOSTNAME) ?? osHostname();
  const sources = resolveSources(layers, args.positional);
  const iv = given(layers, INTERVAL);
  const cr = given(layers, CRON);
  const intervalMs = value(INTERVAL);
  const cron = value(CRON)?.trim();
  if (iv && cr) throw new ConfigError(`${iv.origin} and ${cr.origin} both set the schedule; give one`);
  const maxGapMs = value(MAX_GAP)!;
  const outputs = resolveOutputs(layers);
  const { format, own } = formatOf(layers, iv ?? cr, outputs);
  const needsSchedule = outputs.find((o) => kindOf(o).continuousOnly);
  if (needsSchedule && !iv && !cr) throw new ConfigError(`output ${needsSchedule.name} ${kindOf(needsSchedule).continuousOnly}`);
  const delivery = deliverySettings(value);
  return {
    sources,
    records,
    vars,
    errorRecords,
    hostname,
    intervalMs,
    cron,
    ...stateOf(layers, sources, format),
    maxGapMs,
    check: args.flags.get(CHECK.flag) === true,
    format: format.name,
    formatOptions: own,
    outputs,
    delivery,
  };
}

/** Whether any output delivers to a receiver (and so the delivery settings apply). */
export const delivers = (config: Config): boolean => config.outputs.some((o) => kindOf(o).delivers);
