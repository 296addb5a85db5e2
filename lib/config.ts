// Options: one table gives every option's flag, config key, default and one-line doc; --help and
// the README's option table are written from it. Flags and the JSON config file are checked here,
// all of them before any source is read; a bad value is a ConfigError naming the key, what was
// expected and what was given.

import { hostname as osHostname } from 'node:os';
import { ConfigError, SourceError, describeBytes } from './errors.js';
import { parseAddress } from './sources/address.js';
import { sourceKey, type SourceSpec } from './sources/index.js';
import { defaultStatePath, wsgistatDir } from './state.js';
import { join } from 'node:path';
import { readFileBoundedSync } from './read.js';
import { parseHeader, parseOutput, resolveHeaders, type HeaderValue, type OutputSpec, type TlsFiles } from './sinks/outputs.js';
import { parseListen } from './sources/backlog.js';
import type { VarsPolicy } from './sources/types.js';
import { RECORD_TYPES, type RecordType } from './records/types.js';

/** A config file, a CA bundle or a key larger than this is not one: every read is bounded. */
const CONFIG_MAX_BYTES = 1024 * 1024;
const TLS_FILE_MAX_BYTES = 1024 * 1024;

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
  /** What stdout gets: JSON lines, or mackerel-agent plugin metrics. */
  format: 'json' | 'mackerel';
  /** --format mackerel: the first part of every metric name; undefined: the server kind. */
  metricPrefix?: string;
  /** Where records go; stdout unless --output says otherwise. */
  outputs: OutputSpec[];
  /** Time allowed for one HTTP request to a receiver. */
  sendTimeoutMs: number;
  /** One-shot runs: how long to keep retrying a receiver before leaving the rest in the spool. */
  retryForMs: number;
  /** Where each HTTP output keeps what it could not deliver yet (a directory per output). */
  spoolDir: string;
  spoolMaxBytes: number;
}

export const FORMATS = ['json', 'mackerel'] as const;

/** A mackerel metric name part: what mackerel accepts, with dots only between parts. */
const METRIC_PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

type Kind = 'duration' | 'size' | 'records' | 'vars' | 'bool' | 'string' | 'path' | 'list';

export interface OptionDef {
  flag: string;
  short?: string;
  /** Key in the config file; undefined for flags that only make sense on the command line. */
  key?: string;
  kind: Kind;
  arg?: string;
  default: string;
  doc: string;
}

