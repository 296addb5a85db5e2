// The forward output's message writer (lib/sinks/forward/wire.ts, writer.ts) against the encoding it
// replaced: @msgpack/msgpack with useBigInt64 over the records read back with their large integers
// as BigInt, the entries encoded as an array and sent without its header as the bin. The bytes
// must be the same for any batch of flat records (integers at every msgpack boundary, floats,
// strings of every header size and non-ASCII, null, booleans, many keys), so the wire that the real
// Fluentd specs (spec/sinks/forward.spec.ts) check is the wire the fast path writes.

import { expect } from 'chai';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { decode, Encoder } from '@msgpack/msgpack';
import { eventTimeOf, extensionCodec, packBatch } from '../../lib/sinks/forward/wire.js';
import { PackWriter } from '../../lib/sinks/forward/writer.js';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { toJson } from '../../lib/records/serialize.js';
import { RECORD_TYPES, type Rec } from '../../lib/records/types.js';
import { shapeUwsgi } from '../../lib/sources/uwsgi/shape.js';

const TWO_32 = 2 ** 32;
const TWO_31 = 2 ** 31;

/** The encoding before the writer, as it was. */
function reference(tag: string, lines: string[]): { bytes: Uint8Array; chunk: string } {
  const encoder = new Encoder({ extensionCodec, useBigInt64: true, ignoreUndefined: true });
  const entries = lines.map((line) => {
    const r = JSON.parse(line) as Record<string, unknown>;
    for (const k in r) {
      const v = r[k];
      if (typeof v === 'number' && (v >= TWO_32 || v < -TWO_31) && Number.isInteger(v) && v > -(2 ** 63) && v < 2 ** 64) r[k] = BigInt(String(v));
    }
    return [eventTimeOf(r), r];
  });
  const all = encoder.encode(entries);
  const n = lines.length;
  const head = n < 16 ? 1 : n < 65536 ? 3 : 5;
  const h = createHash('sha256');
  for (const l of lines) h.update(l).update('\n');
  const chunk = h.digest().subarray(0, 16).toString('base64');
  return { bytes: encoder.encode([tag, all.subarray(head), { size: n, chunk }]), chunk };
}

const boundaries = [0, 1, 31, 32, 127, 128, 255, 256, 65535, 65536, TWO_32 - 1, TWO_32, 2 ** 53 - 1, 2 ** 53, 2 ** 60, 2 ** 63, 2 ** 64 - 2048, 2 ** 64, 1e21];
const integers = fc.oneof(
  fc.constantFrom(...boundaries, ...boundaries.map((b) => -b), -32, -33, -128, -129, -32768, -32769, -TWO_31, -TWO_31 - 1, -0),
  fc.integer(),
  fc.maxSafeInteger(),
);
const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 80 }), fc.constantFrom('x'.repeat(31), 'x'.repeat(32), 'é'.repeat(40), 'x'.repeat(255), 'x'.repeat(256), 'y'.repeat(70000)));
const value = fc.oneof(integers, fc.double({ noNaN: true, noDefaultInfinity: true }), text, fc.boolean(), fc.constant(null));
// Every record has its time (a record without one gets "now", which two encodings cannot share).
const record = fc.tuple(
  fc.oneof(fc.double({ min: 0, max: 4e9, noNaN: true }), fc.integer({ min: 0, max: 2 ** 31 }), fc.constant(1796394614.53)),
  fc.dictionary(fc.string({ minLength: 1, maxLength: 20 }).filter((k) => k !== 'time'), value, { maxKeys: 20 }),
).map(([time, fields]) => JSON.stringify({ time, ...fields }));

/** The entries as JSON.parse and map() write them (packBatch before flatEntry, and its fallback). */
function parsedEntries(lines: string[]): Buffer {
  const w = new PackWriter();
  w.begin(1024, 0);
  for (const line of lines) {
    const r = JSON.parse(line) as Record<string, unknown>;
    const t = eventTimeOf(r);
    w.u8(0x92);
    w.eventTime(t.sec, t.nsec);
    w.map(r);
  }
  return Buffer.from(w.bytes(0));
}

