// Pure: request-time percentiles from the change of a latency histogram between two samples.
//
// The histogram is the one the format-2 gunicorn hooks keep per worker: 128 buckets, bucket 0 for
// times under 16 µs, bucket k (1..126) for [2^((k+19)/5), 2^((k+20)/5)) µs, five per doubling,
// bucket 127 for everything from about 617 s on. The p-th percentile is the request time of
// nearest rank ceil(p/100 · n) among the n requests that ended in the interval; it is estimated as
// the geometric middle of the bucket that holds that rank, so the estimate is within a factor of
// 2^(1/10) (7.2 %) of the true value between 16 µs and 617 s, then rounded to a whole µs. Under 16 µs it reads 16; in the last
// bucket, 617 s.

export const BUCKETS = 128;
const PER_OCTAVE = 5;
const FIRST_US = 16;

/** The lower bound of bucket k, µs (k ≥ 1). */
export const lowerUs = (k: number) => 2 ** ((k + PER_OCTAVE * 4 - 1) / PER_OCTAVE);

/** The bucket a request time in µs falls into, as the hooks compute it (for specs and fixtures). */
export function bucketOf(us: number): number {
  if (us < FIRST_US) return 0;
  const k = Math.floor(Math.log2(us) * PER_OCTAVE) - (PER_OCTAVE * 4 - 1);
  return Math.min(k, BUCKETS - 1);
}

function estimate(k: number): number {
  if (k === 0) return FIRST_US;
  if (k === BUCKETS - 1) return Math.round(lowerUs(k));
  return Math.round(lowerUs(k) * 2 ** (0.5 / PER_OCTAVE));
}

export const PERCENTILES = [['rt_p50', 50], ['rt_p90', 90], ['rt_p99', 99]] as const;

/** Percentiles from buckets with given upper bounds (µs; the last may be Infinity), as
 *  Prometheus's histogram_quantile estimates them: rank q·n, linear within the bucket that holds
 *  it; in the last, open bucket, its lower bound. */
function boundedPercentiles(delta: readonly number[], bounds: readonly number[], n: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, p] of PERCENTILES) {
    const rank = (p / 100) * n;
    let seen = 0;
    for (let k = 0; k < delta.length; k++) {
      const c = delta[k]!;
      if (c > 0 && seen + c >= rank) {
        const lower = k === 0 ? 0 : bounds[k - 1]!;
        const upper = bounds[k] ?? Infinity;
        out[name] = Math.round(Number.isFinite(upper) ? lower + ((upper - lower) * (rank - seen)) / c : lower);
        break;
      }
      seen += c;
    }
  }
  return out;
}

/** rt_p50, rt_p90 and rt_p99 (µs) of a histogram of the requests of an interval; none when no
 *  request ended in it. Without `bounds`, the hooks' 128 buckets; with them, buckets with those
 *  upper bounds in µs (a Prometheus histogram's `le`). */
export function percentiles(delta: readonly number[], bounds?: readonly number[]): Record<string, number> {
  let n = 0;
  for (let k = 0; k < delta.length; k++) n += delta[k]!;
  if (bounds) return n === 0 ? {} : boundedPercentiles(delta, bounds, n);
  const out: Record<string, number> = {};
  if (n === 0) return out;
  // One walk up the buckets for all three: the ranks only grow.
  let i = 0;
  let rank = Math.max(1, Math.ceil((PERCENTILES[0][1] / 100) * n));
  let seen = 0;
  for (let k = 0; k < delta.length && i < PERCENTILES.length; k++) {
    seen += delta[k]!;
    while (seen >= rank) {
      out[PERCENTILES[i]![0]] = estimate(k);
      if (++i === PERCENTILES.length) break;
      rank = Math.max(1, Math.ceil((PERCENTILES[i]![1] / 100) * n));
    }
  }
  return out;
}

/** A histogram kept in the state file: only its non-empty buckets. */
export type Sparse = Record<string, number>;

export function toSparse(h: readonly number[]): Sparse {
  const s: Sparse = {};
  for (let k = 0; k < h.length; k++) if (h[k]) s[k] = h[k]!;
  return s;
}

/** The change of a histogram since the previous one; the whole histogram when there is no
 *  previous one or a bucket went down (it started again from zero). */
export function histogramDelta(now: readonly number[], prev: Sparse | undefined): { delta: number[]; reset: boolean } {
  if (!prev) return { delta: now.slice(), reset: false };
  const delta = new Array<number>(now.length);
  for (let k = 0; k < now.length; k++) {
    const d = now[k]! - (prev[k] ?? 0);
    if (d < 0) return { delta: now.slice(), reset: true };
    delta[k] = d;
  }
  for (const k in prev) if (Number(k) >= now.length) return { delta: now.slice(), reset: true };
  return { delta, reset: false };
}
