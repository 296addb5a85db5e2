import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { applyRates, type RateState } from '../../lib/records/rates.js';
import { decodeJson } from '../../lib/sources/json.js';
import { shapeUwsgi } from '../../lib/sources/uwsgi/shape.js';
import type { Body } from '../../lib/records/types.js';

const GAP = 10 * 60 * 1000;

function sample(pid: number, workers: Partial<Record<string, number>>[], extra: Body = { type: 'summary' }): Body[] {
  const ws: Body[] = workers.map((w, i) => ({
    type: 'worker', worker_id: i + 1, pid: 100 + i, status: 'idle', requests: 0, exceptions: 0, harakiri_count: 0,
    signals: 0, tx: 0, running_time: 0, respawn_count: 1, ...w,
  }) as Body);
  const summary: Body = { ...extra, type: 'summary', pid, listen_queue: 0, workers_busy: 0 };
  for (const k of ['requests', 'exceptions', 'harakiri_count', 'signals', 'tx', 'running_time', 'respawn_count']) {
    summary[k] = ws.reduce((s, w) => s + (w[k] as number), 0);
  }
  return [{ ...summary, ...extra, type: 'summary' }, ...ws];
}

function series(samples: [number, Body[]][]): Body[][] {
  let state: RateState | undefined;
  return samples.map(([t, bodies]) => {
    state = applyRates(bodies, t, state, GAP).state;
    return bodies;
  });
}

const zeros = (keys: string[]) => Object.fromEntries(keys.flatMap((k) => [[`${k}_delta`, 0], [`${k}_per_sec`, 0]]));
const OTHER = ['exceptions', 'harakiri_count', 'signals', 'respawn_count'];