// JSON lines of every form JSON.parse takes or refuses, for flatEntry's fast path and its way out:
// whitespace, escapes in keys and values, raw non-ASCII and lone surrogates, array-index keys,
// __proto__, a key twice (`time` too), nested values, numbers in every spelling and near-misses
// (01, 1., .5, +1, 1e, -), true/false/null and near-misses, a raw newline in a line.
const rawChars = fc.string({ unit: fc.constantFrom('a', 'Z', ' ', '/', 'é', '日', '😀', '\ud800', '\udc00', '\u007f', '\u0080'), maxLength: 12 });
const keyText = fc.oneof(
  fc.constantFrom('"a"', '"host"', '"time"', '"0"', '"12"', '"01"', '"-1"', '"__proto__"', '""', '"a\\"b"', '"\\u0061"', '"é"', '"😀"', '"\ud800"', '"a b"'),
  rawChars.map((c) => `"k${c}"`),
);
const numberText = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
  fc.integer().map(String),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
  fc.tuple(fc.constantFrom('', '-'), fc.stringMatching(/^(0|[1-9][0-9]{0,20})$/), fc.constantFrom('', '.0', '.5', '.001', '.123456789012345678', '.08'), fc.constantFrom('', 'e5', 'E-3', 'e+21', 'e400', 'e-400')).map((p) => p.join('')),
  fc.constantFrom('-0', '-0.0', '0.1', '1796394614.53', '1795000000.001', '9007199254740993', '18446744073709551615', '1e21', '4294967296', '01', '1.', '.5', '+1', '1e', '-', '--1', '0x10', 'Infinity', 'NaN'),
);
const valueText = fc.oneof(
  numberText,
  fc.string({ unit: 'binary', maxLength: 20 }).map((v) => JSON.stringify(v)),
  rawChars.map((c) => `"${c}"`),
  fc.constantFrom('true', 'false', 'null', 'nul', 'tru', 'True', '{}', '[]', '[1,"a"]', '{"a":1}', '"a\\nb"', '"\\"', '"\\u00e9"', '"\\ud83d\\ude00"', '"tab\there"', '"x'),
);
const space = fc.constantFrom('', '', '', ' ', '\n', '\t');
const jsonLine = fc.tuple(
  space,
  numberText,
  fc.array(fc.tuple(keyText, space, valueText, space), { maxLength: 24, size: 'medium' }),
  fc.nat(24),
  space,
).map(([lead, time, pairs, timeAt, tail]) => {
  const fields = pairs.map(([k, sp, v, sp2]) => `${k}${sp}:${sp2}${v}`);
  fields.splice(Math.min(timeAt, fields.length), 0, `"time":${time}`);
  return `${lead}{${fields.join(',')}}${tail}`;
});

// And lines that are all but plain (the fast path's own): no whitespace, distinct keys, valid
// values; now and then one key or value of a kind the fast path leaves to JSON.parse (or that
// JSON.parse refuses), or a key twice.
const flatValue = valueText.filter((v) => {
  try {
    const x: unknown = JSON.parse(v);
    return typeof x !== 'object' || x === null;
  } catch {
    return false;
  }
});
const oddKey = fc.constantFrom('"0"', '"7x"', '"a\\"b"', '"\\u0061"', '"\u0001"', '"a\tb"', '"time"');
const plainLine = fc.tuple(
  fc.oneof(fc.double({ min: 0, max: 4e9, noNaN: true }).map(String), fc.constantFrom('1795000000.001', '0', '-0', '1e9', '-1', '"1"', 'null', '01')),
  fc.uniqueArray(fc.oneof(fc.stringMatching(/^[a-z_]{1,12}$/), fc.string({ unit: fc.constantFrom('a', 'é', '日', '😀', '\ud800'), minLength: 1, maxLength: 4 })), { maxLength: 40, size: 'max' }),
  fc.array(fc.oneof({ weight: 60, arbitrary: flatValue }, { weight: 1, arbitrary: valueText }), { minLength: 40, maxLength: 40 }),
  fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, fc.tuple(fc.oneof(oddKey, fc.constant('dup')), fc.nat(40))),
  fc.nat(40),
).map(([time, keys, values, odd, timeAt]) => {
  const fields = keys.map((k, i) => `"${k}":${values[i]}`); // raw: a lone surrogate too
  if (odd && fields.length > 0) fields.splice(odd[1] % fields.length, 0, `${odd[0] === 'dup' ? `"${keys[odd[1] % keys.length]}"` : odd[0]}:1`);
  fields.splice(Math.min(timeAt, fields.length), 0, `"time":${time}`);
  return `{${fields.join(',')}}`;
});

