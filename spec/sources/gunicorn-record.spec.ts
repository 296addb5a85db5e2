// The format-2 worker record reader (lib/sources/gunicorn/record.ts): a consistent copy of a
// record its worker may be writing, and a record that is not one refused, not misread.

import { expect } from 'chai';
import { consistentCopy, parseRecord, recordBytes, recordProblem, W, MAGIC, HEADER_WORDS, SLOT_WORDS, BUCKETS } from '../../lib/sources/gunicorn/record.js';

function record(slots = 1): Buffer {
  const b = Buffer.alloc(recordBytes(slots));
  MAGIC.copy(b, 0);
  const set = (i: number, v: number) => b.writeBigUInt64LE(BigInt(v), i * 8);
  set(W.version, 2);
  set(W.slots, slots);
  set(W.buckets, BUCKETS);
  set(W.pid, 4242);
  set(W.master, 4241);
  return b;
}
const set = (b: Buffer, i: number, v: number) => b.writeBigUInt64LE(BigInt(v), i * 8);

describe('gunicorn format-2 worker records', () => {
  it('reads the counters, requests as the sum of the status words, and the oldest request first', () => {
    const b = record(2);
    [3, 90, 1, 4, 2].forEach((v, i) => set(b, W.status + i, v));
    set(b, W.statusOther, 1);
    set(b, W.inFlight, 2);
    set(b, HEADER_WORDS + 30, 99);
    const slot = (s: number, mono: number, path: string) => {
      const base = HEADER_WORDS + BUCKETS + s * SLOT_WORDS;
      set(b, base, mono);
      b.write(`GET ${path}`, (base + 3) * 8);
      set(b, base + 2, 4 + path.length);
    };
    slot(0, 5_000_000_000, '/newer');
    slot(1, 1_000_000_000, '/older');
    expect(recordProblem(b)).to.equal(undefined);
    // Now is 6 s of CLOCK_MONOTONIC: the older request started 5 s ago, the newer 1 s ago.
    const r = parseRecord(b, { monoNs: 6_000_000_000n, wallMs: 1_800_000_000_000 });
    expect(r.current.map((c) => [c.method, c.startUs])).to.deep.equal([['GET', 1_799_999_995_000_000], ['GET', 1_799_999_999_000_000]]);
    expect([r.requests, r.status, r.statusOther, r.inFlight, r.histogram[30], r.pid, r.master]).to.deep.equal([101, [3, 90, 1, 4, 2], 1, 2, 99, 4242, 4241]);
    expect(r.current.map((c) => c.path)).to.deep.equal(['/older', '/newer']);
    expect(r.current[0]).to.not.have.any.keys('query', 'host');
  });

  it('refuses what is not a whole record of this layout', () => {
    expect(recordProblem(Buffer.from('{"pid": 1}'))).to.equal('not a wsgistat worker record');
    const wrong = record();
    set(wrong, W.version, 3);
    expect(recordProblem(wrong)).to.match(/another layout/);
    expect(recordProblem(record().subarray(0, recordBytes(1) - 8))).to.match(/not the \d+ its header says/);
  });

  it('takes a copy only when two copies agree: never one a writer was in the middle of', () => {
    const live = record();
    // A writer that is always in the middle of an update on odd reads, and done on even ones.
    let reads = 0;
    const read = () => {
      reads++;
      const seq = reads < 6 ? reads : 6; // changes at every read, then settles even
      set(live, W.seq, seq);
      set(live, W.status + 1, seq * 10);
      return Buffer.from(live);
    };
    const got = consistentCopy(read)!;
    expect(parseRecord(got.copy).status[1]).to.equal(60);
    expect(got.tries).to.equal(6);
    // A worker killed in the middle of an update leaves an odd sequence word for good: two
    // identical copies are a record nobody writes, and are taken.
    set(live, W.seq, 7);
    expect(consistentCopy(() => Buffer.from(live))!.tries).to.equal(1);
    // One that never holds still gives no copy, within a bound.
    let n = 0;
    expect(consistentCopy(() => (set(live, W.seq, ++n), Buffer.from(live)), 50)).to.equal(undefined);
  });
});
