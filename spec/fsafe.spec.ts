// Safe handling of the files wsgistat writes: planted paths are refused with the path and why,
// nothing is opened or written through a symlink, names never collide, and a lock left by a process
// that is gone, or that names a pid since reused, is recognised as stale.

import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, lchownSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRegular, lockText, moveNoReplace, readPrivate, appendPrivate, replaceFile, safeDir, tryLock, unlock, writeNew } from '../lib/fsafe.js';
import { startTime } from '../lib/proc.js';
import { cleanup, tempDir } from './helpers/servers.js';

const root = process.getuid?.() === 0;

/** A pid that was a process a moment ago and is gone now. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

describe('safe files (lib/fsafe.ts)', () => {
  let dir: string;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => cleanup(dir));

  it('makes every missing component owner-only', () => {
    safeDir(join(dir, 'a', 'b', 'c'));
    for (const p of ['a', 'a/b', 'a/b/c']) expect((statSync(join(dir, p)).mode & 0o777).toString(8), p).to.equal('700');
  });

  it('refuses a directory of its own that others may write, naming it and why', () => {
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    expect(() => safeDir(open)).to.throw(`refusing ${open}: others may write to it (mode 777); chmod go-w it`);
    expect(() => safeDir(join(open, 'spool'))).to.throw(`refusing ${open} (on the way to ${join(open, 'spool')}): others may write to it (mode 777) and it is not sticky`);
  });

  it('accepts a sticky shared directory on the way (as /tmp), not one someone else owns there', function () {
    const shared = join(dir, 'tmp');
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    safeDir(join(shared, 'mine', 'spool'));
    if (!root) this.skip();
    const planted = join(shared, 'wsgistat-0');
    mkdirSync(planted, { mode: 0o700 });
    lchownSync(planted, 65534, 65534);
    expect(() => safeDir(join(planted, 'wsgistat'))).to.throw(`refusing ${planted} (on the way to ${join(planted, 'wsgistat')}): it belongs to uid 65534`);
  });

  it('follows a symlink of this user or root only to a directory that passes the same checks; refuses one another user made', function () {
    const target = join(dir, 'target');
    mkdirSync(target, { mode: 0o700 });
    const link = join(dir, 'link');
    symlinkSync(target, link);
    safeDir(link); // the user's own link to a directory of theirs
    const open = join(dir, 'open');
    mkdirSync(open, { mode: 0o777 });
    chmodSync(open, 0o777);
    symlinkSync(open, join(dir, 'to-open'));
    expect(() => safeDir(join(dir, 'to-open'))).to.throw(`refusing ${join(dir, 'to-open')}: others may write to it (mode 777); chmod go-w it`);
    if (!root) this.skip();
    lchownSync(link, 65534, 65534);
    expect(() => safeDir(join(link, 'spool'))).to.throw(`refusing ${link} (on the way to ${join(link, 'spool')}): it is a symlink owned by uid 65534`);
    expect(readdirSync(target)).to.deep.equal([]);
  });

  it('never writes, appends or reads through a symlink, and reads only regular files, bounded', () => {
    const secret = join(dir, 'secret');
    writeFileSync(secret, 'do not touch');
    const link = join(dir, 'dead-letter.jsonl');
    symlinkSync(secret, link);
    expect(() => appendPrivate(link, 'x')).to.throw(/ELOOP/);
    expect(() => readPrivate(link, 100)).to.throw(/ELOOP/);
    replaceFile(link, 'new'); // replaces the link itself
    expect(readFileSync(secret, 'utf8')).to.equal('do not touch');
    expect([readFileSync(link, 'utf8'), statSync(link).mode & 0o777]).to.deep.equal(['new', 0o600]);
    spawnSync('mkfifo', [join(dir, 'fifo')]);
    expect(() => readPrivate(join(dir, 'fifo'), 100)).to.throw('not a regular file');
    writeFileSync(join(dir, 'big'), 'x'.repeat(101));
    expect(() => readPrivate(join(dir, 'big'), 100)).to.throw('larger than 100 bytes');
    expect(readRegular(join(dir, 'big'), 200, true)!.length).to.equal(101);
    expect(() => readPrivate('/dev/zero', 100)).to.throw('not a regular file');
  });

  it('names new files uniquely and never moves one over another', () => {
    const names = new Set(Array.from({ length: 500 }, () => writeNew(dir, 'b', 'x')));
    expect(names.size).to.equal(500);
    const [a, b] = [...names];
    expect(moveNoReplace(a!, join(dir, 'batch'))).to.equal(true);
    expect(moveNoReplace(b!, join(dir, 'batch'))).to.equal(false);
    expect(statSync(b!).isFile()).to.equal(true);
  });

  it('holds a lock against a live holder, and breaks one whose process is gone or whose pid was reused', async () => {
    const lock = join(dir, 'lock');
    const child = spawn('sleep', ['30']);
    try {
      await new Promise((r) => child.on('spawn', r));
      const live = `${child.pid} ${startTime(child.pid!)}`;
      writeFileSync(lock, live);
      expect(tryLock(lock), 'a live holder').to.equal(false);
      expect(readFileSync(lock, 'utf8')).to.equal(live);
      writeFileSync(lock, `${child.pid} 1`); // the same pid, another process's start time
      expect(tryLock(lock), 'a reused pid').to.equal(true);
      expect(readFileSync(lock, 'utf8')).to.equal(lockText());
      unlock(lock);
      writeFileSync(lock, `${deadPid()} 12345`);
      expect(tryLock(lock), 'a process that is gone').to.equal(true);
      writeFileSync(lock, 'garbage');
      expect(tryLock(lock), 'a damaged lock').to.equal(true);
      unlock(lock);
      expect(readdirSync(dir)).to.deep.equal([]);
    } finally {
      child.kill();
    }
  });
});
