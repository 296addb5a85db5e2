// The spool under property-based tests (fast-check): writers interleaved with a sender, several
// spools at once on one directory (runs at once), crashes at any step, and damaged files. In every
// case each batch put is read back whole, or was sent, or was reported dropped; damaged lines cost
// themselves only, and are kept in the dead-letter file.

import { expect } from 'chai';
import fc from 'fast-check';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Spool } from '../../lib/sinks/spool.js';
import { cleanup, tempDir } from '../helpers/servers.js';

const line = (writer: number, n: number, i: number) => JSON.stringify({ writer, n, i });
const dead = () => Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);

type Op = { kind: 'put'; writer: number; size: number } | { kind: 'send' } | { kind: 'reopen'; writer: number };
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('put' as const), writer: fc.integer({ min: 0, max: 3 }), size: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ kind: fc.constant('send' as const) }),
  fc.record({ kind: fc.constant('reopen' as const), writer: fc.integer({ min: 0, max: 3 }) }),
);

describe('the spool (property-based)', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach(cleanup));
  const fresh = () => {
    const d = join(tempDir(), 'spool');
    dirs.push(d.slice(0, -'/spool'.length));
    return d;
  };

  it('keeps every batch of writers that share it, whatever the interleaving: read once, in order per writer', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const dir = fresh();
        // Four runs at once, each with its spool; writer 0 holds the lock and sends.
        const spools = [0, 1, 2, 3].map(() => new Spool(dir, 1 << 30));
        const put: string[] = [];
        const sent: string[] = [];
        let n = 0;
        for (const o of ops) {
          if (o.kind === 'put') {
            const lines = Array.from({ length: o.size }, (_, i) => line(o.writer, n, i));
            n++;
            const s = spools[o.writer]!;
            s.put(s.nextSeq(), lines); // runs in the same millisecond pick the same number
            put.push(...lines);
          } else if (o.kind === 'send') {
            const s = spools[0]!;
            s.rescan();
            const head = s.list()[0];
            if (!head) continue;
            sent.push(...s.read(head.id)!.lines);
            s.remove(head.id);
          } else {
            spools[o.writer] = new Spool(dir, 1 << 30); // a new run
          }
        }
        const after = new Spool(dir, 1 << 30);
        const left = after.list().flatMap((e) => after.read(e.id)!.lines);
        expect([...sent, ...left].sort()).to.deep.equal([...put].sort());
        // Per writer, batches come back in the order they were put.
        for (const w of [0, 1, 2, 3]) {
          const order = [...sent, ...left].map((l) => JSON.parse(l) as { writer: number; n: number }).filter((r) => r.writer === w).map((r) => r.n);
          expect(order).to.deep.equal([...order].sort((a, b) => a - b));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('costs a damaged line only itself: the rest is sent, the damage kept in the dead-letter file', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant<'good'>('good'), fc.uint8Array({ minLength: 1, maxLength: 30 })), { minLength: 1, maxLength: 12 }),
        (parts) => {
          const dir = fresh();
          const s = new Spool(dir, 1 << 20);
          const good: string[] = [];
          const text = parts.map((p, i) => {
            if (p === 'good') {
              good.push(line(0, i, 0));
              return line(0, i, 0);
            }
            return Buffer.from(p).toString('latin1').replace(/\n/g, ' ');
          });
          const { id } = s.put(s.nextSeq(), ['{"placeholder":1}']);
          const file = readdirSync(dir).find((f) => f.endsWith('.ndjson'))!;
          writeFileSync(join(dir, file), text.join('\n') + '\n');
          const r = s.read(id, 'sink x')!;
          // A noise line that happens to be a JSON object is a record like any other.
          const objects = text.filter((t) => {
            try {
              const v: unknown = JSON.parse(t);
              return t.startsWith('{') && typeof v === 'object' && v !== null && !Array.isArray(v);
            } catch {
              return false;
            }
          });
          expect(r.lines).to.deep.equal(objects);
          expect(r.corrupt).to.equal(text.filter((t) => t !== '').length - objects.length);
          for (const g of good) expect(r.lines).to.include(g);
          if (r.corrupt > 0) {
            const letter = JSON.parse(readFileSync(join(dir, 'dead-letter.jsonl'), 'utf8').trim()) as { sink: string; status: number; reason: string; lines: string[] };
            expect(letter).to.include({ sink: 'sink x', status: 0 });
            expect(letter.reason).to.equal(`spool file ${file}: ${r.corrupt} of ${r.corrupt + r.lines.length} lines are not a JSON object`);
            expect(letter.lines).to.have.length(r.corrupt);
          }
        },
      ),
      { numRuns: 80 },
    );
  });

  it('survives a crash at any step: half-written files of a dead run go, its lock is broken, batches stay', () => {
    const gone = dead();
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 3 }), fc.boolean(), (batches, temps, lockLeft) => {
        const dir = fresh();
        const s = new Spool(dir, 1 << 20);
        const put: string[] = [];
        for (let b = 0; b < batches; b++) {
          const lines = [line(0, b, 0), line(0, b, 1)];
          s.put(s.nextSeq(), lines);
          put.push(...lines);
        }
        for (let t = 0; t < temps; t++) writeFileSync(join(dir, `.batch.${gone}.x${t}.tmp`), '{"half":');
        if (lockLeft) writeFileSync(join(dir, 'lock'), `${gone} 1`);
        const next = new Spool(dir, 1 << 20);
        expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);
        expect(next.lock()).to.equal(true);
        expect(next.list().flatMap((e) => next.read(e.id)!.lines)).to.deep.equal(put);
        next.unlock();
      }),
      { numRuns: 30 },
    );
  });
});
