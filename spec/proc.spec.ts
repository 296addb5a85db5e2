// /proc/<pid>/stat read with a kept descriptor (lib/proc.ts readStatHeld), against real processes
// started here: every read is fresh, a process that is gone reads as gone and lets its descriptor
// go, and the answers are readStat's.

import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { aliveAmong, childrenOf, heldStats, parseStat, readStat, readStatHeld } from '../lib/proc.js';
import { until } from './helpers/servers.js';

function sleeper(): ChildProcess {
  return spawn('sleep', ['30'], { stdio: 'ignore' });
}

const exited = (c: ChildProcess) => new Promise<void>((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve())));

describe('/proc/<pid>/stat with a kept descriptor', () => {
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await exited(c);
    }
  });

  it('reads the process as it is now at every read, as readStat does, with one descriptor kept', async () => {
    const c = sleeper();
    children.push(c);
    const pid = c.pid!;
    await until('sleep to run', () => (readStat(pid)?.state === 'S' ? true : undefined));
    const before = heldStats();
    const first = readStatHeld(pid);
    expect(first).to.deep.equal(readStat(pid));
    expect(first).to.include({ state: 'S', ppid: process.pid });
    expect(heldStats()).to.equal(before + 1);
    // Stopped and continued: the kept descriptor reads the new state each time.
    c.kill('SIGSTOP');
    await until('the stop', () => (readStat(pid)?.state === 'T' ? true : undefined));
    expect(readStatHeld(pid)).to.deep.equal(readStat(pid)).and.include({ state: 'T' });
    c.kill('SIGCONT');
    await until('the continue', () => (readStat(pid)?.state !== 'T' ? true : undefined));
    expect(readStatHeld(pid)?.state).to.equal(readStat(pid)?.state).and.not.equal('T');
    expect(heldStats(), 'still the one descriptor').to.equal(before + 1);
  });

  it('reads a process that exited and was reaped as gone, and closes its descriptor', async () => {
    const c = sleeper();
    children.push(c);
    const pid = c.pid!;
    await until('sleep to run', () => (readStat(pid) ? true : undefined));
    expect(readStatHeld(pid)).to.include({ ppid: process.pid });
    const held = heldStats();
    c.kill('SIGKILL');
    await exited(c);
    await until('the pid to be gone', () => (readStat(pid) === undefined ? true : undefined));
    expect(readStatHeld(pid)).to.equal(undefined);
    expect(heldStats()).to.equal(held - 1);
  });

  it('reads a pid that never existed as gone, and keeps nothing for it', () => {
    const before = heldStats();
    // Above the kernel's largest pid (4194304), so no process can have it.
    expect(readStatHeld(4_194_305)).to.equal(undefined);
    expect(heldStats()).to.equal(before);
  });
});

describe('the children of a process, for liveness', () => {
  it('lists this process\'s live children, and asks pidAlive only of a pid not among them', async () => {
    const a = sleeper();
    const b = sleeper();
    try {
      expect([...childrenOf(process.pid)!].filter((p) => p === a.pid || p === b.pid).sort()).to.deep.equal([a.pid, b.pid].sort());
      const asked: number[] = [];
      const alive = aliveAmong(process.pid, (pid) => (asked.push(pid), pid === 1));
      expect([alive(a.pid!), alive(b.pid!), alive(1), alive(2 ** 22 + 1)]).to.deep.equal([true, true, true, false]);
      expect(asked).to.deep.equal([1, 2 ** 22 + 1]);
      a.kill('SIGKILL');
      await exited(a);
      expect(childrenOf(process.pid)!.has(a.pid!)).to.equal(false);
      expect(childrenOf(2 ** 22 + 1)).to.equal(undefined);
      expect(childrenOf(-1)).to.equal(undefined);
    } finally {
      for (const c of [a, b]) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await Promise.all([exited(a), exited(b)]);
    }
  });
});

describe('a /proc/<pid>/stat line', () => {
  /** What parseStat read before it cut out only its four fields: a split of them all. */
  function bySplit(text: string) {
    const close = text.lastIndexOf(')');
    if (close < 0) return undefined;
    const fields = text.slice(close + 2).split(' ');
    const ppid = Number(fields[1]);
    if (!fields[0] || !Number.isInteger(ppid) || fields[19] === undefined) return undefined;
    return { state: fields[0], ppid, startTime: fields[19], tty: Number(fields[4]) || 0 };
  }

  it('reads state, ppid, tty and start time as a split of every field does, for every process here and odd names', () => {
    const lines: string[] = [];
    for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
      try {
        lines.push(readFileSync(`/proc/${pid}/stat`, 'latin1'));
      } catch {
        // gone since the listing
      }
    }
    expect(lines.length).to.be.greaterThan(3);
    const real = lines[0]!;
    const rest = real.slice(real.lastIndexOf(')') + 1);
    lines.push(`7 (a) b) (c) d)${rest}`, `7 (sp ace)${rest}`, '7 (x) S 1', '7 (x)', 'nothing', '', `7 (x) S${rest.slice(3)}`, `7 (x)  ${rest.slice(1)}`, `7 (x) S x${rest.slice(4)}`);
    const got = lines.map(parseStat);
    expect(got).to.deep.equal(lines.map(bySplit));
    expect(got.filter((x) => x !== undefined).length).to.be.greaterThan(3);
  });
});