describe('rates', () => {
  it('adds no rate fields to a first sample', () => {
    const [s] = series([[1000, sample(1, [{ requests: 5 }])]]);
    expect(s![0]).to.not.have.any.keys('rate_interval', 'requests_delta', 'stalled', 'counters_reset');
  });

  it('turns counters into changes and per-second rates, and gives the true mean request time', () => {
    const [, second] = series([
      [0, sample(1, [{ requests: 10, running_time: 5000, tx: 1000 }, { requests: 4, running_time: 1000, tx: 100 }])],
      [10_000, sample(1, [{ requests: 30, running_time: 9000, tx: 3000, avg_rt: 999 }, { requests: 4, running_time: 1000, tx: 100 }])],
    ]);
    const [summary, w1, w2] = second!;
    expect(summary).to.deep.include({
      rate_interval: 10, mean_rt: 200, requests_delta: 20, requests_per_sec: 2, running_time_delta: 4000, running_time_per_sec: 400,
      tx_delta: 2000, tx_per_sec: 200, stalled: false, counters_reset: false, ...zeros(OTHER),
    });
    expect(w1).to.deep.include({ rate_interval: 10, mean_rt: 200, requests_delta: 20, requests_per_sec: 2, avg_rt: 999 });
    expect(w2).to.deep.include({ rate_interval: 10, requests_delta: 0, requests_per_sec: 0 });
    expect(w2, 'no mean without a request').to.not.have.property('mean_rt');
  });

  it('follows a respawned worker whose slot keeps its counters (uWSGI), without a spike', () => {
    const [, second] = series([
      [0, sample(1, [{ pid: 100, requests: 5, respawn_count: 1 }])],
      [5_000, sample(1, [{ pid: 555, requests: 7, respawn_count: 3 }])],
    ]);
    expect(second![1]).to.deep.include({ requests_delta: 2, respawn_count_delta: 2, respawn_count_per_sec: 0.4 });
  });

  it('counts from zero when a slot was reset (respawn_count went down) or a counter went down', () => {
    const [, second] = series([
      [0, sample(1, [{ requests: 500, respawn_count: 4 }, { requests: 300, tx: 900 }])],
      [10_000, sample(1, [{ requests: 3, respawn_count: 1 }, { requests: 310, tx: 50 }])],
    ]);
    const [summary, w1, w2] = second!;
    expect(w1).to.deep.include({ requests_delta: 3, respawn_count_delta: 1 });
    expect(w2).to.deep.include({ requests_delta: 10, tx_delta: 50 });
    expect(summary).to.deep.include({ requests_delta: 13, tx_delta: 50, counters_reset: true });
  });

  it('says a counter reset happened for each kind of reset, and not for a respawn that kept its counters', () => {
    const resetOf = (a: Body[], b: Body[]) => series([[0, a], [10_000, b]])[1]![0]!.counters_reset;
    expect(resetOf(sample(1, [{ requests: 5, respawn_count: 3 }]), sample(1, [{ requests: 9, respawn_count: 1 }])), 'respawn_count down').to.equal(true);
    expect(resetOf(sample(1, [{ requests: 5 }]), sample(1, [{ requests: 9, tx: 0 }], { type: 'summary' })), 'nothing went down').to.equal(false);
    expect(resetOf(sample(1, [{ tx: 5 }]), sample(1, [{ tx: 4 }])), 'one counter down').to.equal(true);
    expect(resetOf(sample(1, [{ pid: 100, requests: 5, respawn_count: 1 }]), sample(1, [{ pid: 900, requests: 6, respawn_count: 2 }])), 'respawn').to.equal(false);
    // A counter only the summary carries (gunicorn's TotalAccesses) rewritten from zero.
    const own = (n: number): Body[] => [{ type: 'summary', pid: 7, requests: n }];
    expect(resetOf(own(50), own(3))).to.equal(true);
    expect(series([[0, own(50)], [10_000, own(3)]])[1]![0]).to.deep.include({ requests_delta: 3 });
    expect(resetOf(own(50), own(53))).to.equal(false);
  });

  it('counts from zero after a server restart (new master pid), never negative', () => {
    const [, second] = series([
      [0, sample(1, [{ requests: 1000 }, { requests: 900 }])],
      [10_000, sample(2, [{ requests: 6 }, { requests: 1200 }])],
    ]);
    expect(second![0]).to.deep.include({ requests_delta: 1206, requests_per_sec: 120.6, counters_reset: true });
  });

  it('takes nothing away for a slot that disappears, and counts a new slot from zero', () => {
    const [, second] = series([
      [0, sample(1, [{ requests: 10 }, { requests: 10 }])],
      [10_000, sample(1, [{ requests: 15 }])],
    ]);
    expect(second![0]).to.deep.include({ requests_delta: 5, counters_reset: false });
    const [, third] = series([
      [0, sample(1, [{ requests: 10 }])],
      [10_000, sample(1, [{ requests: 15 }, { requests: 4 }])],
    ]);
    expect(third![0]).to.deep.include({ requests_delta: 9, counters_reset: false });
  });

  it('gives no rates, and says why, when the previous sample is too old or from the future', () => {
    const prev = applyRates(sample(1, [{ requests: 1 }]), 0, undefined, GAP).state;
    const old = applyRates(sample(1, [{ requests: 2 }]), GAP + 1, prev, GAP);
    expect(old.notice).to.equal('the previous sample is 600 s old, more than --max-gap (600 s): no rates this time');
    const future = sample(1, [{ requests: 2 }]);
    expect(applyRates(future, -5000, prev, GAP).notice).to.equal('the previous sample is newer than this one (the clock went back?): no rates this time');
    expect(applyRates(sample(1, [{ requests: 2 }]), 0, prev, GAP)).to.deep.equal({ state: applyRates(sample(1, [{ requests: 2 }]), 0, undefined, GAP).state });
    expect(future[0]).to.not.have.property('requests_delta');
  });

  describe('the stuck-server signature', () => {
    it('is found in a series recorded from real uWSGI whose workers froze while clients queued', () => {
      const docs = [1, 2, 3, 4].map((i) => {
        const bytes = readFileSync(fileURLToPath(new URL(`../../../spec/fixtures/uwsgi/stalled-${i}.json`, import.meta.url)));
        return shapeUwsgi(decodeJson(bytes, 'x').value, { records: new Set(['summary', 'worker']), vars: { kind: 'none' } });
      });
      const out = series(docs.map((d, i) => [i * 10_000, d]));
      expect(out.map((b) => [b[0]!.listen_queue, b[0]!.workers_idle, b[0]!.requests_delta, b[0]!.stalled])).to.deep.equal([
        [0, 2, undefined, undefined],
        [5, 2, 0, true],
        [5, 2, 0, true],
        [0, 2, 5, false],
      ]);
    });

    const stuck = (queue: number, busy = 0) => ({ type: 'summary' as const, listen_queue: queue, workers_busy: busy });
    it('is set when connections wait and grow while no worker is busy and nothing moves', () => {
      const s = series([
        [0, sample(1, [{ requests: 10 }], stuck(0))],
        [10_000, sample(1, [{ requests: 10 }], stuck(4))],
        [20_000, sample(1, [{ requests: 10 }], stuck(9))],
        [30_000, sample(1, [{ requests: 10 }], stuck(9))],
        [40_000, sample(1, [{ requests: 12 }], stuck(3))],
      ]);
      expect(s.map((b) => b[0]!.stalled)).to.deep.equal([undefined, true, true, true, false]);
    });

    it('is not set for a busy server with a queue, or an idle one without', () => {
      const s = series([
        [0, sample(1, [{ requests: 10 }], stuck(0))],
        [10_000, sample(1, [{ requests: 10 }], stuck(5, 2))],
        [20_000, sample(1, [{ requests: 10 }], stuck(0))],
      ]);
      expect(s.map((b) => b[0]!.stalled)).to.deep.equal([undefined, false, false]);
    });
  });
});

