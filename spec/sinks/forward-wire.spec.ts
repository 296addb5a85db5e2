// The forward output's message writer (lib/sinks/forward/wire.ts, writer.ts) against the encoding it
// replaced: @msgpack/msgpack with useBigInt64 over the records read back with their large integers
// as BigInt, the entries encoded as an array and sent without its header as the bin. The bytes
// must be the same for any batch of flat records (integers at every msgpack boundary, floats,
// strings of every header size and non-ASCII, null, booleans, many keys), so the wire that the real
// Fluentd specs (spec/sinks/forward.spec.ts) check is the wire the fast path writes.

import { expect } from 'chai';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { Encoder } from '@msgpack/msgpack';
import { eventTimeOf, extensionCodec, packBatch } from '../../lib/sinks/forward/wire.js';
import { PackWriter } from '../../lib/sinks/forward/writer.js';

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

describe('the forward message writer', () => {
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
