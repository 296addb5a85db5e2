// The sender (lib/sinks/sender.ts) on a fake clock, in front of a real backlog and spool (a temp
// directory), driven by a fake receiver that answers from a script: ok, retry (the receiver is
// away), refuse (400), or hang until the spec answers. No real timer runs: time moves only when a
// spec moves it, so every delay is exact and every case deterministic.

import { divertStderr } from '../../lib/fdout.js';
import { expect } from 'chai';
import { readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTime } from '../../lib/proc.js';
import { Backlog } from '../../lib/sinks/backlog.js';
import { Sender, type Clock, type Outcome, type Receiver, type Sleep } from '../../lib/sinks/sender.js';
import { Spool } from '../../lib/sinks/spool.js';
import { cleanup, tempDir } from '../helpers/servers.js';

const NAME = 'http://127.0.0.1:9/t';
const T0 = 1_800_000_000_000;
const AWAY = 'connection refused (is it running, on this port?)';
const error = (m: string) => `wsgistat: error [sink ${NAME}] ${m}`;
const warning = (m: string) => `wsgistat: warning [sink ${NAME}] ${m}`;

/** Lets every promise chain that can run, run (no timer involved). */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

/** Time that moves only on next(); `slept` lists every sleep asked for, in order. */
class FakeClock implements Clock {
  t = T0;
  readonly slept: number[] = [];
  private timers: { at: number; n: number; fire: () => void }[] = [];
  private n = 0;
  constructor(readonly random: () => number = () => 0.5) {}
  now = () => this.t;
  sleep(ms: number): Sleep {
    this.slept.push(ms);
    let fire!: () => void;
    const done = new Promise<void>((r) => (fire = r));
    const timer = { at: this.t + ms, n: this.n++, fire };
    this.timers.push(timer);
    return {
      done,
      cut: () => {
        this.timers = this.timers.filter((x) => x !== timer);
        fire();
      },
    };
  }
  get pending(): number {
    return this.timers.length;
  }
  /** Moves to the next timer, fires it, and lets what it started run. */
  async next(): Promise<void> {
    this.timers.sort((a, b) => a.at - b.at || a.n - b.n);
    const timer = this.timers.shift();
    if (!timer) throw new Error('nothing waits on the clock');
    this.t = timer.at;
    timer.fire();
    await flush();
  }
}

type Step = 'ok' | 'retry' | 'refuse' | 'hang';

/** Answers each request with the next step (ok once the script is done); `hung` answers a hang. */
class FakeReceiver implements Receiver {
  readonly sent: string[][] = [];
  private readonly hung: ((o: Outcome) => void)[] = [];
  constructor(private readonly steps: Step[] = []) {}
  send(lines: string[]): Promise<Outcome> {
    this.sent.push([...lines]);
    const step = this.steps.shift() ?? 'ok';
    if (step === 'ok') return Promise.resolve({ ok: true });
    if (step === 'retry') return Promise.resolve({ ok: false, retry: true, reason: AWAY });
    if (step === 'refuse') return Promise.resolve({ ok: false, retry: false, status: 400, reason: '400 Bad Request' });
    return new Promise((r) => this.hung.push(r));
  }
  answer(o: Outcome): void {
    const r = this.hung.shift();
    if (!r) throw new Error('no request hangs');
    r(o);
  }
}

const batch = (b: number, n = 3) => Array.from({ length: n }, (_, i) => JSON.stringify({ batch: b, i }));

