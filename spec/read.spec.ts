// Bounded file reads: whatever a path turns out to be, a read stops at the size cap and the timeout.

import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, linkSync, mkdirSync, openSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { SourceError } from '../lib/errors.js';
import { HeldFiles, readFileBounded, readFileBoundedSync } from '../lib/read.js';
import { cleanup, tempDir } from './helpers/servers.js';

async function failure(p: Promise<unknown>): Promise<SourceError> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(SourceError);
    return e as SourceError;
  }
  throw new Error('expected the read to fail');
}

function syncFailure(f: () => unknown): SourceError {
  try {
    f();
  } catch (e) {
    expect(e).to.be.instanceOf(SourceError);
    return e as SourceError;
  }
  throw new Error('expected the read to fail');
}

describe('bounded file reads', () => {
  let dir: string;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => cleanup(dir));
  const limits = { maxBytes: 1000, timeoutMs: 500 };

  it('reads a regular file whole, up to the cap', async () => {
    const path = join(dir, 'a.json');
    writeFileSync(path, 'x'.repeat(1000));
    expect((await readFileBounded(path, 'file a', limits)).toString()).to.equal('x'.repeat(1000));
    expect(readFileBoundedSync(path, 'file a', limits).toString()).to.equal('x'.repeat(1000));
  });

  it('calls a file one byte over the cap too large, without naming its content', async () => {
    const path = join(dir, 'a.json');
    writeFileSync(path, 'secret'.repeat(200));
    const e = await failure(readFileBounded(path, 'file a', limits));
    expect([e.code, e.message]).to.deep.equal(['too_large', 'file a holds more than the size cap of 1000 bytes (raise --max-bytes)']);
    expect(syncFailure(() => readFileBoundedSync(path, 'file a', limits)).code).to.equal('too_large');
  });

  it('reads a file that claims size 0 (/proc) by what it holds', () => {
    const text = readFileBoundedSync('/proc/self/stat', 'stat', { maxBytes: 4096 }).toString();
    expect(text).to.match(new RegExp(`^${process.pid} \\(`));
  });

  for (const device of ['/dev/zero', '/dev/urandom', '/dev/null']) {
    it(`refuses the character device ${device} at once, saying what it is`, async () => {
      const e = await failure(readFileBounded(device, `file ${device}`, limits));
      expect([e.code, e.message]).to.deep.equal(['not_a_file', `file ${device} is a character device, not a regular file; not read`]);
      expect(syncFailure(() => readFileBoundedSync(device, 'x', limits)).code).to.equal('not_a_file');
    });
  }

  it('refuses a directory and a unix socket, naming the address form for a socket', async () => {
    expect((await failure(readFileBounded(dir, 'file d', limits))).message).to.equal('file d is a directory, not a regular file; not read');
    const sock = join(dir, 's.sock');
    const srv = net.createServer().listen(sock);
    await new Promise((r) => srv.once('listening', r));
    try {
      const e = await failure(readFileBounded(sock, 'file s', limits));
      expect([e.code, e.message]).to.deep.equal(['not_a_file', 'file s is a socket, not a file (read a uWSGI stats socket as unix://PATH)']);
    } finally {
      srv.close();
    }
  });

  it('follows a symlink only when allowed, and never to a device', async () => {
    const target = join(dir, 'real.json');
    writeFileSync(target, '{}');
    symlinkSync(target, join(dir, 'link.json'));
    symlinkSync('/dev/zero', join(dir, 'zero.json'));
    expect((await readFileBounded(join(dir, 'link.json'), 'l', limits)).toString()).to.equal('{}');
    const e = syncFailure(() => readFileBoundedSync(join(dir, 'link.json'), 'entry link.json', { ...limits, noFollow: true }));
    expect([e.code, e.message]).to.deep.equal(['not_a_file', 'entry link.json is a symlink; not followed']);
    expect((await failure(readFileBounded(join(dir, 'zero.json'), 'z', limits))).code).to.equal('not_a_file');
  });

  it('applies the caller\'s check to the opened file', () => {
    const path = join(dir, 'w.json');
    writeFileSync(path, '{}');
    chmodSync(path, 0o666);
    const check = (st: { mode: number }) => ((st.mode & 0o002) !== 0 ? 'is writable by others' : undefined);
    expect(syncFailure(() => readFileBoundedSync(path, 'entry w.json', { maxBytes: 10, check })).message).to.equal('entry w.json is writable by others; not read');
  });

  describe('a FIFO', () => {
    let fifo: string;
    beforeEach(() => {
      fifo = join(dir, 'fifo');
      expect(spawnSync('mkfifo', [fifo]).status, 'mkfifo').to.equal(0);
    });

    it('with no writer waits for one until the timeout, without hanging the open', async () => {
      const e = await failure(readFileBounded(fifo, 'file f', { maxBytes: 1000, timeoutMs: 300 }));
      expect([e.code, e.message]).to.deep.equal(['timeout', 'file f could not be read within 300 ms']);
    });

    it('is read whole when its writer writes and closes', async () => {
      const writer = spawn(process.execPath, ['-e', `require('fs').writeFileSync(${JSON.stringify(fifo)}, '{"workers":[]}')`], { stdio: 'ignore' });
      try {
        expect((await readFileBounded(fifo, 'file f', { maxBytes: 1000, timeoutMs: 5000 })).toString()).to.equal('{"workers":[]}');
      } finally {
        writer.kill();
      }
    });

    it('whose writer never writes times out at the timeout', async () => {
      const hold = openSync(fifo, 'r+'); // a writer (and reader) that sends nothing
      try {
        const e = await failure(readFileBounded(fifo, 'file f', { maxBytes: 1000, timeoutMs: 300 }));
        expect([e.code, e.message]).to.deep.equal(['timeout', 'file f could not be read within 300 ms']);
      } finally {
        closeSync(hold);
      }
    });

    it('whose writer never stops is cut at the size cap', async () => {
      const hold = openSync(fifo, 'r+');
      const writer = spawn(process.execPath, ['-e', `const fs=require('fs');const fd=fs.openSync(${JSON.stringify(fifo)},'w');const b=Buffer.alloc(65536);for(let i=0;i<2000;i++){try{fs.writeSync(fd,b)}catch{process.exit(0)}}`], { stdio: 'ignore' });
      try {
        const e = await failure(readFileBounded(fifo, 'file f', { maxBytes: 100_000, timeoutMs: 5000 }));
        expect(e.code).to.equal('too_large');
      } finally {
        closeSync(hold);
        writer.kill();
      }
    });

    it('is never read by the synchronous reader', () => {
      expect(syncFailure(() => readFileBoundedSync(fifo, 'entry fifo', { maxBytes: 10 })).message).to.equal('entry fifo is a FIFO, not a regular file; not read');
    });
  });

  it('names a missing file', async () => {
    mkdirSync(join(dir, 'sub'));
    expect((await failure(readFileBounded(join(dir, 'sub', 'none.json'), 'file n', limits))).code).to.equal('not_found');
  });
});