export const OPTIONS: OptionDef[] = [
  { flag: '--config', short: '-c', kind: 'path', arg: 'FILE', default: 'none', doc: 'read options and sources from a JSON file; flags override it' },
  { flag: '--records', short: '-r', key: 'records', kind: 'records', arg: 'LIST', default: 'summary,worker', doc: 'record types to print: summary, worker, core, app, socket, or all' },
  { flag: '--timeout', short: '-t', key: 'timeout', kind: 'duration', arg: 'DURATION', default: '3s', doc: 'time allowed for each source to answer in full (500ms, 3s; a bare number is seconds)' },
  { flag: '--max-bytes', key: 'max_bytes', kind: 'size', arg: 'SIZE', default: '16MiB', doc: 'size cap for one stats document (bytes, or with K/KiB, M/MiB)' },
  { flag: '--vars', key: 'vars', kind: 'vars', arg: 'LIST', default: 'none', doc: 'request variables of busy cores to add to core records as var_NAME (NAME,NAME or all); they can hold secrets' },
  { flag: '--no-error-records', key: 'error_records', kind: 'bool', default: 'error records on', doc: 'do not print a type "error" record for a failed source (stderr still says why)' },
  { flag: '--hostname', key: 'hostname', kind: 'string', arg: 'NAME', default: "this machine's hostname", doc: 'value of the host field' },
  { flag: '--interval', short: '-i', key: 'interval', kind: 'duration', arg: 'DURATION', default: 'none: sample once and exit', doc: 'stay up and sample every DURATION, on the wall clock (10s ticks at :00, :10, ...)' },
  { flag: '--cron', key: 'cron', kind: 'string', arg: 'EXPR', default: 'none', doc: "stay up and sample when a cron expression matches (a leading seconds field is allowed: '*/10 * * * * *')" },
  { flag: '--state-file', key: 'state_file', kind: 'path', arg: 'PATH', default: '~/.local/state/wsgistat/state-<sources>.json', doc: 'where a one-shot run keeps its sample for the next run\'s rates (continuous mode: loaded at start, saved at exit)' },
  { flag: '--no-state', key: 'state', kind: 'bool', default: 'state on', doc: 'keep no state file: one-shot runs print no rates' },
  { flag: '--listen', key: 'listen', kind: 'string', arg: 'HOST:PORT', default: 'none (gunicorn with the wsgistat hooks: found from its master)', doc: "read the accept backlog of this TCP listener from /proc/net/tcp; none: do not look for one (one source only; per source: \"listen\" in the config file)" },
  { flag: '--max-gap', key: 'max_gap', kind: 'duration', arg: 'DURATION', default: '10m', doc: 'a previous sample older than this gives no rates' },
  { flag: '--output', short: '-o', key: 'outputs', kind: 'list', arg: 'URL', default: 'stdout', doc: 'where records go, repeatable: stdout, http(s)://host:port/tag (Fluentd in_http), norikra://host:port/target (norikra+https:// for TLS); see "Outputs"' },
  { flag: '--header', key: 'headers', kind: 'list', arg: 'NAME=VALUE', default: 'none', doc: 'an HTTP header for the one HTTP output, repeatable; VALUE may be env:VARIABLE or file:PATH, and is never printed or logged (several outputs: per output in the config file)' },
  { flag: '--ca-file', key: 'ca_file', kind: 'path', arg: 'PATH', default: "the system's CAs", doc: 'https outputs: trust the receiver\'s certificate by this CA (PEM)' },
  { flag: '--cert-file', key: 'cert_file', kind: 'path', arg: 'PATH', default: 'none', doc: 'https outputs: client certificate (PEM), with --key-file' },
  { flag: '--key-file', key: 'key_file', kind: 'path', arg: 'PATH', default: 'none', doc: 'https outputs: key of the client certificate (PEM)' },
  { flag: '--send-timeout', key: 'send_timeout', kind: 'duration', arg: 'DURATION', default: '5s', doc: 'time allowed for one request to a receiver; then it counts as failed and is retried' },
  { flag: '--retry-for', key: 'retry_for', kind: 'duration', arg: 'DURATION', default: '5s', doc: 'one-shot runs: how long to keep retrying a receiver that fails before leaving the records in the spool for the next run' },
  { flag: '--spool-dir', key: 'spool_dir', kind: 'path', arg: 'PATH', default: '~/.local/state/wsgistat/spool', doc: 'where records wait while a receiver is away (a directory per output, owner-only)' },
  { flag: '--spool-max', key: 'spool_max', kind: 'size', arg: 'SIZE', default: '64MiB', doc: 'spool size per output; when full, the oldest records are dropped, with an error' },
  { flag: '--format', short: '-f', key: 'format', kind: 'string', arg: 'FORMAT', default: 'json', doc: 'json: one JSON record per line; mackerel: a mackerel-agent plugin\'s `name<TAB>value<TAB>epoch` lines for each server (one-shot runs only; see "mackerel-agent")' },
  { flag: '--metric-prefix', key: 'metric_prefix', kind: 'string', arg: 'PREFIX', default: 'uwsgi or gunicorn, by server', doc: '--format mackerel: first part of every metric name (letters, digits, _ -, dots between parts)' },
  { flag: '--check', kind: 'bool', default: 'off', doc: 'check the options and addresses, print the resolved configuration as JSON, read nothing' },
  { flag: '--help', short: '-h', kind: 'bool', default: '', doc: 'show this help' },
  { flag: '--version', short: '-V', kind: 'bool', default: '', doc: 'print the version' },
];

/** Where a value came from, for messages: `--timeout` or `wsgistat.json: "timeout"`. */
type Origin = string;

