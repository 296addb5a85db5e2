// The hooks directory (formats 1 and 2) as someone else may have left it: entries that are symlinks,
// FIFOs, damaged or oversized cost only themselves, and their content is never opened or quoted.

import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SourceError } from '../../lib/errors.js';
import { parseAddress } from '../../lib/sources/address.js';
import { gunicornSource } from '../../lib/sources/gunicorn/index.js';
import { BUCKETS, MAGIC, W, recordBytes } from '../../lib/sources/gunicorn/record.js';
import { given, sampler } from '../../lib/top/sample.js';
import { startWsgistat } from '../helpers/run.js';
import { cleanup, tempDir } from '../helpers/servers.js';

const worker = (pid: number, requests: number) => JSON.stringify({ format: 'wsgistat-gunicorn/1', pid, requests, request_time_us: requests * 1000, exceptions: 0, status_2xx: requests, in_flight: 0, current: [] });

describe('a gunicorn hooks directory with hostile entries', () => {
  let dir: string;
  let hooks: string;
  beforeEach(() => {
    dir = tempDir();
    hooks = join(dir, 'hooks');
    mkdirSync(hooks);
    writeFileSync(join(hooks, 'master.json'), JSON.stringify({ format: 'wsgistat-gunicorn/1', pid: process.pid, workers: 2, worker_class: 'sync', bind: [] }));
    writeFileSync(join(hooks, `worker-${process.pid}.json`), worker(process.pid, 7));
    writeFileSync(join(hooks, `worker-${process.ppid}.json`), worker(process.ppid, 5));
  });
  afterEach(() => cleanup(dir));
  const source = () => gunicornSource({ address: parseAddress(`gunicorn://${hooks}`), timeoutMs: 2000, maxBytes: 4096 }, { records: new Set(['summary']), vars: { kind: 'none' } }, () => true);

  it('reads the good workers and leaves out, by name and reason only, every entry it cannot use', async () => {
    symlinkSync('/etc/passwd', join(hooks, 'worker-11.json'));
    expect(spawnSync('mkfifo', [join(hooks, 'worker-12.json')]).status).to.equal(0);
    writeFileSync(join(hooks, 'worker-13.json'), 'oops Bearer secret-abc');
    writeFileSync(join(hooks, 'worker-14.json'), `{"pid":14,"pad":"${'secret-abc'.repeat(500)}"}`);
    writeFileSync(join(hooks, 'worker-15.json'), '[1,2]');
    const sample = await source().collect();
    expect(sample.bodies).to.deep.equal([{
      type: 'summary', pid: process.pid, workers: 2, workers_busy: 0, workers_idle: 2, stale_entries: 0, in_flight: 0,
      worker_class: 'sync', workers_configured: 2, requests: 12, running_time: 12000, exceptions: 0,
      status_1xx: 0, status_2xx: 12, status_3xx: 0, status_4xx: 0, status_5xx: 0,
    }]);
    expect(sample.notices).to.deep.equal([
      'left out 5 worker file(s) that could not be used: worker-11.json (not_a_file), worker-12.json (not_a_file), worker-13.json (invalid_json), worker-14.json (too_large), worker-15.json (not_stats)',
    ]);
  });

  it('refuses a master.json that is a symlink, and never reads what it points to', async () => {
    writeFileSync(join(dir, 'elsewhere.json'), '{"pid":1,"token":"secret-abc"}');
    const master = join(hooks, 'master.json');
    rmSync(master);
    symlinkSync(join(dir, 'elsewhere.json'), master);
    try {
      await source().collect();
      expect.fail('read through a symlink');
    } catch (e) {
      expect(e).to.be.instanceOf(SourceError);
      expect([(e as SourceError).code, (e as SourceError).message]).to.deep.equal(['not_a_file', `status directory ${hooks}: master.json is a symlink; not followed`]);
    }
  });

  it('warns of a damaged entry once in a continuous run, not at every tick', async () => {
    writeFileSync(join(hooks, 'worker-13.json'), 'oops');
    const w = startWsgistat(['--interval', '1s', '--listen', 'none', `gunicorn://${hooks}`], { XDG_STATE_HOME: dir });
    await w.waitFor('three ticks', () => w.lines.filter((l) => JSON.parse(l.text).type === 'summary').length >= 3);
    expect(await w.stop('SIGTERM')).to.equal(0);
    expect(w.stderr()).to.equal(`wsgistat: warning [source gunicorn://${hooks}] left out 1 worker file(s) that could not be used: worker-13.json (invalid_json)\n`);
  });
});

