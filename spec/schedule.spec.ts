// The scheduler, driven by a fake clock: no spec here sleeps.

import { expect } from 'chai';
import { alignedEvery, cronNext, cronProblem, scheduler, type Clock } from '../lib/schedule.js';

/** A clock the spec moves by hand; timers fire in order as time passes them. */
function fakeClock(start: number) {
  let now = start;
  let timers: { at: number; fn: () => void; id: number }[] = [];
  let ids = 0;
  const clock: Clock = {
    now: () => now,
    setTimer(fn, ms) {
      const t = { at: now + ms, fn, id: ids++ };
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
});
