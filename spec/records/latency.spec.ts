// Percentiles from latency histograms (lib/records/latency.ts), and the gunicorn format-2 rates
// that use them: the summary counts from the server's own totals, which keep dead workers' counts.

import { expect } from 'chai';
import fc from 'fast-check';
import { bucketOf, BUCKETS, histogramDelta, lowerUs, percentiles, toSparse } from '../../lib/records/latency.js';
import { applyRates } from '../../lib/records/rates.js';
import type { Body } from '../../lib/records/types.js';

const histogramOf = (us: number[]) => {
  const h = new Array<number>(BUCKETS).fill(0);
  for (const t of us) h[bucketOf(t)]!++;
  return h;
};
const nearestRank = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.max(1, Math.ceil((p / 100) * xs.length)) - 1]!;

describe('latency percentiles', () => {
  it('are within 7.2 % (and the rounding to a whole µs) of the true nearest-rank percentile from 16 µs to 600 s (property)', () => {
    fc.assert(fc.property(fc.array(fc.double({ min: 16, max: 6e8, noNaN: true }), { minLength: 1, maxLength: 400 }), (us) => {
      const got = percentiles(histogramOf(us));
      for (const [name, p] of [['rt_p50', 50], ['rt_p90', 90], ['rt_p99', 99]] as const) {
        const truth = nearestRank(us, p);
        // 7.2 % of the bucket, plus the rounding to a whole µs.
        expect(Math.abs(got[name]! - truth), `${name}: ${got[name]} for ${truth}`).to.be.at.most(truth * 0.0725 + 0.5);
      }
    }));
  });

  it('are absent when no request ended, and read 16 µs below the first bucket', () => {
    expect(percentiles(new Array(BUCKETS).fill(0))).to.deep.equal({});
    expect(percentiles(histogramOf([3, 5, 9]))).to.deep.equal({ rt_p50: 16, rt_p90: 16, rt_p99: 16 });
  });

  it('have bucket edges that double every five buckets, from 16 µs', () => {
    expect([lowerUs(1), lowerUs(6), lowerUs(11)]).to.deep.equal([16, 32, 64]);
    expect([bucketOf(15.9), bucketOf(16), bucketOf(31.9), bucketOf(32), bucketOf(1e13)]).to.deep.equal([0, 1, 5, 6, BUCKETS - 1]);
  });

  it('come from the change of a histogram; a bucket that went down means it started again', () => {
    const a = histogramOf([100, 200, 300]);
    const b = histogramOf([100, 200, 300, 5000, 5000]);
    expect(histogramDelta(b, toSparse(a))).to.deep.equal({ delta: histogramOf([5000, 5000]), reset: false });
    expect(histogramDelta(a, toSparse(b))).to.deep.equal({ delta: a, reset: true });
    expect(histogramDelta(a, undefined)).to.deep.equal({ delta: a, reset: false });
  });
});

describe('rates of a gunicorn with the format-2 hooks', () => {
  const summary = (requests: number, running: number, pid = 10): Body => ({ type: 'summary', pid, requests, running_time: running, status_2xx: requests });
  const worker = (id: number, requests: number, running: number): Body => ({ type: 'worker', worker_id: id, pid: id, requests, running_time: running, status_2xx: requests });

  it('takes the summary change from the server totals, so a worker recycled in the interval loses nothing', () => {
    // Worker 11 served 5 more, then was recycled: its record is gone and the master's totals hold
    // them. Summed worker changes would say 3; the server served 8.
    const h1 = new Map([['summary', histogramOf(Array(20).fill(1000))], ['11', histogramOf(Array(20).fill(1000))]]);
    const first = applyRates([summary(20, 20_000), worker(11, 20, 20_000)], 1_000, undefined, 600_000, { histograms: h1, ownTotals: true });
    const h2 = new Map([['summary', histogramOf([...Array(25).fill(1000), 8000, 8000, 8000])], ['12', histogramOf([8000, 8000, 8000])]]);
    const bodies = [summary(28, 49_000), worker(12, 3, 24_000)];
    applyRates(bodies, 11_000, first.state, 600_000, { histograms: h2, ownTotals: true });
    // The interval's 8 requests: 5 of 1 ms, 3 of 8 ms. Their buckets' geometric middles: 955 µs
    // ([891, 1024)) and 7643 µs ([7132, 8192)). The whole histogram would give a p90 of 955.
    expect(bodies[0]).to.include({ requests_delta: 8, running_time_delta: 29_000, mean_rt: 3625, counters_reset: false, rt_p50: 955, rt_p90: 7643, rt_p99: 7643 });
    expect(bodies[1]).to.include({ requests_delta: 3, rt_p50: 7643, rt_p99: 7643 });
  });

  it('counts from zero, and says so, when the master restarted', () => {
    const first = applyRates([summary(50, 50_000)], 1_000, undefined, 600_000, { ownTotals: true, histograms: new Map([['summary', histogramOf(Array(50).fill(1000))]]) });
    const bodies = [summary(4, 4_000, 99)];
    applyRates(bodies, 2_000, first.state, 600_000, { ownTotals: true, histograms: new Map([['summary', histogramOf(Array(4).fill(1000))]]) });
    expect(bodies[0]).to.include({ requests_delta: 4, counters_reset: true, rt_p50: 955 });
  });
});