describe('the sender', () => {
  const dirs: string[] = [];
  let stderr: string[];
  beforeEach(() => {
    stderr = [];
    // lib/log.ts writes fd 2 through lib/fdout.ts: its lines are taken there.
    divertStderr((s) => void stderr.push(...s.split('\n').filter(Boolean)));
  });
  afterEach(() => {
    divertStderr(undefined);
    dirs.splice(0).forEach(cleanup);
  });

  /** A sink's backlog and sender on a fresh spool, as deliverySink composes them. */
  function rig(steps: Step[] = [], opts: { random?: () => number; spoolMax?: number; dir?: string } = {}) {
    const dir = opts.dir ?? join(tempDir(), 'spool');
    if (!opts.dir) dirs.push(join(dir, '..'));
    const clock = new FakeClock(opts.random);
    const rx = new FakeReceiver(steps);
    const backlog = new Backlog(new Spool(dir, opts.spoolMax ?? 1 << 30), NAME, () => sender.start());
    const sender = new Sender(backlog, rx, clock, `sink ${NAME}`);
    backlog.open();
    const accept = (lines: string[]) => {
      backlog.accept(lines);
      sender.wake();
    };
    const close = async (graceMs: number) => {
      await sender.close(graceMs);
      return backlog.close();
    };
    /** The spool's batches, oldest first, as the lines in each file. */
    const spooled = () => readdirSync(dir).filter((f) => f.endsWith('.ndjson')).sort().map((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean));
    return { dir, clock, rx, backlog, sender, accept, close, spooled };
  }

  it('sends the batches in the order they came, the backlog that built up behind a request in one request', async () => {
    const r = rig(['hang']);
    r.accept(batch(1));
    await flush();
    r.accept(batch(2));
    r.accept(batch(3));
    r.rx.answer({ ok: true });
    await flush();
    r.accept(batch(4));
    await flush();
    expect(r.rx.sent).to.deep.equal([batch(1), [...batch(2), ...batch(3)], batch(4)]);
    expect(r.backlog.counts).to.deep.equal({ delivered: 12, deadLettered: 0, dropped: 0 });
    expect([r.backlog.pending(), r.spooled(), stderr, r.clock.slept]).to.deep.equal([0, [], [], []]);
  });

  it('backs off with full jitter, 100 ms doubling up to 30 s, and from the start again after a delivery', async () => {
    const r = rig([...Array<Step>(12).fill('retry'), 'ok', 'retry', 'ok'], { random: () => 0.5 });
    r.accept(batch(1));
    await flush();
    for (let i = 0; i < 12; i++) await r.clock.next();
    expect(r.clock.slept).to.deep.equal([50, 100, 200, 400, 800, 1600, 3200, 6400, 12800, 15000, 15000, 15000]);
    expect(r.rx.sent).to.deep.equal(Array(13).fill(batch(1)));
    r.accept(batch(2));
    await flush();
    await r.clock.next();
    expect(r.clock.slept.slice(12)).to.deep.equal([50]);
    expect(r.rx.sent.slice(13)).to.deep.equal([batch(2), batch(2)]);
    // One line when the failures begin and one when they end (70.55 s later), for each run of them.
    expect(stderr).to.deep.equal([
      error(`${AWAY}; keeping the records in the spool ${r.dir} and retrying`),
      warning('delivering again after 71 s; 0 records still to send'),
      error(`${AWAY}; keeping the records in the spool ${r.dir} and retrying`),
      warning('delivering again after 0 s; 0 records still to send'),
    ]);
    expect(r.clock.pending).to.equal(0);
  });

  it('puts the whole backlog in the spool at the first failure, and every batch after it until a delivery', async () => {
    const r = rig(['hang', 'retry', 'ok']);
    r.accept(batch(1));
    await flush();
    r.accept(batch(2));
    r.accept(batch(3));
    expect(r.spooled(), 'in memory while the receiver keeps up').to.deep.equal([]);
    r.rx.answer({ ok: false, retry: true, reason: AWAY });
    await flush();
    expect(r.spooled()).to.deep.equal([batch(1), batch(2), batch(3)]);
    r.accept(batch(4));
    expect(r.spooled(), 'on disk at once behind a failure').to.deep.equal([batch(1), batch(2), batch(3), batch(4)]);
    await r.clock.next();
    await r.clock.next();
    expect(r.rx.sent).to.deep.equal([batch(1), ...Array(2).fill([...batch(1), ...batch(2), ...batch(3), ...batch(4)])]);
    expect(r.spooled()).to.deep.equal([]);
    r.accept(batch(5));
    expect(r.spooled(), 'in memory again').to.deep.equal([]);
    expect(r.backlog.counts).to.deep.equal({ delivered: 12, deadLettered: 0, dropped: 0 });
  });

  it('isolates the batch a receiver refuses: the request alone again, one batch, dead-lettered; the rest goes on together', async () => {
    const r = rig(['hang', 'refuse', 'refuse', 'ok']);
    r.accept(batch(0, 1));
    await flush();
    for (const b of [1, 2, 3]) r.accept(batch(b));
    r.rx.answer({ ok: true });
    await flush();
    expect(r.rx.sent).to.deep.equal([batch(0, 1), [...batch(1), ...batch(2), ...batch(3)], batch(1), [...batch(2), ...batch(3)]]);
    const dead = join(r.dir, 'dead-letter.jsonl');
    expect(stderr).to.deep.equal([error(`the receiver refused a batch of 3 records (400: 400 Bad Request); not retried, written to ${dead}`)]);
    const letters = readFileSync(dead, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(letters.map(({ time: _, ...l }) => l)).to.deep.equal([{ sink: NAME, status: 400, reason: '400 Bad Request', records: batch(1).map((l) => JSON.parse(l)) }]);
    expect(r.backlog.counts).to.deep.equal({ delivered: 7, deadLettered: 3, dropped: 0 });
    expect(r.clock.slept, 'a refusal is not retried').to.deep.equal([]);
  });

  it('at close, retries up to the deadline, its backoff cut to the time left, then spools the rest and counts it', async () => {
    const r = rig(Array<Step>(20).fill('retry'));
    r.accept(batch(1));
    await flush();
    r.accept(batch(2, 2));
    let undelivered: number | undefined;
    void r.close(1000).then((n) => (undelivered = n));
    await flush();
    while (undelivered === undefined) await r.clock.next();
    // Backoffs 50, 100, 200, 400, then 250 ms left; the close waits 1000 ms for the loop.
    expect(r.clock.slept).to.deep.equal([50, 1000, 100, 200, 400, 250]);
    expect(r.clock.t - T0).to.equal(1000);
    expect(undelivered).to.equal(5);
    expect(r.spooled()).to.deep.equal([batch(1), batch(2, 2)]);
    expect(r.rx.sent.slice(0, 5)).to.deep.equal([batch(1), ...Array(4).fill([...batch(1), ...batch(2, 2)])]);
    // Today the deadline ends the last backoff and the loop sends once more; its answer is not used.
    expect(r.rx.sent.slice(5)).to.deep.equal([[...batch(1), ...batch(2, 2)]]);
    expect(stderr).to.deep.equal([
      error(`${AWAY}; keeping the records in the spool ${r.dir} and retrying`),
      error(`5 records not delivered; they wait in the spool ${r.dir} for the next run`),
    ]);
    expect(r.clock.pending).to.equal(0);
  });

  it('at close, leaves a request that hangs past the deadline in the spool, and ignores its late answer', async () => {
    const r = rig(['hang']);
    r.accept(batch(1));
    await flush();
    let undelivered: number | undefined;
    void r.close(500).then((n) => (undelivered = n));
    await flush();
    await r.clock.next();
    await flush();
    expect([undelivered, r.clock.t - T0, r.spooled()]).to.deep.equal([3, 500, [batch(1)]]);
    r.rx.answer({ ok: true });
    await flush();
    expect(r.backlog.counts, 'sent again next run: at least once').to.deep.equal({ delivered: 0, deadLettered: 0, dropped: 0 });
    expect(r.spooled()).to.deep.equal([batch(1)]);
    expect(stderr).to.deep.equal([error(`3 records not delivered; they wait in the spool ${r.dir} for the next run`)]);
  });

  it('returns from close at once, with everything delivered, when nothing is left', async () => {
    const r = rig();
    r.accept(batch(1));
    await flush();
    expect(await r.close(60_000)).to.equal(0);
    expect([r.clock.slept, r.rx.sent, stderr]).to.deep.equal([[], [batch(1)], []]);
  });

  it('on abort, ends a close in backoff at once, without waiting on the clock', async () => {
    const r = rig(['retry', 'retry', 'retry', 'retry']);
    r.accept(batch(1));
    await flush();
    await r.clock.next();
    await r.clock.next();
    let undelivered: number | undefined;
    void r.close(60_000).then((n) => (undelivered = n));
    await flush();
    expect(undelivered, 'still retrying').to.equal(undefined);
    const before = r.clock.t;
    r.sender.abort();
    await flush();
    expect([undelivered, r.clock.t, r.spooled()]).to.deep.equal([3, before, [batch(1)]]);
    // Today the cut backoff lets the loop send once more (its answer is not used), then it stops.
    expect([r.rx.sent, r.clock.slept]).to.deep.equal([Array(4).fill(batch(1)), [50, 100, 200, 60_000]]);
    expect(r.backlog.counts).to.deep.equal({ delivered: 0, deadLettered: 0, dropped: 0 });
  });

  it('on abort before close, closes at once while a request hangs', async () => {
    const r = rig(['hang']);
    r.accept(batch(1));
    await flush();
    r.sender.abort();
    let undelivered: number | undefined;
    void r.close(60_000).then((n) => (undelivered = n));
    await flush();
    await r.clock.next(); // the close's wait for the loop: 0 ms left
    expect([undelivered, r.clock.slept, r.clock.t, r.spooled()]).to.deep.equal([3, [0], T0, [batch(1)]]);
  });

  it('resolves idle() when the receiver has taken everything', async () => {
    const r = rig(['hang']);
    r.accept(batch(1));
    let idle = false;
    void r.sender.idle().then(() => (idle = true));
    await flush();
    expect(idle).to.equal(false);
    r.rx.answer({ ok: true });
    await flush();
    expect(idle).to.equal(true);
  });

  describe('with another run holding the spool', () => {
    /** Another run, alive, holds the lock of `dir` (its text names our parent process, as tryLock
     *  would write it); release() is what its unlock() does. */
    function holder(dir: string): { release(): void } {
      new Spool(dir, 1 << 30); // makes the directory, as the holder's run did
      const lock = join(dir, 'lock');
      writeFileSync(lock, `${process.ppid} ${startTime(process.ppid) ?? ''}`.trim(), { mode: 0o600, flag: 'wx' });
      return { release: () => unlinkSync(lock) };
    }

    it('waits at close for the lock, polling, then takes it and sends what it handed over', async () => {
      const dir = join(tempDir(), 'spool');
      dirs.push(join(dir, '..'));
      const h = holder(dir);
      const r = rig([], { dir });
      r.accept(batch(1));
      await flush();
      expect([r.rx.sent, r.spooled(), r.backlog.pending()]).to.deep.equal([[], [batch(1)], 3]);
      let undelivered: number | undefined;
      void r.close(1000).then((n) => (undelivered = n));
      await flush();
      await r.clock.next();
      expect(undelivered, 'the lock is still held').to.equal(undefined);
      h.release();
      await r.clock.next();
      await flush();
      expect(undelivered).to.equal(0);
      expect(r.clock.slept, 'two polls of 25 + 50 × random ms').to.deep.equal([50, 50]);
      expect([r.rx.sent, r.spooled()]).to.deep.equal([[batch(1)], []]);
      expect(stderr).to.deep.equal([warning(`another wsgistat is sending the spool ${dir} now; this run's records go in it for that run (or this one, once it is done)`)]);
    });

    it('stops waiting at close once the holder has sent what it handed over', async () => {
      const dir = join(tempDir(), 'spool');
      dirs.push(join(dir, '..'));
      holder(dir);
      const r = rig([], { dir });
      r.accept(batch(1));
      let undelivered: number | undefined;
      void r.close(1000).then((n) => (undelivered = n));
      await flush();
      await r.clock.next();
      expect(undelivered).to.equal(undefined);
      for (const f of readdirSync(dir).filter((n) => n.endsWith('.ndjson'))) unlinkSync(join(dir, f)); // the holder sent it
      await r.clock.next();
      expect([undelivered, r.rx.sent, r.clock.slept]).to.deep.equal([0, [], [50, 50]]);
      expect(stderr).to.have.length(1);
    });

    it('gives up waiting at the deadline and leaves its batches in the spool for the holder', async () => {
      const dir = join(tempDir(), 'spool');
      dirs.push(join(dir, '..'));
      holder(dir);
      const r = rig([], { dir });
      r.accept(batch(1));
      let undelivered: number | undefined;
      void r.close(120).then((n) => (undelivered = n));
      await flush();
      while (undelivered === undefined) await r.clock.next();
      expect([undelivered, r.rx.sent, r.clock.slept, r.spooled()]).to.deep.equal([3, [], [50, 50, 50], [batch(1)]]);
      expect(stderr.at(-1)).to.equal(error(`3 records not delivered; they wait in the spool ${dir} for the next run`));
    });
  });
});