describe('a format-2 hooks directory with hostile entries', () => {
  let dir: string;
  let hooks: string;
  /** A worker record as the hooks write it: pid, master, ident and 2xx responses. */
  function record(pid: number, master: number, ident: number, ok: number): Buffer {
    const b = Buffer.alloc(recordBytes(1));
    MAGIC.copy(b, 0);
    const set = (i: number, v: number) => b.writeBigUInt64LE(BigInt(v), i * 8);
    set(W.version, 2);
    set(W.slots, 1);
    set(W.buckets, BUCKETS);
    set(W.pid, pid);
    set(W.master, master);
    set(W.ident, ident);
    set(W.status + 1, ok);
    set(W.timeUs, ok * 100);
    return b;
  }
  beforeEach(() => {
    dir = tempDir();
    hooks = join(dir, 'hooks');
    mkdirSync(hooks);
    writeFileSync(join(hooks, 'master.json'), JSON.stringify({ format: 'wsgistat-gunicorn/2', pid: process.pid, workers: 1, worker_class: 'sync', bind: [] }));
    writeFileSync(join(hooks, `worker-${process.pid}.bin`), record(process.pid, process.pid, 7, 5));
  });
  afterEach(() => cleanup(dir));
  const source = () => gunicornSource({ address: parseAddress(`gunicorn://${hooks}`), timeoutMs: 2000, maxBytes: 1 << 16 }, { records: new Set(['summary']), vars: { kind: 'none' } }, () => true);

  it('adds what the master kept, skips a record it already kept, and leaves out every entry it cannot use', async () => {
    writeFileSync(join(hooks, 'retired.json'), JSON.stringify({ format: 'wsgistat-gunicorn/2', requests: 40, status_2xx: 40, running_time: 4000, requests_aborted: 2, workers_retired: 3, histogram: [], absorbed: [9] }));
    writeFileSync(join(hooks, 'worker-21.bin'), record(21, process.pid, 9, 40)); // already in retired.json
    writeFileSync(join(hooks, 'worker-22.bin'), record(22, 1, 10, 3)); // another master's
    symlinkSync(join(hooks, `worker-${process.pid}.bin`), join(hooks, 'worker-23.bin'));
    expect(spawnSync('mkfifo', [join(hooks, 'worker-24.bin')]).status).to.equal(0);
    writeFileSync(join(hooks, 'worker-25.bin'), 'Bearer secret-abc');
    writeFileSync(join(hooks, 'worker-26.bin'), record(26, process.pid, 11, 1).subarray(0, 1000));
    const sample = await source().collect();
    expect(sample.bodies[0]).to.include({ workers: 1, requests: 45, status_2xx: 45, running_time: 4500, requests_aborted: 2, workers_retired: 3, stale_entries: 0 });
    expect(sample.ownTotals).to.equal(true);
    expect(sample.notices).to.deep.equal([
      'left out 4 worker file(s) that could not be used: worker-23.bin (not_a_file), worker-24.bin (not_a_file), worker-25.bin (not a wsgistat worker record), worker-26.bin (not a wsgistat worker record)',
      `${hooks} holds 1 worker record(s) of another gunicorn master (pid 1), left out: give each gunicorn its own WSGISTAT_GUNICORN_DIR`,
    ]);
  });

  it('reads each record as it is now from the descriptor it keeps, and one made again under its name afresh', async () => {
    const name = join(hooks, `worker-${process.pid}.bin`);
    const src = gunicornSource({ address: parseAddress(`gunicorn://${hooks}`), timeoutMs: 2000, maxBytes: 1 << 16 }, { records: new Set(['worker']), vars: { kind: 'none' } }, () => true);
    const seen = async () => (await src.collect()).bodies.map((b) => [b.requests, b.status_2xx]);
    const inPlace = (ok: number) => {
      const fd = openSync(name, 'r+');
      writeSync(fd, record(process.pid, process.pid, 7, ok), 0, recordBytes(1), 0);
      closeSync(fd);
    };
    /** This process's descriptors open on the record's path (a removed file reads "PATH (deleted)"). */
    const fds = () => readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith(name);
      } catch {
        return false;
      }
    });
    expect(await seen()).to.deep.equal([[5, 5]]);
    const kept = fds();
    expect(kept).to.have.length(1);
    // A directory unchanged for over a second: the kept descriptor is read without a look at the path.
    await new Promise((r) => setTimeout(r, 1100));
    inPlace(9);
    expect(await seen()).to.deep.equal([[9, 9]]);
    inPlace(12);
    expect(await seen()).to.deep.equal([[12, 12]]);
    expect(fds()).to.deep.equal(kept);
    // The file removed and another made under its name (a new worker with the pid), then one
    // renamed over it, then the whole directory made again: the new file each time.
    rmSync(name);
    writeFileSync(name, record(process.pid, process.pid, 8, 2));
    expect(await seen()).to.deep.equal([[2, 2]]);
    writeFileSync(join(dir, 'next.bin'), record(process.pid, process.pid, 8, 3));
    renameSync(join(dir, 'next.bin'), name);
    expect(await seen()).to.deep.equal([[3, 3]]);
    await new Promise((r) => setTimeout(r, 1100));
    inPlace(4);
    expect(await seen()).to.deep.equal([[4, 4]]);
    const master = JSON.stringify({ format: 'wsgistat-gunicorn/2', pid: process.pid, workers: 1, worker_class: 'sync', bind: [] });
    renameSync(hooks, join(dir, 'old'));
    mkdirSync(hooks);
    writeFileSync(join(hooks, 'master.json'), master);
    writeFileSync(name, record(process.pid, process.pid, 9, 1));
    expect(await seen()).to.deep.equal([[1, 1]]);
    expect(fds()).to.have.length(1);
    src.close!();
    expect(fds()).to.deep.equal([]);
    // What top does with a server it no longer watches.
    const top = sampler();
    top.watch([given({ address: parseAddress(`gunicorn://${hooks}`), timeoutMs: 2000, maxBytes: 1 << 16 })]);
    await top.sample(Date.now() + 2000);
    expect(fds()).to.have.length(1);
    top.watch([]);
    expect(fds()).to.deep.equal([]);
    expect(await seen()).to.deep.equal([[1, 1]]);
    // The directory gone: nothing of it stays open.
    rmSync(hooks, { recursive: true });
    try {
      await src.collect();
      expect.fail('read a directory that is gone');
    } catch (e) {
      expect((e as SourceError).code).to.equal('not_found');
    }
    expect(fds()).to.deep.equal([]);
  });
});
