// The format-2 hooks keep their directory private and to one master, against real gunicorn 20.1:
// modes, a planted symlink or a directory others may write refused with one log line (gunicorn
// serves on), two masters on one directory, and no query string or Host stored unless asked.

import { expect } from 'chai';
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { wsgistat, type Run } from '../helpers/run.js';
import { gunicorns, tempDir, cleanup, until } from '../helpers/servers.js';

type R = Record<string, any>;
const summaryOf = (run: Run) => run.records.find((r) => r.type === 'summary') as R;
const workersOf = (run: Run) => run.records.filter((r) => r.type === 'worker') as R[];
const mode = (p: string) => lstatSync(p).mode & 0o7777;

describe('gunicorn format-2 hooks: private files, one directory per master', function () {
  this.timeout(30000);
  const gunicorn = gunicorns();
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach(cleanup));
  const own = () => {
    const d = tempDir();
    dirs.push(d);
    return d;
  };

  it('creates the directory 0700 and its files 0600 by default', async function () {
    const g = await gunicorn(this, { workerClass: 'sync', workers: 2 });
    const dir = g.status.replace('gunicorn://', '');
    expect(mode(dir)).to.equal(0o700);
    const names = readdirSync(dir).sort();
    expect(names.filter((n) => !n.startsWith('worker-'))).to.deep.equal(['master.json', 'retired.json']);
    expect(names.filter((n) => /^worker-\d+\.bin$/.test(n))).to.have.length(2);
    for (const n of names) expect(mode(join(dir, n)), n).to.equal(0o600);
  });

  it('gives a named group read access: 0750 and 0640, group set', async function () {
    const gid = process.getgid!();
    const g = await gunicorn(this, { workerClass: 'sync', workers: 1, env: { WSGISTAT_GUNICORN_GROUP: String(gid) } });
    const dir = g.status.replace('gunicorn://', '');
    expect([mode(dir), statSync(dir).gid]).to.deep.equal([0o750, gid]);
    for (const n of readdirSync(dir)) expect([n, mode(join(dir, n)), statSync(join(dir, n)).gid]).to.deep.equal([n, 0o640, gid]);
  });

  it('tightens a directory it owns that others may read, and refuses one that others may write', async function () {
    const base = own();
    const readable = join(base, 'readable');
    mkdirSync(readable, { mode: 0o755 });
    chmodSync(readable, 0o755);
    await gunicorn(this, { workerClass: 'sync', workers: 1, statusDir: readable });
    expect(mode(readable)).to.equal(0o700);

    const writable = join(base, 'writable');
    mkdirSync(writable);
    chmodSync(writable, 0o777);
    const g = await gunicorn(this, { workerClass: 'sync', workers: 1, statusDir: writable, waitForStatus: false });
    expect(await g.get('/')).to.equal(200);
    expect(readdirSync(writable)).to.deep.equal([]);
    expect(g.log()).to.include(`wsgistat hooks: ${writable} is writable by others (mode 777): not used; make it 0700`);
  });

  it('refuses a planted symlink and a directory of another user, writes nothing there, and gunicorn serves on', async function () {
    const base = own();
    const target = join(base, 'target');
    mkdirSync(target, { mode: 0o700 });
    const link = join(base, 'link');
    symlinkSync(target, link);
    const g1 = await gunicorn(this, { workerClass: 'sync', workers: 1, statusDir: link, waitForStatus: false });
    expect(await g1.get('/')).to.equal(200);
    expect(readdirSync(target)).to.deep.equal([]);
    expect(g1.log()).to.include(`wsgistat hooks: ${link} is a symlink or not a directory: not used`);
    const run = await wsgistat(['--no-state', `gunicorn://${link}`]);
    expect(run.code).to.equal(1);

    if (process.getuid!() !== 0) return; // the other user's directory needs root to make
    const foreign = join(base, 'foreign');
    mkdirSync(foreign, { mode: 0o700 });
    chownSync(foreign, 65534, 65534);
    const g2 = await gunicorn(this, { workerClass: 'sync', workers: 1, statusDir: foreign, waitForStatus: false });
    expect(await g2.get('/')).to.equal(200);
    expect(readdirSync(foreign)).to.deep.equal([]);
    expect(g2.log()).to.include(`wsgistat hooks: ${foreign} belongs to uid 65534, not to this user (uid 0): not used`);
  });

  it('lets a second master on a live master\'s directory refuse it, never touching the live one\'s files', async function () {
    const statusDir = join(own(), 'status');
    const a = await gunicorn(this, { workerClass: 'sync', workers: 2, statusDir });
    for (let i = 0; i < 5; i++) await a.get('/');
    const before = Object.fromEntries(readdirSync(statusDir).map((n) => [n, readFileSync(join(statusDir, n))]));
    const b = await gunicorn(this, { workerClass: 'sync', workers: 2, statusDir, waitForStatus: false });
    expect(await b.get('/')).to.equal(200);
    expect(b.log()).to.include(`wsgistat hooks: ${statusDir} belongs to the live gunicorn master pid ${a.proc.pid}: this master keeps no stats; give each gunicorn its own WSGISTAT_GUNICORN_DIR`);
    expect(readdirSync(statusDir).sort()).to.deep.equal(Object.keys(before).sort());
    expect(readFileSync(join(statusDir, 'master.json'))).to.deep.equal(before['master.json']);
    const run = await wsgistat(['--no-state', '--records', 'all', a.status]);
    expect(run.stderr).to.equal('');
    expect(summaryOf(run)).to.include({ pid: a.proc.pid, workers: 2, requests: 6 });
    expect(workersOf(run).map((w) => w.pid).sort()).to.deep.equal(a.workerPids().sort());
  });

  it('warns of worker records of another master in the directory, and leaves them out', async function () {
    const g = await gunicorn(this, { workerClass: 'sync', workers: 1 });
    const dir = g.status.replace('gunicorn://', '');
    // A copy of a live worker's record, as if another master's worker had written it.
    const [pid] = g.workerPids();
    const copy = readFileSync(join(dir, `worker-${pid}.bin`));
    copy.writeUInt32LE(1, 5 * 8); // the master pid word
    copy.writeUInt32LE(0, 5 * 8 + 4);
    copy.writeUInt32LE(process.pid, 4 * 8); // a live pid
    writeFileSync(join(dir, `worker-${process.pid}.bin`), copy, { mode: 0o600 });
    const run = await wsgistat(['--no-state', g.status]);
    expect(run.stderr).to.include(`holds 1 worker record(s) of another gunicorn master (pid 1), left out: give each gunicorn its own WSGISTAT_GUNICORN_DIR`);
    expect(summaryOf(run)).to.include({ workers: 1 });
  });

  it('stores no query string or Host of a request in flight unless asked, and then shows them only with --vars', async function () {
    for (const asked of [false, true]) {
      const g = await gunicorn(this, { workerClass: 'sync', workers: 1, env: asked ? { WSGISTAT_GUNICORN_REQUEST_VARS: 'QUERY_STRING,HTTP_HOST' } : {} });
      const dir = g.status.replace('gunicorn://', '');
      const held = g.hold('/hold?token=s3cr3t-value');
      try {
        const run = await until('the request in flight', async () => {
          const r = await wsgistat(['--no-state', '--vars', 'QUERY_STRING,HTTP_HOST', g.status]);
          return summaryOf(r).in_flight === 1 ? r : undefined;
        });
        // Everything in the directory but master.json, which names the listener (127.0.0.1:port) itself.
        const bytes = Buffer.concat(readdirSync(dir).filter((n) => n !== 'master.json').map((n) => readFileSync(join(dir, n))));
        expect(bytes.includes('s3cr3t-value'), `stored (asked: ${asked})`).to.equal(asked);
        expect(bytes.includes(`127.0.0.1:${g.httpPort}`), `Host stored (asked: ${asked})`).to.equal(asked);
        const w = workersOf(run)[0]!;
        expect(w).to.include({ request_method: 'GET', request_path: '/hold' });
        if (asked) expect(w).to.include({ var_QUERY_STRING: 'token=s3cr3t-value', var_HTTP_HOST: `127.0.0.1:${g.httpPort}` });
        else expect(w).to.not.have.any.keys('var_QUERY_STRING', 'var_HTTP_HOST');
        if (asked) {
          const plain = workersOf(await wsgistat(['--no-state', g.status]))[0]!;
          expect(plain).to.not.have.any.keys('var_QUERY_STRING', 'var_HTTP_HOST');
        }
      } finally {
        g.release();
        expect(await held).to.equal(200);
        await g.stop();
      }
    }
  });
});