describe('files kept open between reads (HeldFiles)', () => {
  let dir: string;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => cleanup(dir));
  const opts = { maxBytes: 100, noFollow: true };
  const read = (files: HeldFiles, name: string) => files.use(join(dir, name), name, opts, (r) => r().toString());

  it('keeps at most its cap open, still reads the others, and closes what retain does not name', () => {
    for (const n of ['a', 'b', 'c']) writeFileSync(join(dir, n), `${n}1`);
    const files = new HeldFiles(2);
    files.scope(statSync(dir));
    expect(['a', 'b', 'c'].map((n) => read(files, n))).to.deep.equal(['a1', 'b1', 'c1']);
    expect(files.size).to.equal(2);
    files.retain(new Set([join(dir, 'b')]));
    expect(files.size).to.equal(1);
    files.close();
    expect(files.size).to.equal(0);
  });

  it('refuses what a fresh read refuses, keeps nothing of it, and reads a file that grew or shrank whole', () => {
    writeFileSync(join(dir, 'real'), 'x');
    symlinkSync(join(dir, 'real'), join(dir, 'link'));
    expect(spawnSync('mkfifo', [join(dir, 'fifo')]).status).to.equal(0);
    const files = new HeldFiles();
    files.scope(statSync(dir));
    expect(syncFailure(() => read(files, 'link')).message).to.equal('link is a symlink; not followed');
    expect(syncFailure(() => read(files, 'fifo')).message).to.equal('fifo is a FIFO, not a regular file; not read');
    expect(syncFailure(() => read(files, 'none')).code).to.equal('not_found');
    expect(files.size).to.equal(0);
    expect(read(files, 'real')).to.equal('x');
    writeFileSync(join(dir, 'real'), 'x'.repeat(60)); // same file, grown: no new directory entry
    expect(read(files, 'real')).to.equal('x'.repeat(60));
    writeFileSync(join(dir, 'real'), 'yy');
    expect(read(files, 'real')).to.equal('yy');
    writeFileSync(join(dir, 'real'), 'z'.repeat(101));
    expect(syncFailure(() => read(files, 'real')).code).to.equal('too_large');
    expect(files.size).to.equal(0);
  });

  it('trusts its files only when the directory\'s times were already old at the last look, however coarse their clock', () => {
    writeFileSync(join(dir, 'f'), 'old');
    const files = new HeldFiles();
    const t = Date.now();
    // Times that a change in the same clock tick as the last look would not move.
    const same = { dev: 1, ino: 2, mtimeMs: t, ctimeMs: t };
    files.scope(same, t + 2);
    expect(read(files, 'f')).to.equal('old');
    rmSync(join(dir, 'f'));
    writeFileSync(join(dir, 'f'), 'new');
    files.scope(same, t + 10_000);
    expect(read(files, 'f')).to.equal('new');
    files.scope(same, t + 20_000); // old at the last look: trusted, and still the file it names
    expect(read(files, 'f')).to.equal('new');
    expect(files.size).to.equal(1);
  });

  it('reopens a file another was renamed over, though the first is still linked elsewhere', () => {
    writeFileSync(join(dir, 'f'), 'first');
    const files = new HeldFiles();
    files.scope(statSync(dir));
    expect(read(files, 'f')).to.equal('first');
    linkSync(join(dir, 'f'), join(dir, 'kept-by-someone'));
    writeFileSync(join(dir, 'next'), 'second');
    renameSync(join(dir, 'next'), join(dir, 'f'));
    files.scope(statSync(dir));
    expect(read(files, 'f')).to.equal('second');
    rmSync(join(dir, 'f'));
    files.scope(statSync(dir));
    expect(syncFailure(() => read(files, 'f')).code).to.equal('not_found');
    symlinkSync(join(dir, 'kept-by-someone'), join(dir, 'f'));
    files.scope(statSync(dir));
    expect(syncFailure(() => read(files, 'f')).message).to.equal('f is a symlink; not followed');
    expect(files.size).to.equal(0);
  });

  it('closes everything when another directory stands at the path, and reopens a file removed and made again', () => {
    const sub = join(dir, 'd');
    mkdirSync(sub);
    writeFileSync(join(sub, 'f'), 'one');
    const files = new HeldFiles();
    const readSub = () => files.use(join(sub, 'f'), 'f', opts, (r) => r().toString());
    files.scope(statSync(sub));
    expect(readSub()).to.equal('one');
    rmSync(join(sub, 'f'));
    writeFileSync(join(sub, 'f'), 'two');
    files.scope(statSync(sub));
    expect(readSub()).to.equal('two');
    expect(files.size).to.equal(1);
    rmSync(sub, { recursive: true });
    mkdirSync(sub);
    writeFileSync(join(sub, 'f'), 'three');
    files.scope(statSync(sub));
    expect(files.size).to.equal(0);
    expect(readSub()).to.equal('three');
  });
});
