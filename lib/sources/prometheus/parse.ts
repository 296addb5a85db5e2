// Pure: the Prometheus text exposition format 0.0.4 and OpenMetrics 1.0 text, to metric families.
//
// One pass over the lines, one pass over each line's characters: linear in the text, whatever it
// holds. The grammar is Prometheus's own (client_golang expfmt) where the formats and parsers agree;
// where they differ, the choices are these, each pinned by a spec:
// - A family may come back later in the text (two exporters concatenated, a textfile directory): its
//   samples are merged into the first one, as Prometheus does, and a sample finds its family by name
//   wherever it stands (so `_sum`/`_count` before the buckets belong to the histogram). A second TYPE
//   with another type, or a TYPE after samples of the name, is an error, not a guess.
// - An escape other than \\ \" \n (\\ \n in 0.0.4 HELP) is kept as written, as prometheus_client
//   does (Go's parser rejects it). Blanks between tokens are allowed in both formats.
// - OpenMetrics: `# EOF` is required (a text without it was cut short) and nothing may follow it;
//   exemplars are read past and dropped; timestamps (seconds) become milliseconds.
// Errors are ParseError only, with the line number; they describe what was wrong and never quote
// a label value or a value (either can be request data, or a secret).

export type MetricType =
  | 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'
  | 'info' | 'stateset' | 'gaugehistogram' | 'unknown';

export interface MetricSample {
  /** The sample's own name: `x_bucket`, `x_sum`, `x_total`, ... */
  name: string;
  /** Label names in the order the text gave them. */
  labels: Record<string, string>;
  value: number;
  /** Milliseconds since the epoch (the 0.0.4 unit; OpenMetrics seconds are converted). */
  timestamp?: number;
}

export interface MetricFamily {
  /** The name of its TYPE/HELP line, else of its first sample (0.0.4 counters end in `_total`;
   *  OpenMetrics counters do not, their samples do). */
  name: string;
  type: MetricType;
  /** '' when the text had no HELP line. */
  help: string;
  /** Only when an OpenMetrics UNIT line gave one. */
  unit?: string;
  samples: MetricSample[];
}

export type ExpositionFormat = 'prometheus' | 'openmetrics';

export class ParseError extends Error {
  override readonly name = 'ParseError';
  readonly code = 'invalid_exposition';
  constructor(readonly line: number, readonly description: string) {
    super(`line ${line}: ${description}`);
  }
}

/** The format a Content-Type names: OpenMetrics for application/openmetrics-text, else 0.0.4. */
export function formatOf(contentType: string | undefined): ExpositionFormat {
  return /^\s*application\/openmetrics-text\b/i.test(contentType ?? '') ? 'openmetrics' : 'prometheus';
}

const TYPES: Record<ExpositionFormat, ReadonlySet<string>> = {
  prometheus: new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']),
  openmetrics: new Set(['counter', 'gauge', 'histogram', 'summary', 'unknown', 'info', 'stateset', 'gaugehistogram']),
};