describe('the frozen-worker rule (uWSGI, from the second sample)', () => {
  const idle = { status: 'idle', accepting: 1 } as unknown as Partial<Record<string, number>>;
  const queued = (n: number) => ({ type: 'summary', listen_queue: n, workers_idle: 3, workers_accepting: 3 }) as Body;
  const at = (requests: number[], queue: number) => {
    const bodies = sample(1, requests.map((r) => ({ ...idle, requests: r })), queued(queue));
    bodies[0]!.listen_queue = queue;
    return bodies;
  };

  it('flags a worker called idle and accepting whose counters stand still while connections queue and a sibling serves', () => {
    const [, second] = series([[1000, at([10, 20, 30], 4)], [11_000, at([10, 45, 60], 5)]]);
    const [summary, w1, w2, w3] = second!;
    expect(w1).to.include({ stuck: true, stuck_reason: 'frozen', requests_delta: 0 });
    expect([w2, w3].map((w) => w!.stuck)).to.deep.equal([undefined, undefined]);
    expect(summary).to.include({ workers_stuck: 1, workers_idle: 2, workers_accepting: 2, workers_idle_reported: 3, workers_accepting_reported: 3 });
  });

  it('flags nothing without a queue at both samples, when nobody served (the server is stalled), or for a new pid', () => {
    const none = (a: Body[], b: Body[]) => series([[1000, a], [11_000, b]])[1]!.filter((w) => w.stuck === true);
    expect(none(at([10, 20], 0), at([10, 45], 5))).to.deep.equal([]); // no queue before
    expect(none(at([10, 20], 3), at([10, 45], 0))).to.deep.equal([]); // no queue now
    const stalled = series([[1000, at([10, 20], 3)], [11_000, at([10, 20], 6)]])[1]!;
    expect(stalled.filter((w) => w.stuck === true)).to.deep.equal([]);
    expect(stalled[0]).to.include({ stalled: true }); // the whole server: the stall rule's case
    const respawned = at([0, 45], 5);
    respawned[1]!.pid = 999;
    expect(none(at([10, 20], 3), respawned)).to.deep.equal([]);
  });
});
