// The scheduler, driven by a fake clock: no spec here sleeps.

import { expect } from 'chai';
import fc from 'fast-check';
import { alignedEvery, cronNext, cronProblem, MAX_TIMER_MS, scheduler, type Clock, type Next } from '../lib/schedule.js';

/** A clock the spec moves by hand; timers fire in order as time passes them. */
function fakeClock(start: number) {
  let now = start;
  let timers: { at: number; fn: () => void; id: number }[] = [];
  let ids = 0;
  const clock: Clock = {
    now: () => now,
    setTimer(fn, ms) {
      // As Node does: a delay over 2^31-1 ms is taken as 1 ms.
      const t = { at: now + (ms > MAX_TIMER_MS ? 1 : ms), fn, id: ids++ };
      timers.push(t);
      return { clear: () => (timers = timers.filter((x) => x !== t)) };
    },
  };
  /** Moves time forward to `to`, firing due timers and letting promises settle in between. */
  async function advance(to: number) {
    for (;;) {
      await new Promise((r) => setImmediate(r));
      const due = timers.filter((t) => t.at <= to).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      timers = timers.filter((t) => t !== due);
      now = due.at;
      due.fn();
    }
    now = to;
    await new Promise((r) => setImmediate(r));
  }
  return { clock, advance, pending: () => timers.length };
}

const T0 = Date.UTC(2026, 10, 21, 12, 0, 3, 250); // 12:00:03.250

describe('scheduling', () => {
  it('ticks on the wall clock: every 10 s at :10, :20, :30', async () => {
    const { clock, advance } = fakeClock(T0);
    const s = scheduler(alignedEvery(10_000), clock);
    const ticks: number[] = [];
    const done = s.run(async (due) => void ticks.push(due), () => {});
    await advance(T0 + 30_000);
    s.stop();
    await done;
    expect(ticks.map((t) => new Date(t).toISOString().slice(11, 19))).to.deep.equal(['12:00:10', '12:00:20', '12:00:30']);
  });

  it('reports a tick that fails and goes on with the next', async () => {
    const { clock, advance } = fakeClock(T0);
    const s = scheduler(alignedEvery(10_000), clock);
    const failed: [number, string][] = [];
    const ticks: number[] = [];
    const done = s.run(
      async (due) => {
        ticks.push(due);
        if (ticks.length === 1) throw new Error('boom');
      },
      () => {},
      (due, e) => failed.push([due, (e as Error).message]),
    );
    await advance(T0 + 20_000);
    s.stop();
    await done;
    expect(failed).to.deep.equal([[ticks[0], 'boom']]);
    expect(ticks).to.have.length(2);
  });

  it('skips a tick while the previous one is still running, and says so', async () => {
    const { clock, advance } = fakeClock(T0);
    const s = scheduler(alignedEvery(10_000), clock);
    const started: number[] = [];
    const skipped: [number, number][] = [];
    let release: () => void = () => {};
    const done = s.run(
      (due) => {
        started.push(due);
        // The first tick hangs until released; later ones end at once.
        return started.length === 1 ? new Promise<void>((r) => (release = r)) : Promise.resolve();
      },
      (due, since) => skipped.push([due, since]),
    );
    await advance(T0 + 26_000);
    release();
    await advance(T0 + 31_000);
    s.stop();
    await done;
    const at = (t: number) => new Date(t).toISOString().slice(11, 19);
    expect(started.map(at)).to.deep.equal(['12:00:10', '12:00:30']);
    expect(skipped.map(([d, s]) => [at(d), at(s)])).to.deep.equal([['12:00:20', '12:00:10']]);
  });

  it('on stop, lets the tick in flight finish before it resolves, and starts no other', async () => {
    const { clock, advance, pending } = fakeClock(T0);
    const s = scheduler(alignedEvery(1000), clock);
    let finished = false;
    let release: () => void = () => {};
    let count = 0;
    const done = s.run(() => {
      count++;
      return new Promise<void>((r) => (release = () => ((finished = true), r())));
    }, () => {});
    let resolved = false;
    void done.then(() => (resolved = true));
    await advance(T0 + 1000);
    s.stop();
    await advance(T0 + 5000);
    expect([resolved, count, pending()]).to.deep.equal([false, 1, 0]);
    release();
    await done;
    expect(finished).to.equal(true);
  });

  it('stops at once when no tick is running', async () => {
    const { clock, advance } = fakeClock(T0);
    const s = scheduler(alignedEvery(1000), clock);
    const done = s.run(async () => {}, () => {});
    await advance(T0 + 1500);
    s.stop();
    await done;
  });

  it('finds the next time of a cron expression with seconds, ahead of now', async () => {
    const next = await cronNext('*/10 * * * * *');
    const now = Date.now();
    const due = next(now);
    expect(due).to.be.above(now).and.at.most(now + 10_000);
    expect(due % 10_000).to.equal(0);
  });

  it('explains a bad cron expression field by field', async () => {
    expect(await cronProblem('61 * * * *')).to.equal('minute: 61 is a invalid expression for minute');
    expect(await cronProblem('*/10 * * * * *')).to.equal(undefined);
  });

  /** The due times a scheduler fires between T0 and `to`, on the fake clock. */
  async function firings(next: Next, to: number): Promise<number[]> {
    const { clock, advance } = fakeClock(T0);
    const s = scheduler(next, clock);
    const fired: number[] = [];
    const done = s.run(async (due) => {
      expect(clock.now(), 'fired early').to.be.at.least(due);
      fired.push(due);
    }, () => {});
    await advance(to);
    s.stop();
    await done;
    return fired;
  }

  it('waits out an interval longer than a Node timer can hold, and fires once, on time', async () => {
    const day = 86_400_000;
    const fired = await firings(alignedEvery(30 * day), T0 + 61 * day);
    const first = (Math.floor(T0 / (30 * day)) + 1) * 30 * day;
    expect(fired).to.deep.equal([first, first + 30 * day].filter((t) => t <= T0 + 61 * day));
  });

  it('waits for a cron match a year away, and fires once, on time', async () => {
    const fired = await firings(await cronNext('0 0 1 1 *'), Date.UTC(2028, 0, 2));
    const local = (y: number) => new Date(y, 0, 1, 0, 0, 0).getTime();
    expect(fired).to.deep.equal([local(2027), local(2028)]);
  });

  it('fires every interval exactly at its multiples, whatever its length (property)', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1000, max: 90 * 86_400_000 }), fc.integer({ min: 1, max: 5 }), async (ms, n) => {
      const to = T0 + n * ms;
      const fired = await firings(alignedEvery(ms), to);
      const expected: number[] = [];
      for (let t = (Math.floor(T0 / ms) + 1) * ms; t <= to; t += ms) expected.push(t);
      expect(fired).to.deep.equal(expected);
    }), { numRuns: 60 });
  });

  it('fires a cron expression at each of its matches and nowhere else (property)', async () => {
    const exprs = ['*/7 * * * *', '30 */5 * * * *', '0 0 */6 * * *', '15 10 * * 1', '0 0 29 2 *', '*/10 * * * * *'];
    for (const expr of exprs) {
      const next = await cronNext(expr);
      const fired = await firings(next, T0 + 8 * 86_400_000 / 24);
      const cron = (await import('node-cron')).default;
      const task = cron.createTask(expr, () => {});
      for (const t of fired) expect(task.match(new Date(t)), `${expr} at ${new Date(t).toISOString()}`).to.equal(true);
      for (let i = 1; i < fired.length; i++) expect(next(fired[i - 1]!), expr).to.equal(fired[i]);
      expect(new Set(fired).size, expr).to.equal(fired.length);
    }
  });
});