function bad(origin: Origin, expected: string, got: unknown): never {
  throw new ConfigError(`${origin}: expected ${expected}, got ${JSON.stringify(got)}`);
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

/** "a,b" or ["a","b"] to a list of non-empty names. */
function names(v: unknown, origin: Origin, expected: string): string[] {
  const parts = typeof v === 'string' ? v.split(',') : Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : bad(origin, expected, v);
  const out = parts.map((p: string) => p.trim()).filter((p: string) => p !== '');
  if (out.length === 0) bad(origin, expected, v);
  return out;
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

const LABEL = /^([A-Za-z][A-Za-z0-9_.-]*)=(.+)$/;

/** "address" or "label=address" (a label starts with a letter; letters, digits, _ . - follow). */
function sourceFromString(text: string, origin: Origin, timeoutMs: number, maxBytes: number): SourceSpec {
  const m = LABEL.exec(text);
  try {
    const address = parseAddress(m ? m[2]! : text);
    return { address, timeoutMs, maxBytes, ...(m ? { label: m[1]! } : {}) };
  } catch (e) {
    throw new ConfigError(`${origin}: ${(e as Error).message}`);
  }
}

const SOURCE_KEYS = ['address', 'label', 'timeout', 'max_bytes', 'listen'];

function listenOf(v: unknown, origin: Origin): { host: string; port: number } | 'none' {
  if (v === 'none') return 'none';
  const l = typeof v === 'string' ? parseListen(v) : undefined;
  return l ?? bad(origin, 'a TCP listener as HOST:PORT, such as "127.0.0.1:8000", or "none"', v);
}

function sourceFromObject(o: Record<string, unknown>, origin: Origin, timeoutMs: number, maxBytes: number): SourceSpec {
  for (const k of Object.keys(o)) if (!SOURCE_KEYS.includes(k)) unknownKey(`${origin}.${k}`, k, SOURCE_KEYS);
  if (typeof o.address !== 'string') bad(`${origin}.address`, 'an address string', o.address);
  if (o.label !== undefined && (typeof o.label !== 'string' || !/^[A-Za-z][A-Za-z0-9_.-]*$/.test(o.label))) {
    bad(`${origin}.label`, 'a label: a letter, then letters, digits, _ . -', o.label);
  }
  const spec = sourceFromString(o.address, `${origin}.address`,
    o.timeout === undefined ? timeoutMs : parseDuration(o.timeout, `${origin}.timeout`),
    o.max_bytes === undefined ? maxBytes : parseSize(o.max_bytes, `${origin}.max_bytes`));
  if (o.listen !== undefined) spec.listen = listenOf(o.listen, `${origin}.listen`);
  return o.label === undefined ? spec : { ...spec, label: o.label as string };
}

function editDistance(a: string, b: string): number {
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

function unknownKey(origin: Origin, key: string, known: string[]): never {
  const near = known.find((k) => editDistance(k, key) <= 2);
  throw new ConfigError(`${origin}: unknown key "${key}"${near ? ` (did you mean "${near}"?)` : ''}; known keys: ${known.join(', ')}`);
}

const FILE_KEYS = ['sources', ...OPTIONS.flatMap((o) => (o.key ? [o.key] : []))];

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileBoundedSync(path, `config file ${path}`, { maxBytes: CONFIG_MAX_BYTES }).toString('utf8');
  } catch (e) {
    throw new ConfigError(e instanceof SourceError && e.code === 'not_found' ? `config file ${path}: no such file` : (e as Error).message);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    // V8's message quotes the text around the error; a config file may hold secrets, so only the
    // position is named.
    const at = /position (\d+)/.exec((e as Error).message)?.[1];
    throw new ConfigError(`config file ${path}: not valid JSON${at ? ` at character ${at}` : ''} (${describeBytes(Buffer.from(text))})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad(`config file ${path}`, 'a JSON object', value);
  const obj = value as Record<string, unknown>;
  for (const k of Object.keys(obj)) if (!FILE_KEYS.includes(k)) unknownKey(`config file ${path}`, k, FILE_KEYS);
  return obj;
}

export interface Argv {
  /** Flag values by config key (or by flag name for CLI-only flags); repeatable flags: a list. */
  flags: Map<string, string | boolean | string[]>;
  positional: string[];
}

const USAGE_HINT = ' (see wsgistat --help)';

/** Splits argv into flags and positional source addresses. */
export function parseArgv(argv: string[]): Argv {
  const flags = new Map<string, string | boolean | string[]>();
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
    // --name=value, and -x=value for a short option (as --x=value would be).
    const eq = a.startsWith('--') ? a.indexOf('=') : a[2] === '=' ? 2 : -1;
    const name = eq === -1 ? a : a.slice(0, eq);
    const def = OPTIONS.find((o) => o.flag === name || o.short === name);
    if (!def) {
      const near = OPTIONS.find((o) => editDistance(o.flag, name) <= 2);
      throw new ConfigError(`unknown option ${name}${near ? ` (did you mean ${near.flag}?)` : ''}${USAGE_HINT}`);
    }
    const id = def.key ?? def.flag;
    if (def.kind === 'bool') {
      if (eq !== -1) throw new ConfigError(`${def.flag} takes no value${USAGE_HINT}`);
      flags.set(id, def.flag.startsWith('--no-') ? false : true);
      continue;
    }
    const value = eq !== -1 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new ConfigError(`${def.flag} needs a value: ${def.arg}${USAGE_HINT}`);
    // `--state-file --no-state` is a missing value, not a file named --no-state (as util.parseArgs
    // in strict mode has it); a value that does start with a dash is given as --flag=value.
    if (eq === -1 && value.startsWith('-') && value !== '-') {
      throw new ConfigError(`${name} needs a value: ${def.arg}, but the next argument is ${value}; to give a value that starts with "-", write ${def.flag}=${value}${USAGE_HINT}`);
    }
    if (def.kind === 'list') flags.set(id, [...((flags.get(id) as string[] | undefined) ?? []), value]);
    else flags.set(id, value);
  }
  return { flags, positional };
}

/** Resolves flags over the config file over the defaults, checking every value. */
export function resolveConfig(args: Argv): Config {
  const configPath = args.flags.get('--config');
  const file = typeof configPath === 'string' ? readConfigFile(configPath) : {};
  const fileOrigin = (key: string) => `config file ${configPath}: "${key}"`;
  const pick = (key: string, flag: string) =>
    args.flags.has(key) ? { v: args.flags.get(key), origin: flag } : key in file ? { v: file[key], origin: fileOrigin(key) } : undefined;

  const t = pick('timeout', '--timeout');
  const timeoutMs = t ? parseDuration(t.v, t.origin) : 3000;
  const mb = pick('max_bytes', '--max-bytes');
  const maxBytes = mb ? parseSize(mb.v, mb.origin) : 16 * 1024 * 1024;
  const r = pick('records', '--records');
  const vars = pick('vars', '--vars');
  const er = pick('error_records', '--no-error-records');
  if (er && typeof er.v !== 'boolean') bad(er.origin, 'true or false', er.v);
  const h = pick('hostname', '--hostname');
  if (h && (typeof h.v !== 'string' || h.v === '')) bad(h.origin, 'a host name', h.v);

  let sources: SourceSpec[];
  if (args.positional.length > 0) {
    sources = args.positional.map((s, i) => sourceFromString(s, `source ${i + 1}`, timeoutMs, maxBytes));
  } else if (file.sources !== undefined) {
    if (!Array.isArray(file.sources)) bad(fileOrigin('sources'), 'a list of addresses or {"address": ..., "label": ...} objects', file.sources);
    sources = file.sources.map((s: unknown, i: number) => {
      const origin = `${fileOrigin('sources')}[${i}]`;
      if (typeof s === 'string') return sourceFromString(s, origin, timeoutMs, maxBytes);
      if (typeof s === 'object' && s !== null && !Array.isArray(s)) return sourceFromObject(s as Record<string, unknown>, origin, timeoutMs, maxBytes);
      return bad(origin, 'an address string or an object with "address"', s);
    });
  } else {
    sources = [];
  }
  const iv = pick('interval', '--interval');
  const cr = pick('cron', '--cron');
  if (cr && (typeof cr.v !== 'string' || cr.v.trim() === '')) bad(cr.origin, 'a cron expression such as "*/10 * * * * *"', cr.v);
  if (iv && cr) throw new ConfigError(`${iv.origin} and ${cr.origin} both set the schedule; give one`);
  let sf = pick('state_file', '--state-file');
  if (sf && (typeof sf.v !== 'string' || sf.v === '')) bad(sf.origin, 'a file path', sf.v);
  let st = pick('state', '--no-state');
  if (st && typeof st.v !== 'boolean') bad(st.origin, 'true or false', st.v);
  if (sf && st?.v === false) {
    // Both on the command line, or both in the config file: a contradiction. Otherwise the
    // command line's one overrides the file's.
    const fromCli = (o: Origin) => o.startsWith('--');
    if (fromCli(sf.origin) === fromCli(st.origin)) throw new ConfigError(`${sf.origin} and ${st.origin} contradict each other: one names a state file, the other turns it off; give one`);
    if (fromCli(st.origin)) sf = undefined;
    else st = undefined;
  }
  const mg = pick('max_gap', '--max-gap');

  const li = pick('listen', '--listen');
  if (li) {
    if (sources.length !== 1) throw new ConfigError(`${li.origin} names one listener, but there are ${sources.length} sources: give each its own "listen" in the config file`);
    sources[0]!.listen = listenOf(li.v, li.origin);
  }

  const fo = pick('format', '--format');
  if (fo && !(FORMATS as readonly unknown[]).includes(fo.v)) bad(fo.origin, `one of ${FORMATS.join(', ')}`, fo.v);
  const format = (fo?.v ?? 'json') as Config['format'];
  const mp = pick('metric_prefix', '--metric-prefix');
  if (mp && (typeof mp.v !== 'string' || !METRIC_PREFIX.test(mp.v))) bad(mp.origin, 'a metric name prefix such as "uwsgi" or "web.uWSGI": letters, digits, _ and -, with dots between parts', mp.v);
  if (mp && format !== 'mackerel') throw new ConfigError(`${mp.origin} only applies to --format mackerel`);
  if (format === 'mackerel' && (iv || cr)) {
    throw new ConfigError(`--format mackerel is for one-shot runs, which mackerel-agent starts every minute; drop ${(iv ?? cr)!.origin}`);
  }

  const outputs = resolveOutputs(pick);
  if (format === 'mackerel' && outputs.some((o) => o.kind !== 'stdout')) {
    throw new ConfigError('--format mackerel writes to stdout for mackerel-agent; drop --output');
  }
  const st2 = pick('send_timeout', '--send-timeout');
  const rf = pick('retry_for', '--retry-for');
  const sd = pick('spool_dir', '--spool-dir');
  if (sd && (typeof sd.v !== 'string' || sd.v === '')) bad(sd.origin, 'a directory path', sd.v);
  const sm = pick('spool_max', '--spool-max');

  sources.forEach((s, i) => {
    const same = sources.findIndex((o) => sameServer(o, s));
    if (same < i) throw new ConfigError(`source ${i + 1} (${s.address.text}) and source ${same + 1} (${sources[same]!.address.text}) are the same server; give it once`);
  });
  const labels = sources.flatMap((s) => (s.label ? [s.label] : []));
  const dup = labels.find((l, i) => labels.indexOf(l) !== i);
  if (dup) throw new ConfigError(`label "${dup}" is given to more than one source`);

  return {
    sources,
    records: r ? parseRecords(r.v, r.origin) : new Set<RecordType>(['summary', 'worker']),
    vars: vars ? parseVars(vars.v, vars.origin) : { kind: 'none' },
    errorRecords: er ? (er.v as boolean) : true,
    hostname: h ? (h.v as string) : osHostname(),
    intervalMs: iv ? parseDuration(iv.v, iv.origin) : undefined,
    cron: cr ? (cr.v as string).trim() : undefined,
    // A mackerel job keeps its own default state file: sharing one with a JSON job on the same
    // sources would make each one's rates cover only the time since the other's run.
    stateFile: st?.v === false ? undefined : sf ? (sf.v as string) : defaultStatePath(sources.map(sourceKey), format === 'json' ? undefined : format),
    stateFileGiven: sf !== undefined && st?.v !== false,
    maxGapMs: mg ? parseDuration(mg.v, mg.origin) : 10 * 60 * 1000,
    check: args.flags.get('--check') === true,
    format,
    ...(mp ? { metricPrefix: mp.v as string } : {}),
    outputs,
    sendTimeoutMs: st2 ? parseDuration(st2.v, st2.origin) : 5000,
    retryForMs: rf ? parseDuration(rf.v, rf.origin) : 5000,
    spoolDir: sd ? (sd.v as string) : join(wsgistatDir(), 'spool'),
    spoolMaxBytes: sm ? parseSize(sm.v, sm.origin) : 64 * 1024 * 1024,
  };
}

type Picker = (key: string, flag: string) => { v: unknown; origin: Origin } | undefined;

/** Two addresses that read the same thing: the same endpoint, the same way. */
function sameServer(a: SourceSpec, b: SourceSpec): boolean {
  const k = (s: SourceSpec) => JSON.stringify([s.address.endpoint, s.address.mode, s.address.httpPath]);
  return k(a) === k(b);
}

const OUTPUT_KEYS = ['url', 'headers', 'ca_file', 'cert_file', 'key_file'];

function headersOf(v: unknown, origin: Origin): Record<string, HeaderValue> {
  const entries: string[] = Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x : bad(origin, 'NAME=VALUE strings', x)))
    : typeof v === 'object' && v !== null ? Object.entries(v).map(([k, x]) => (typeof x === 'string' ? `${k}=${x}` : bad(`${origin}.${k}`, 'a string: a value, env:VARIABLE or file:PATH', x)))
      : bad(origin, 'headers as {"NAME": "VALUE"} (VALUE may be env:VARIABLE or file:PATH)', v);
  const out: Record<string, HeaderValue> = {};
  for (const e of entries) {
    try {
      const [name, value] = parseHeader(e);
      out[name] = value;
    } catch (err) {
      throw new ConfigError(`${origin}: ${(err as Error).message}`);
    }
  }
  return out;
}

function outputOf(v: unknown, origin: Origin): OutputSpec {
  const fromUrl = (text: unknown, o: Origin) => {
    if (typeof text !== 'string') bad(o, 'an output URL', text);
    try {
      return parseOutput(text);
    } catch (e) {
      throw new ConfigError(`${o}: ${(e as Error).message}`);
    }
  };
  if (typeof v === 'string') return fromUrl(v, origin);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad(origin, 'an output URL or {"url": ...}', v);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!OUTPUT_KEYS.includes(k)) unknownKey(`${origin}.${k}`, k, OUTPUT_KEYS);
  const out = fromUrl(o.url, `${origin}.url`);
  if (out.kind === 'stdout') return out;
  if (o.headers !== undefined) out.headers = headersOf(o.headers, `${origin}.headers`);
  for (const [key, field] of [['ca_file', 'ca'], ['cert_file', 'cert'], ['key_file', 'key']] as const) {
    if (o[key] === undefined) continue;
    if (typeof o[key] !== 'string' || o[key] === '') bad(`${origin}.${key}`, 'a file path', o[key]);
    out.tls[field] = o[key] as string;
  }
  return out;
}

/** --output (or "outputs"), with the header and TLS flags given to the one HTTP output. */
function resolveOutputs(pick: Picker): OutputSpec[] {
  const o = pick('outputs', '--output');
  let outputs: OutputSpec[];
  if (!o) outputs = [{ kind: 'stdout', name: 'stdout' }];
  else {
    const list = Array.isArray(o.v) ? o.v : o.origin === '--output' ? [o.v] : bad(o.origin, 'a list of outputs', o.v);
    if (list.length === 0) bad(o.origin, 'at least one output', o.v);
    outputs = list.map((x: unknown, i: number) => outputOf(x, o.origin === '--output' ? '--output' : `${o.origin}[${i}]`));
  }
  const names = outputs.map((x) => x.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new ConfigError(`output ${dup} is given twice`);
  const http = outputs.filter((x): x is Exclude<OutputSpec, { kind: 'stdout' }> => x.kind !== 'stdout');
  const shared: [string, string][] = [['headers', '--header'], ['ca_file', '--ca-file'], ['cert_file', '--cert-file'], ['key_file', '--key-file']];
  for (const [key, flag] of shared) {
    const given = pick(key, flag);
    if (!given) continue;
    if (http.length !== 1) {
      throw new ConfigError(`${given.origin} is for the one HTTP output, but there are ${http.length}: give each output its own "${key}" in the config file ("outputs": [{"url": ..., "${key}": ...}])`);
    }
    const target = http[0]!;
    if (key === 'headers') target.headers = { ...headersOf(given.v, given.origin), ...target.headers };
    else {
      if (typeof given.v !== 'string' || given.v === '') bad(given.origin, 'a file path', given.v);
      const field = ({ ca_file: 'ca', cert_file: 'cert', key_file: 'key' } as const)[key as 'ca_file'];
      target.tls[field] ??= given.v as string;
    }
  }
  for (const h of http) {
    if (Boolean(h.tls.cert) !== Boolean(h.tls.key)) throw new ConfigError(`output ${h.name}: a client certificate needs both --cert-file and --key-file`);
    if ((h.tls.ca || h.tls.cert) && !h.origin.startsWith('https:')) throw new ConfigError(`output ${h.name}: --ca-file, --cert-file and --key-file are for https outputs`);
    try {
      resolveHeaders(h.headers); // a missing variable or file is found now, not at the first send
    } catch (e) {
      throw new ConfigError(`output ${h.name}: ${(e as Error).message}`);
    }
    for (const [what, path] of Object.entries(h.tls) as [keyof TlsFiles, string | undefined][]) {
      if (path === undefined) continue;
      try {
        readFileBoundedSync(path, path, { maxBytes: TLS_FILE_MAX_BYTES });
      } catch (e) {
        const why = e instanceof SourceError ? e.code : (e as NodeJS.ErrnoException).code ?? (e as Error).message;
        throw new ConfigError(`output ${h.name}: cannot read the ${what === 'ca' ? 'CA file' : what === 'cert' ? 'client certificate' : 'client key'} ${path} (${why})`);
      }
    }
  }
  return outputs;
}