/** The sample names a family owns besides its own name ('' = the name itself). */
const SUFFIXES: Record<ExpositionFormat, Partial<Record<MetricType, readonly string[]>>> = {
  prometheus: { counter: [''], gauge: [''], untyped: [''], histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'] },
  openmetrics: {
    counter: ['_total', '_created'], gauge: [''], unknown: [''], stateset: [''], info: ['_info'],
    histogram: ['_bucket', '_sum', '_count', '_created'], summary: ['', '_sum', '_count', '_created'],
    gaugehistogram: ['_bucket', '_gsum', '_gcount'],
  },
};
const ALL_SUFFIXES = ['_bucket', '_sum', '_count', '_total', '_created', '_info', '_gsum', '_gcount'];

/** Names are shown in messages only when they are names (bounded, of the name alphabet). */
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const shown = (name: string) => (name.length <= 120 ? `"${name}"` : `"${name.slice(0, 120)}..." (${name.length} characters)`);
const describe = (token: string) => `${token.length} character(s)${/^[\x20-\x7e]*$/.test(token) ? '' : ', some not printable ASCII'}`;

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const SPECIAL = /^([+-]?)(?:(inf(?:inity)?)|nan)$/i;

/** A sample value as Go's ParseFloat reads it (decimal, Inf, NaN; not hex, not `1_000`). */
function parseValue(token: string): number | undefined {
  if (DECIMAL.test(token)) return Number(token);
  const m = SPECIAL.exec(token);
  if (!m) return undefined;
  if (m[2] === undefined) return NaN;
  return m[1] === '-' ? -Infinity : Infinity;
}

/** OpenMetrics seconds to milliseconds, exactly for decimals (the point moved in the text). */
function secondsToMs(token: string): number | undefined {
  if (!DECIMAL.test(token)) return undefined;
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(token);
  if (!m) return Number(token) * 1000; // with an exponent
  const frac = (m[3] ?? '').padEnd(3, '0');
  return Number(`${m[1]}${m[2] || '0'}${frac.slice(0, 3)}.${frac.slice(3) || '0'}`);
}

interface Family extends MetricFamily {
  /** Whether a TYPE line set the type (else it is the format's untyped/unknown). */
  typed: boolean;
}

/** Parses a whole exposition (the caller caps its size). Throws ParseError only. */
export function parseExposition(text: string, format: ExpositionFormat = 'prometheus'): MetricFamily[] {
  return new Parser(text, format).run();
}

class Parser {
  private readonly families: Family[] = [];
  private readonly byName = new Map<string, Family>();
  private readonly suffixes: Partial<Record<MetricType, readonly string[]>>;
  private readonly om: boolean;
  private lineNo = 0;
  private line = '';
  private pos = 0;
  private lastName = '';
  private lastFamily: Family | undefined;

  constructor(private readonly text: string, private readonly format: ExpositionFormat) {
    this.suffixes = SUFFIXES[format];
    this.om = format === 'openmetrics';
  }

  run(): MetricFamily[] {
    const text = this.text;
    let start = 0;
    let eof = false;
    while (start < text.length) {
      let end = text.indexOf('\n', start);
      if (end === -1) end = text.length;
      this.lineNo++;
      let line = text.slice(start, end);
      start = end + 1;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (eof) this.fail('text after "# EOF"');
      this.line = line;
      this.pos = 0;
      this.skipBlanks();
      if (this.pos === line.length) continue; // blank line
      if (line.charCodeAt(this.pos) === 35 /* # */) {
        if (this.comment()) eof = true;
      } else {
        this.sample();
      }
    }
    if (this.om && !eof) {
      this.lineNo++;
      this.fail('no "# EOF" at the end: the OpenMetrics text was cut short');
    }
    return this.families.map(({ typed: _, ...f }) => f);
  }

  private fail(description: string): never {
    throw new ParseError(this.lineNo, description);
  }

  private skipBlanks(): void {
    const line = this.line;
    let c: number;
    while (this.pos < line.length && ((c = line.charCodeAt(this.pos)) === 32 || c === 9)) this.pos++;
  }

  /** Up to the next blank or the end. */
  private token(): string {
    const line = this.line;
    const from = this.pos;
    let c: number;
    while (this.pos < line.length && (c = line.charCodeAt(this.pos)) !== 32 && c !== 9) this.pos++;
    return line.slice(from, this.pos);
  }

  /** A `#` line: HELP, TYPE, UNIT (OpenMetrics), EOF (OpenMetrics), or a comment. True at EOF. */
  private comment(): boolean {
    this.lastFamily = undefined; // metadata may change which family a name belongs to
    this.pos++;
    this.skipBlanks();
    const keyword = this.token();
    if (this.om && keyword === 'EOF' && this.pos === this.line.length) return true;
    if (keyword !== 'HELP' && keyword !== 'TYPE' && !(this.om && keyword === 'UNIT')) return false; // a comment
    this.skipBlanks();
    const name = this.token();
    if (!name) this.fail(`a ${keyword} line without a metric name`);
    if (!METRIC_NAME.test(name)) this.fail(`a ${keyword} line whose metric name (${describe(name)}) has characters outside [a-zA-Z0-9_:] or starts with a digit`);
    // HELP text starts after one or more blanks and runs to the end of the line.
    this.skipBlanks();
    const rest = this.line.slice(this.pos);
    if (keyword === 'HELP') this.help(name, rest);
    else if (keyword === 'TYPE') this.type(name, rest.trimEnd());
    else this.unit(name, rest.trimEnd());
    return false;
  }

  private family(name: string): Family {
    let f = this.byName.get(name);
    if (!f) {
      f = { name, type: this.om ? 'unknown' : 'untyped', help: '', samples: [], typed: false };
      this.byName.set(name, f);
      this.families.push(f);
    }
    return f;
  }

  private help(name: string, raw: string): void {
    const f = this.family(name);
    // A family that comes back keeps its first HELP (Prometheus would refuse the whole text).
    if (f.help === '') f.help = unescapeHelp(raw, this.om);
  }

  private type(name: string, type: string): void {
    if (!TYPES[this.format].has(type)) {
      this.fail(`TYPE of ${shown(name)} is not a type of the ${this.om ? 'OpenMetrics' : '0.0.4 text'} format (${describe(type)})`);
    }
    const f = this.family(name);
    if (f.typed && f.type !== type) this.fail(`a second TYPE line for ${shown(name)} gives another type (${type}, was ${f.type})`);
    if (!f.typed && f.samples.length > 0) this.fail(`the TYPE line of ${shown(name)} comes after samples of that name`);
    f.type = type as MetricType;
    f.typed = true;
  }

  private unit(name: string, unit: string): void {
    const f = this.family(name);
    if (f.unit !== undefined && f.unit !== unit) this.fail(`a second UNIT line for ${shown(name)} gives another unit`);
    f.unit = unit;
  }

  /** The family a sample of this name belongs to: its own, a typed family it is a suffix of, or new. */
  private familyOf(name: string): Family {
    // Consecutive samples share a name as a rule: one lookup per run of them.
    if (name === this.lastName && this.lastFamily) return this.lastFamily;
    const f = this.findFamily(name);
    this.lastName = name;
    this.lastFamily = f;
    return f;
  }

  private findFamily(name: string): Family {
    const own = this.byName.get(name);
    if (own && (this.suffixes[own.type] ?? ['']).includes('')) return own;
    for (const suffix of ALL_SUFFIXES) {
      if (name.length <= suffix.length || !name.endsWith(suffix)) continue;
      const f = this.byName.get(name.slice(0, -suffix.length));
      if (f && this.suffixes[f.type]?.includes(suffix)) return f;
    }
    if (own) this.fail(`a sample named ${shown(name)} like its ${own.type} family, without the suffix the type needs`);
    return this.family(name);
  }

  private sample(): void {
    const line = this.line;
    const from = this.pos;
    let c: number;
    while (this.pos < line.length && ((c = line.charCodeAt(this.pos)) === 95 || c === 58 || (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57 && this.pos > from))) this.pos++;
    const name = line.slice(from, this.pos);
    if (!name) this.fail('a line that does not start with a metric name, "#" or a blank');
    this.skipBlanks();
    const labels: Record<string, string> = {};
    if (line.charCodeAt(this.pos) === 123 /* { */) {
      this.pos++;
      this.labels(labels, name);
      this.skipBlanks();
    } else if (this.pos < line.length && this.pos === from + name.length) {
      this.fail(`the metric name ${shown(name)} runs into a character outside [a-zA-Z0-9_:]`);
    }
    const valueToken = this.token();
    if (!valueToken) this.fail(`the sample of ${shown(name)} has no value`);
    const value = parseValue(valueToken);
    if (value === undefined) this.fail(`the value of a sample of ${shown(name)} is not a number (${describe(valueToken)})`);
    const sample: MetricSample = { name, labels, value };
    this.skipBlanks();
    if (this.pos < line.length && !(this.om && line.charCodeAt(this.pos) === 35)) {
      const ts = this.token();
      const ms = this.om ? secondsToMs(ts) : /^-?\d+$/.test(ts) ? Number(ts) : undefined;
      if (ms === undefined || !Number.isFinite(ms)) this.fail(`the timestamp of a sample of ${shown(name)} is not ${this.om ? 'a number of seconds' : 'an integer of milliseconds'} (${describe(ts)})`);
      sample.timestamp = ms;
      this.skipBlanks();
    }
    if (this.pos < line.length) {
      if (!this.om || line.charCodeAt(this.pos) !== 35) this.fail(`more after the ${sample.timestamp === undefined ? 'value' : 'timestamp'} of a sample of ${shown(name)}`);
      this.exemplar(name);
    }
    this.familyOf(name).samples.push(sample);
  }

  /** After `{`: name="value" pairs, separated by commas (a trailing one allowed), up to `}`. */
  private labels(labels: Record<string, string>, metric: string): void {
    const line = this.line;
    for (;;) {
      this.skipBlanks();
      if (line.charCodeAt(this.pos) === 125 /* } */) {
        this.pos++;
        return;
      }
      const from = this.pos;
      let c: number;
      while (this.pos < line.length && ((c = line.charCodeAt(this.pos)) === 95 || (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57 && this.pos > from))) this.pos++;
      const label = line.slice(from, this.pos);
      if (!label) this.fail(`a label of a sample of ${shown(metric)} has no name, or one outside [a-zA-Z_][a-zA-Z0-9_]*`);
      this.skipBlanks();
      if (line.charCodeAt(this.pos) !== 61 /* = */) this.fail(`label ${shown(label)} of a sample of ${shown(metric)} is not followed by "="`);
      this.pos++;
      this.skipBlanks();
      if (line.charCodeAt(this.pos) !== 34 /* " */) this.fail(`the value of label ${shown(label)} of a sample of ${shown(metric)} does not start with a quote`);
      this.pos++;
      const value = this.quoted();
      if (value === undefined) this.fail(`the value of label ${shown(label)} of a sample of ${shown(metric)} is not closed by a quote`);
      if (Object.prototype.hasOwnProperty.call(labels, label)) this.fail(`label ${shown(label)} appears twice in a sample of ${shown(metric)}`);
      setLabel(labels, label, value);
      this.skipBlanks();
      const sep = line.charCodeAt(this.pos);
      if (sep === 44 /* , */) this.pos++;
      else if (sep !== 125) this.fail(`after the value of label ${shown(label)} of a sample of ${shown(metric)}, neither "," nor "}"`);
    }
  }

  /** A label value after its opening quote, unescaped; undefined if the line ends first. */
  private quoted(): string | undefined {
    const line = this.line;
    const quote = line.indexOf('"', this.pos);
    if (quote === -1) return undefined;
    const slash = line.indexOf('\\', this.pos);
    if (slash === -1 || slash > quote) {
      const v = line.slice(this.pos, quote);
      this.pos = quote + 1;
      return v;
    }
    let out = '';
    let from = this.pos;
    for (let i = this.pos; i < line.length; i++) {
      const c = line.charCodeAt(i);
      if (c === 34) {
        this.pos = i + 1;
        return out + line.slice(from, i);
      }
      if (c === 92 /* \ */ && i + 1 < line.length) {
        const n = line[i + 1];
        out += line.slice(from, i) + (n === 'n' ? '\n' : n === '\\' ? '\\' : n === '"' ? '"' : `\\${n}`);
        i++;
        from = i + 1;
      }
    }
    return undefined;
  }

  /** ` # {labels} value [timestamp]` after a sample: checked for shape, then dropped. */
  private exemplar(metric: string): void {
    this.pos++; // '#'
    this.skipBlanks();
    if (this.line.charCodeAt(this.pos) !== 123) this.fail(`an exemplar of a sample of ${shown(metric)} without its labels`);
    this.pos++;
    this.labels({}, metric);
    this.skipBlanks();
    const v = this.token();
    if (parseValue(v) === undefined) this.fail(`the value of an exemplar of a sample of ${shown(metric)} is not a number (${describe(v)})`);
    this.skipBlanks();
    if (this.pos < this.line.length && secondsToMs(this.token()) === undefined) this.fail(`the timestamp of an exemplar of a sample of ${shown(metric)} is not a number of seconds`);
    this.skipBlanks();
    if (this.pos < this.line.length) this.fail(`more after an exemplar of a sample of ${shown(metric)}`);
  }
}

/** HELP escapes: \\ and \n (and \" in OpenMetrics); any other backslash stays as written. */
function unescapeHelp(raw: string, om: boolean): string {
  if (!raw.includes('\\')) return raw;
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c !== '\\' || i + 1 === raw.length) {
      out += c;
      continue;
    }
    const n = raw[++i]!;
    out += n === 'n' ? '\n' : n === '\\' ? '\\' : om && n === '"' ? '"' : `\\${n}`;
  }
  return out;
}

/** Sets a label so that `__proto__` (a valid label name) is an own property, not the prototype. */
export function setLabel(labels: Record<string, string>, name: string, value: string): void {
  if (name === '__proto__') Object.defineProperty(labels, name, { value, enumerable: true, writable: true, configurable: true });
  else labels[name] = value;
}
