// Property specs for the rate rules: generated counter sequences with worker respawns, counters
// that go down and server restarts. A delta is never negative, a rate is always a finite number,
// the summary is the sum of its workers, and counters_reset says exactly when something reset.

import { expect } from 'chai';
import fc from 'fast-check';
import { applyRates, type RateState } from '../../lib/records/rates.js';
import type { Body } from '../../lib/records/types.js';

type Step = { gapMs: number; restart: boolean; workers: { add: number; addTime: number; respawn: boolean; vanish: boolean }[] };

const steps = fc.array(fc.record({
  gapMs: fc.integer({ min: 1, max: 120_000 }),
  restart: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  workers: fc.array(fc.record({ add: fc.nat(1000), addTime: fc.nat(5_000_000), respawn: fc.boolean(), vanish: fc.boolean() }), { minLength: 4, maxLength: 4 }),
}), { minLength: 2, maxLength: 12 });

describe('rates, by property', () => {
  it('never gives a negative delta or a non-finite rate, and counters_reset exactly when a counter reset', () => {
    fc.assert(fc.property(steps, (seq: Step[]) => {
      let time = 1_800_000_000_000;
      let pid = 100;
      const requests = [0, 0, 0, 0];
      const runningTime = [0, 0, 0, 0];
      const respawns = [1, 1, 1, 1];
      let prev: RateState | undefined;
      for (const step of seq) {
        time += step.gapMs;
        let reset = false;
        let sum = 0;
        if (step.restart) {
          pid++;
          requests.fill(0);
          runningTime.fill(0);
          respawns.fill(1);
          reset = prev !== undefined;
        }
        const present: number[] = [];
        step.workers.forEach((w, i) => {
          if (w.vanish && i > 0) return; // a slot that is gone this sample (never worker 1)
          const before = { r: requests[i]!, t: runningTime[i]!, n: respawns[i]! };
          if (w.respawn && !step.restart) {
            // A slot that starts again from zero (uWSGI keeps counters across an ordinary respawn;
            // this is the slot reset of a reload). Only a counter seen to go down, or a respawn
            // count that went back, can tell; the same numbers again cannot.
            requests[i] = 0;
            runningTime[i] = 0;
            respawns[i] = 1;
          }
          requests[i]! += w.add;
          runningTime[i]! += w.addTime;
          const seen = prev?.workers[String(i + 1)];
          if (seen && w.respawn && !step.restart && (requests[i]! < before.r || runningTime[i]! < before.t || respawns[i]! < before.n)) reset = true;
          present.push(i);
        });
        const workers: Body[] = present.map((i) => ({ type: 'worker', worker_id: i + 1, pid: pid * 10 + i, requests: requests[i], running_time: runningTime[i], respawn_count: respawns[i] }));
        const summary: Body = { type: 'summary', pid, listen_queue: 0, workers_busy: 0, requests: present.reduce((n, i) => n + requests[i]!, 0) };
        const r = applyRates([summary, ...workers], time, prev, 10 * 60_000);
        for (const b of [summary, ...workers]) {
          for (const [k, v] of Object.entries(b)) {
            if (k.endsWith('_delta')) expect(v as number, k).to.be.at.least(0);
            if (k.endsWith('_per_sec') || k === 'mean_rt' || k === 'rate_interval') expect(Number.isFinite(v), k).to.equal(true);
          }
        }
        if (prev) {
          expect(summary.counters_reset, JSON.stringify(step)).to.equal(reset);
          for (const w of workers) sum += w.requests_delta as number;
          expect(summary.requests_delta).to.equal(sum);
        }
        prev = r.state;
      }
    }), { numRuns: 500 });
  });

  it('gives a delta equal to what was added when nothing reset', () => {
    fc.assert(fc.property(fc.array(fc.nat(10_000), { minLength: 1, maxLength: 20 }), (adds) => {
      let prev: RateState | undefined;
      let total = 0;
      let time = 1_800_000_000_000;
      for (const add of adds) {
        total += add;
        time += 10_000;
        const w: Body = { type: 'worker', worker_id: 1, pid: 5, requests: total, running_time: total * 7, respawn_count: 1 };
        const s: Body = { type: 'summary', pid: 4 };
        const r = applyRates([s, w], time, prev, 60_000);
        if (prev) {
          expect([w.requests_delta, s.requests_delta, s.counters_reset]).to.deep.equal([add, add, false]);
          expect(w.requests_per_sec).to.equal(Math.round((add / 10) * 1000) / 1000);
          if (add > 0) expect(w.mean_rt).to.equal(7);
        }
        prev = r.state;
      }
    }), { numRuns: 300 });
  });
});
