// Decodes a server's JSON document leniently. uWSGI escapes only \t \n \r " \\ in `vars`, and
// nothing at all in `cwd`, socket names and app mountpoints, so a request with a control byte or
// non-UTF-8 header, or a path with a quote in it, makes the document invalid for JSON.parse.
// The fast path is JSON.parse; only a document it rejects goes through the tolerant parser below,
// which keeps raw control bytes, reads a `"` that is not followed by , : } ] as part of the string,
// and keeps an unknown escape as written. A truncated document is still an error.

import { SourceError, describeBytes } from '../errors.js';

export interface Decoded {
  value: unknown;
  /** What had to be repaired, for a notice; empty for a valid document. */
  repairs: string[];
}

/** The document ends early; `inside` says in what, for the message (never what it held). */
class Truncated extends Error {
  inside = 'a value';
}
/** Deeper than this is not a stats document, and would overflow the stack of the parser below. */
const MAX_DEPTH = 512;
class Invalid extends Error {
  constructor(readonly at: number, message: string) { super(message); }
}

/** The warning for a document that had to be repaired, or undefined for a valid one. */
export function repairNotice(decoded: Decoded): string | undefined {
  return decoded.repairs.length ? `read an invalid document leniently (${decoded.repairs.join(', ')})` : undefined;
}

export function decodeJson(bytes: Buffer, where: string): Decoded {
  if (bytes.length === 0) throw new SourceError('empty', `${where} is empty`);
  // Invalid UTF-8 becomes U+FFFD here rather than failing the document.
  const text = bytes.toString('utf8');
  try {
    return { value: JSON.parse(text), repairs: [] };
  } catch {
    // fall through to the tolerant parser
  }
  if (text.trim() === '') throw new SourceError('empty', `${where} holds only white space (${bytes.length} bytes)`);
  const p = new Lenient(text);
  try {
    const value = p.document();
    return { value, repairs: [...p.repairs] };
  } catch (e) {
    const what = describeBytes(bytes);
    if (e instanceof Truncated) {
      throw new SourceError('truncated', `the document from ${where} stops in the middle (${what}; it ends inside ${e.inside}, ${p.depth} levels deep)`);
    }
    const at = e instanceof Invalid ? ` at character ${e.at}: ${e.message}` : '';
    throw new SourceError('invalid_json', `the document from ${where} is not JSON${at} (${what})`);
  }
}

const STRING_END = new Set([',', ':', '}', ']']);
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

function truncated(inside: string): Truncated {
  const t = new Truncated();
  t.inside = inside;
  return t;
}

class Lenient {
  at = 0;
  depth = 0;
  readonly repairs = new Set<string>();
  constructor(private readonly s: string) {}

  document(): unknown {
    this.ws();
    let value: unknown;
    if (this.s[this.at] === '"') {
      // Reported by users: a document whose opening brace is missing. Accept it only if the rest
      // is a whole object body.
      this.repairs.add('missing opening brace');
      value = this.members();
    } else {
      value = this.value();
    }
    this.ws();
    if (this.at < this.s.length) throw new Invalid(this.at, `unexpected ${JSON.stringify(this.s[this.at])} after the document`);
    return value;
  }

  private ws(): void {
    while (this.at < this.s.length && ' \t\n\r'.includes(this.s[this.at]!)) this.at++;
  }

  private peek(): string {
    this.ws();
    if (this.at >= this.s.length) throw truncated(this.depth ? 'an object or array' : 'a value');
    return this.s[this.at]!;
  }

  private value(): unknown {
    const c = this.peek();
    if ((c === '{' || c === '[') && this.depth >= MAX_DEPTH) throw new Invalid(this.at, `nested more than ${MAX_DEPTH} levels deep`);
    if (c === '{') {
      this.at++;
      return this.members();
    }
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.s.startsWith(word, this.at)) {
        this.at += word.length;
        return v;
      }
      if (word.startsWith(this.s.slice(this.at))) throw truncated('a literal');
    }
    throw new Invalid(this.at, `unexpected ${JSON.stringify(c)}`);
  }

  /** Object members after the opening brace, through the closing one. */
  private members(): Record<string, unknown> {
    this.depth++;
    const obj = this.membersBody();
    this.depth--;
    return obj;
  }

  private membersBody(): Record<string, unknown> {
    const obj: Record<string, unknown> = {};
    if (this.peek() === '}') {
      this.at++;
      return obj;
    }
    for (;;) {
      if (this.peek() !== '"') throw new Invalid(this.at, 'expected a key');
      const key = this.string();
      if (this.peek() !== ':') throw new Invalid(this.at, 'expected ":"');
      this.at++;
      const v = this.value();
      if (key !== '__proto__') obj[key] = v;
      const c = this.peek();
      this.at++;
      if (c === '}') return obj;
      if (c !== ',') throw new Invalid(this.at - 1, `expected "," or "}" but found ${JSON.stringify(c)}`);
    }
  }

  private array(): unknown[] {
    this.depth++;
    const arr = this.arrayBody();
    this.depth--;
    return arr;
  }

  private arrayBody(): unknown[] {
    this.at++;
    const arr: unknown[] = [];
    if (this.peek() === ']') {
      this.at++;
      return arr;
    }
    for (;;) {
      arr.push(this.value());
      const c = this.peek();
      this.at++;
      if (c === ']') return arr;
      if (c !== ',') throw new Invalid(this.at - 1, `expected "," or "]" but found ${JSON.stringify(c)}`);
    }
  }

  private number(): number {
    const m = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    m.lastIndex = this.at;
    // A number cut anywhere ("1.", "2e", "-") is truncated, not invalid.
    const partial = /-?\d*(?:\.\d*)?(?:[eE][+-]?\d*)?/y;
    partial.lastIndex = this.at;
    if (this.at + (partial.exec(this.s)?.[0].length ?? 0) >= this.s.length) throw truncated('a number');
    const found = m.exec(this.s);
    if (!found) throw new Invalid(this.at, 'bad number');
    this.at += found[0].length;
    if (this.at >= this.s.length) throw truncated('a number');
    return Number(found[0]);
  }

  private string(): string {
    const s = this.s;
    let out = '';
    let i = this.at + 1;
    for (;;) {
      if (i >= s.length) throw truncated('a string');
      const c = s[i]!;
      if (c === '"') {
        let j = i + 1;
        while (j < s.length && ' \t\n\r'.includes(s[j]!)) j++;
        if (j >= s.length || STRING_END.has(s[j]!)) {
          this.at = i + 1;
          return out;
        }
        this.repairs.add('unescaped quote in a string');
        out += c;
        i++;
      } else if (c === '\\') {
        if (i + 1 >= s.length) throw truncated('a string');
        const e = s[i + 1]!;
        if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) {
          out += String.fromCharCode(parseInt(s.slice(i + 2, i + 6), 16));
          i += 6;
        } else if (ESCAPES[e] !== undefined) {
          out += ESCAPES[e];
          i += 2;
        } else {
          this.repairs.add('unknown escape in a string');
          out += c;
          i++;
        }
      } else {
        if (c < ' ') this.repairs.add('control character in a string');
        out += c;
        i++;
      }
    }
  }
}
