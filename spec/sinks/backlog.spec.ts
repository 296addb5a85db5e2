// The backlog (lib/sinks/backlog.ts) on a real spool in a temp directory, without a sender: what
// goes in memory and what on disk, which batches one request takes, what a refusal or a full spool
// costs, how other runs' batches are adopted and how the lock passes between runs that share a
// spool. Every case checks whole requests, the spool's files and the counts.

import { divertStderr } from '../../lib/fdout.js';
import { expect } from 'chai';
import { appendFileSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTime } from '../../lib/proc.js';
import { Backlog, QUEUE_MAX, type Request } from '../../lib/sinks/backlog.js';
import { Spool } from '../../lib/sinks/spool.js';
import { cleanup, tempDir } from '../helpers/servers.js';

const NAME = 'http://127.0.0.1:9/t';
const error = (m: string) => `wsgistat: error [sink ${NAME}] ${m}`;
const warning = (m: string) => `wsgistat: warning [sink ${NAME}] ${m}`;
const batch = (b: number, n = 3, pad = 0) => Array.from({ length: n }, (_, i) => JSON.stringify({ batch: b, i, ...(pad ? { pad: 'x'.repeat(pad) } : {}) }));

describe('the backlog', () => {
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

  function fresh(): string {
    const d = tempDir();
    dirs.push(d);
    return join(d, 'spool');
  }
  /** A backlog on `dir` (fresh if not given), opened; `starts` counts its sender's starts. */
  function open(dir = fresh(), maxBytes = 1 << 30) {
    const r = { dir, starts: 0, backlog: undefined as unknown as Backlog };
    r.backlog = new Backlog(new Spool(dir, maxBytes), NAME, () => r.starts++);
    r.backlog.open();
    return r;
  }
  /** The spool's batches, oldest first, as the lines of each file. */
  const spooled = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.ndjson')).sort().map((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean));
  const sizes = (req: Request | undefined) => req?.batches.map((b) => b.count);
  /** Another run, alive, holds the lock (its text names our parent process, as tryLock writes it). */
  function holdLock(dir: string): () => void {
    new Spool(dir, 1 << 30);
    const lock = join(dir, 'lock');
    writeFileSync(lock, `${process.ppid} ${startTime(process.ppid) ?? ''}`.trim(), { mode: 0o600, flag: 'wx' });
    return () => unlinkSync(lock);
  }

  it('sends what earlier runs left in the spool first, then this run\'s batches, oldest first, in one request', () => {
    const dir = fresh();
    const earlier = new Spool(dir, 1 << 30);
    earlier.put(earlier.nextSeq(), batch(1));
    earlier.put(earlier.nextSeq(), batch(2, 2));
    const r = open(dir);
    expect([r.starts, r.backlog.owner, stderr]).to.deep.equal([1, true, [warning(`5 records from earlier runs wait in the spool ${dir}; sending them first`)]]);
    r.backlog.accept(batch(3));
    r.backlog.accept(batch(4));
    expect(r.backlog.pending()).to.equal(11);
    const req = r.backlog.take()!;
    expect(req.lines).to.deep.equal([...batch(1), ...batch(2, 2), ...batch(3), ...batch(4)]);
    r.backlog.settle(req);
    expect([r.backlog.take(), r.backlog.pending(), spooled(dir), r.backlog.counts]).to.deep.equal([undefined, 0, [], { delivered: 11, deadLettered: 0, dropped: 0 }]);
    expect(r.starts, 'the sender starts once').to.equal(1);
  });

  it('takes at most 5,000 records a request, whole batches, and a bigger batch alone', () => {
    const r = open();
    for (const b of [1, 2, 3]) r.backlog.accept(batch(b, 2000));
    r.backlog.accept(batch(4, 6000));
    r.backlog.accept(batch(5, 1));
    const taken: (number[] | undefined)[] = [];
    for (let req = r.backlog.take(); req; req = r.backlog.take()) {
      taken.push(sizes(req));
      r.backlog.settle(req);
    }
    expect(taken).to.deep.equal([[2000, 2000], [2000], [6000], [1]]);
    expect(r.backlog.counts.delivered).to.equal(12001);
  });

  it('takes no further batch once a request holds more than 4 MiB', () => {
    const r = open();
    // 1,000 records of about 1.5 kB: 1.5 MB a batch; the third passes the cap, the fourth waits.
    for (const b of [1, 2, 3, 4, 5]) r.backlog.accept(batch(b, 1000, 1500));
    const first = r.backlog.take()!;
    expect(sizes(first)).to.deep.equal([1000, 1000, 1000]);
    expect(first.lines).to.deep.equal([...batch(1, 1000, 1500), ...batch(2, 1000, 1500), ...batch(3, 1000, 1500)]);
    r.backlog.settle(first);
    expect(sizes(r.backlog.take())).to.deep.equal([1000, 1000]);
  });

  it('after a refusal of several batches, takes one at a time until the refused one is dead-lettered', () => {
    const r = open();
    for (const b of [1, 2, 3]) r.backlog.accept(batch(b));
    r.backlog.reject(r.backlog.take()!, 400, '400 Bad Request');
    expect([stderr, r.backlog.counts, r.backlog.pending()]).to.deep.equal([[], { delivered: 0, deadLettered: 0, dropped: 0 }, 9]);
    const alone = r.backlog.take()!;
    expect(alone.lines).to.deep.equal(batch(1));
    r.backlog.reject(alone, 400, '400 Bad Request');
    const dead = join(r.dir, 'dead-letter.jsonl');
    expect(stderr).to.deep.equal([error(`the receiver refused a batch of 3 records (400: 400 Bad Request); not retried, written to ${dead}`)]);
    const letters = readFileSync(dead, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(letters.map(({ time: _, ...l }) => l)).to.deep.equal([{ sink: NAME, status: 400, reason: '400 Bad Request', records: batch(1).map((l) => JSON.parse(l)) }]);
    expect(r.backlog.take()!.lines, 'together again').to.deep.equal([...batch(2), ...batch(3)]);
    expect(r.backlog.counts).to.deep.equal({ delivered: 0, deadLettered: 3, dropped: 0 });
  });

  it('keeps batches in memory until a failure, then spools them all and every batch after, until a delivery', () => {
    const r = open();
    r.backlog.accept(batch(1));
    r.backlog.accept(batch(2));
    expect(spooled(r.dir)).to.deep.equal([]);
    r.backlog.failed();
    expect(spooled(r.dir)).to.deep.equal([batch(1), batch(2)]);
    r.backlog.accept(batch(3));
    expect(spooled(r.dir)).to.deep.equal([batch(1), batch(2), batch(3)]);
    const req = r.backlog.take()!;
    expect(req.lines).to.deep.equal([...batch(1), ...batch(2), ...batch(3)]);
    r.backlog.settle(req);
    r.backlog.accept(batch(4));
    expect([spooled(r.dir), r.backlog.pending()]).to.deep.equal([[], 3]);
  });

  it('spools the whole queue when it grows past QUEUE_MAX batches', () => {
    const r = open();
    for (let b = 0; b < QUEUE_MAX; b++) r.backlog.accept(batch(b, 1));
    expect(spooled(r.dir)).to.deep.equal([]);
    r.backlog.accept(batch(QUEUE_MAX, 1));
    const all = Array.from({ length: QUEUE_MAX + 1 }, (_, b) => batch(b, 1));
    expect(spooled(r.dir)).to.deep.equal(all);
    expect(r.backlog.take()!.lines).to.deep.equal(all.flat());
  });

  it('drops the oldest batches from a full spool, says how many, and counts them in what close() returns', () => {
    // Each batch is 54 bytes on disk: 170 bytes hold three.
    const r = open(fresh(), 170);
    r.backlog.failed();
    for (const b of [1, 2, 3, 4, 5]) r.backlog.accept(batch(b));
    const full = error(`spool full (${r.dir}): dropped the oldest 3 records (1 batches) to keep the newest; raise --spool-max or bring the receiver back`);
    expect(stderr).to.deep.equal([full, full]);
    expect(spooled(r.dir)).to.deep.equal([batch(3), batch(4), batch(5)]);
    expect([r.backlog.counts, r.backlog.pending()]).to.deep.equal([{ delivered: 0, deadLettered: 0, dropped: 6 }, 9]);
    expect(r.backlog.take()!.lines).to.deep.equal([...batch(3), ...batch(4), ...batch(5)]);
    expect(r.backlog.close()).to.equal(15);
    expect(stderr.at(-1)).to.equal(error(`9 records not delivered; they wait in the spool ${r.dir} for the next run`));
    expect(readdirSync(r.dir)).to.not.include('lock');
  });

  it('adopts the batches other runs put in the spool once its own are out', () => {
    const r = open();
    const other = new Spool(r.dir, 1 << 30);
    r.backlog.accept(batch(1));
    other.put(other.nextSeq(), batch(2, 2));
    const own = r.backlog.take()!;
    expect(own.lines).to.deep.equal(batch(1));
    r.backlog.settle(own);
    const theirs = r.backlog.take()!;
    expect(theirs.lines).to.deep.equal(batch(2, 2));
    r.backlog.settle(theirs);
    expect([r.backlog.take(), spooled(r.dir), r.backlog.counts.delivered, stderr]).to.deep.equal([undefined, [], 5, []]);
  });

  it('forgets a batch another run sent meanwhile, and takes the next', () => {
    const dir = fresh();
    const earlier = new Spool(dir, 1 << 30);
    const gone = earlier.put(earlier.nextSeq(), batch(1));
    earlier.put(earlier.nextSeq(), batch(2));
    const r = open(dir);
    earlier.remove(gone.id);
    expect(r.backlog.take()!.lines).to.deep.equal(batch(2));
  });

  it('sends the good lines of a damaged spooled batch, sets the rest aside, and skips a batch with none', () => {
    const dir = fresh();
    const earlier = new Spool(dir, 1 << 30);
    const damaged = earlier.put(earlier.nextSeq(), batch(1));
    appendFileSync(join(dir, damaged.id), '{"truncated":\n');
    const ruined = earlier.put(earlier.nextSeq(), ['not a record']);
    earlier.put(earlier.nextSeq(), batch(3));
    const r = open(dir);
    stderr.splice(0);
    const req = r.backlog.take()!;
    expect(req.lines).to.deep.equal([...batch(1), ...batch(3)]);
    r.backlog.settle(req);
    expect(r.backlog.take()).to.equal(undefined);
    expect(stderr).to.deep.equal([
      error(`1 damaged records in the spool batch ${damaged.id} are not sent; set aside in ${dir}/dead-letter.jsonl`),
      error(`1 damaged records in the spool batch ${ruined.id} are not sent; set aside in ${dir}/dead-letter.jsonl`),
    ]);
    expect([r.backlog.counts, spooled(dir)]).to.deep.equal([{ delivered: 6, deadLettered: 2, dropped: 0 }, []]);
  });

  describe('with another run holding the spool', () => {
    it('hands its batches over in the spool, counts them while they wait there, and sends nothing itself', () => {
      const dir = fresh();
      holdLock(dir);
      const r = open(dir);
      expect(stderr).to.deep.equal([warning(`another wsgistat is sending the spool ${dir} now; this run's records go in it for that run (or this one, once it is done)`)]);
      r.backlog.accept(batch(1));
      r.backlog.accept(batch(2));
      expect([r.starts, r.backlog.owner, r.backlog.size, r.backlog.pending(), r.backlog.waitsOnHolder]).to.deep.equal([0, false, 0, 6, true]);
      expect(spooled(dir)).to.deep.equal([batch(1), batch(2)]);
      // The holder sends the first.
      unlinkSync(join(dir, readdirSync(dir).filter((f) => f.endsWith('.ndjson')).sort()[0]!));
      expect(r.backlog.pending()).to.equal(3);
      expect(r.backlog.close()).to.equal(3);
      expect(stderr.at(-1)).to.equal(error(`3 records not delivered; they wait in the spool ${dir} for the next run`));
      expect(readdirSync(dir), 'the holder\'s lock stays').to.include('lock');
    });

    it('takes the lock once the holder is done, and sends what is left: its own batches and other runs\'', () => {
      const dir = fresh();
      const release = holdLock(dir);
      const r = open(dir);
      r.backlog.accept(batch(1));
      const other = new Spool(dir, 1 << 30);
      other.put(other.nextSeq(), batch(2, 2));
      expect(r.backlog.claim(), 'still held').to.equal(false);
      release();
      stderr.splice(0);
      expect(r.backlog.claim()).to.equal(true);
      expect([r.starts, r.backlog.owner, r.backlog.waitsOnHolder]).to.deep.equal([1, true, false]);
      // Its own batch is not "from earlier runs"; the other run's is.
      expect(stderr).to.deep.equal([warning(`2 records from earlier runs wait in the spool ${dir}; sending them first`)]);
      const req = r.backlog.take()!;
      expect(req.lines).to.deep.equal([...batch(1), ...batch(2, 2)]);
      r.backlog.settle(req);
      expect([r.backlog.close(), spooled(dir), readdirSync(dir)]).to.deep.equal([0, [], []]);
    });
  });
});