describe('the forward message writer', () => {
  it('writes from the lines\' bytes the entries that JSON.parse and map() write, for any JSON line, and refuses what JSON.parse refuses', () => {
    // A line without a usable time gets "now": one now for both.
    const now = Date.now;
    Date.now = () => 1796394614530;
    try {
      fc.assert(fc.property(fc.array(fc.oneof(plainLine, plainLine, jsonLine, jsonLine.map((l) => `${l}\n{}`)), { minLength: 1, maxLength: 20 }), (lines) => {
      let parsed: Buffer;
      try {
        parsed = parsedEntries(lines);
      } catch (e) {
        expect(() => packBatch('t', lines)).to.throw((e as Error).message);
        return;
      }
      const [tag, bin, opts] = decode(packBatch('t', lines).bytes) as [string, Uint8Array, { size: number; chunk: string }];
      expect(tag).to.equal('t');
      expect(opts.size).to.equal(lines.length);
      expect(opts.chunk).to.equal(createHash('sha256').update(lines.map((l) => `${l}\n`).join('')).digest().subarray(0, 16).toString('base64'));
      expect(Buffer.from(bin).equals(parsed), lines.join('\n').slice(0, 500)).to.equal(true);
      }), { numRuns: 2000 });
    } finally {
      Date.now = now;
    }
  });

  it("takes wsgistat's own lines, of every record type, from their bytes, and leaves any other line to JSON.parse", () => {
    const doc = JSON.parse(readFileSync(fileURLToPath(new URL('../../../spec/fixtures/uwsgi/busy.json', import.meta.url)), 'utf8'));
    const bodies = shapeUwsgi(doc, { records: new Set(RECORD_TYPES), vars: { kind: 'all' } });
    const lines = bodies.map((b) => toJson({ time: 1796394614.53, host: 'vm', source: 'unix:///run/app.stats', server: 'uwsgi', ...b } as Rec));
    expect(new Set(bodies.map((b) => b.type))).to.include.members(['summary', 'worker', 'core', 'app', 'socket']);
    const w = new PackWriter();
    w.begin(1 << 16, 0);
    const taken = (line: string) => w.flatEntry(Buffer.from(`${line}\n`), 0);
    for (const line of lines) expect(taken(line), line.slice(0, 200)).to.equal(Buffer.byteLength(line));
    for (const line of ['{"a": 1}', '{"a":1,"a":2}', '{"0":1}', '{"a":[1]}', '{"a":{"b":1}}', '{"\\u0061":1}', '[1]', '{"a":01}']) {
      expect(taken(line), line).to.equal(-1);
    }
  });

  it('writes the same bytes whether a batch\'s text fits the scratch buffer or outgrows it (non-ASCII after ASCII)', () => {
    const writer = new PackWriter();
    const ascii = JSON.stringify({ time: 1796394614.53, host: 'vm', cwd: 'x'.repeat(300) });
    const wide = JSON.stringify({ time: 1796394614.53, host: 'vm', cwd: '日'.repeat(3000), bad: '\ud800' });
    for (const lines of [[ascii], [wide], [ascii, wide, ascii], Array.from({ length: 50 }, (_, i) => (i % 7 === 0 ? wide : ascii)), [wide, ...Array.from({ length: 50 }, () => ascii), wide]]) {
      const [, bin] = decode(packBatch('t', lines, writer).bytes) as [string, Uint8Array];
      expect(Buffer.from(bin).equals(parsedEntries(lines))).to.equal(true);
    }
  });


  it('writes the bytes @msgpack/msgpack wrote, for any batch of flat records', () => {
    const writer = new PackWriter();
    fc.assert(fc.property(fc.constantFrom('t', 'uwsgi.stats', 'a'.repeat(40)), fc.array(record, { minLength: 1, maxLength: 40 }), (tag, lines) => {
      const want = reference(tag, lines);
      const got = packBatch(tag, lines, writer);
      expect(got.chunk).to.equal(want.chunk);
      expect(Buffer.from(got.bytes).equals(Buffer.from(want.bytes)), `${tag} ${lines.join('\n').slice(0, 500)}`).to.equal(true);
    }), { numRuns: 300 });
  });

  it('writes the same bytes for batches whose bin needs 8, 16 and 32-bit lengths, and a real batch', () => {
    const line = JSON.stringify({ time: 1796394614.53, host: 'vm', type: 'worker', worker_id: 1, vsz: 5_000_000_000, big: 2 ** 60, status: 'idle', avg_rt: 73.5, stuck: false, label: null, ...Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, -i * 1000])) }); // 26 keys: a map16
    for (const n of [1, 2, 15, 16, 300, 5000]) {
      const lines = Array.from({ length: n }, (_, i) => line.replace('"worker_id":1', `"worker_id":${i}`));
      expect(Buffer.from(packBatch('uwsgi.stats', lines).bytes).equals(Buffer.from(reference('uwsgi.stats', lines).bytes)), `${n} lines`).to.equal(true);
    }
  });
});
