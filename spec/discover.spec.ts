// `wsgistat discover` against real servers started here: each one is found from /proc with the
// address the spec started it with, and that address, given back to wsgistat, reads the server.
// Other processes on the host (other specs' servers) may be found too, so each server is picked
// out by its master's pid.

import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, wsgistat } from './helpers/run.js';
import { cleanup, needs, startGunicorn, startUwsgi, tempDir, type Gunicorn, type Uwsgi } from './helpers/servers.js';

interface Found { kind: string; pid: number; user: string; address: string | null; found_by: string; problem?: string }

async function discovered(): Promise<Found[]> {
  const run = await wsgistat(['discover', '--format', 'json']);
  expect([0, 2]).to.include(run.code);
  return run.stdout.trimEnd().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Found);
}

describe('wsgistat discover, against real servers', function () {
  this.timeout(60000);
  const uwsgis: Uwsgi[] = [];
  let g: Gunicorn | undefined;
  before(async function () {
    needs(this, 'uwsgi');
    needs(this, 'gunicorn');
    uwsgis.push(await startUwsgi({ stats: 'unix' }), await startUwsgi({ stats: 'tcp', statsHttp: true }));
    g = await startGunicorn();
    await g.get('/');
  });
  after(async () => {
    for (const u of uwsgis) await u.stop();
    await g?.stop();
  });

  it('finds each uWSGI master with its stats address (unix and --stats-http), and gunicorn with its hooks directory, without probing', async () => {
    const logs = uwsgis.map((u) => u.log());
    const found = await discovered();
    const byPid = (pid: number | undefined) => found.filter((f) => f.pid === pid);
    for (const u of uwsgis) {
      const mine = byPid(u.proc.pid);
      expect(mine, `uwsgi ${u.stats} in ${JSON.stringify(found)}`).to.have.length(1);
      expect(mine[0]).to.include({ kind: 'uwsgi', user: 'root', address: u.stats });
      expect(mine[0]!.problem).to.equal(undefined);
    }
    const mine = byPid(g!.proc.pid);
    expect(mine, JSON.stringify(found)).to.have.length(1);
    expect(mine[0]).to.include({ kind: 'gunicorn', user: 'root', address: g!.status });
    // The servers logged nothing while discovery ran: it only read /proc, and connected to no socket.
    expect(uwsgis.map((u) => u.log())).to.deep.equal(logs);
  });

  it('prints one address per line that wsgistat reads as these servers', async () => {
    const text = await wsgistat(['discover']);
    const lines = text.stdout.trimEnd().split('\n');
    const mine = [...uwsgis.map((u) => u.stats), g!.status];
    for (const a of mine) expect(lines).to.include(a);
    const run = await wsgistat(['--no-state', ...mine]);
    expect(run.code).to.equal(0);
    const summaries = run.records.filter((r) => r.type === 'summary');
    expect(summaries.map((r) => r.source)).to.deep.equal(mine);
    expect(summaries.map((r) => r.pid)).to.deep.equal([...uwsgis.map((u) => u.proc.pid), g!.proc.pid]);
  });
});

describe('wsgistat discover: servers it can only partly see', function () {
  this.timeout(60000);
  let u: Uwsgi | undefined;
  const gs: Gunicorn[] = [];
  let dir: string;
  before(async function () {
    needs(this, 'uwsgi');
    needs(this, 'gunicorn');
    dir = tempDir();
    // A gunicorn config of its own, without the wsgistat hooks.
    const plain = join(dir, 'plain.py');
    writeFileSync(plain, 'workers = 2\n');
    u = await startUwsgi({ stats: 'unix' });
    // The helper points the hooks at a directory of its own; '' is how a user unsets it.
    gs.push(await startGunicorn({ config: plain, env: { WSGISTAT_GUNICORN_DIR: '' } }));
    gs.push(await startGunicorn({ config: plain, env: { WSGISTAT_GUNICORN_DIR: '', PROMETHEUS_MULTIPROC_DIR: join(dir, 'multiproc') } }));
    for (const g of gs) await g.get('/');
  });
  after(async () => {
    await u?.stop();
    for (const g of gs) await g.stop();
    cleanup(dir);
  });

  it('lists gunicorn without the hooks with what to do, and gunicorn with PROMETHEUS_MULTIPROC_DIR by that directory', async () => {
    const run = await wsgistat(['discover', '--format', 'json']);
    expect(run.code, 'some server has no address').to.equal(2);
    const found = run.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Found);
    const of = (g: Gunicorn) => found.filter((f) => f.pid === g.proc.pid).map(({ kind, address, found_by, problem }) => ({ kind, address, found_by, problem }));
    expect(of(gs[0]!)).to.deep.equal([{
      kind: 'gunicorn', address: null, found_by: 'the process tree',
      problem: 'nothing wsgistat can read: run gunicorn with conf/gunicorn_wsgistat.py (or set PROMETHEUS_MULTIPROC_DIR)',
    }]);
    expect(of(gs[1]!)).to.deep.equal([{ kind: 'gunicorn', address: `prometheus-multiproc://${join(dir, 'multiproc')}`, found_by: 'PROMETHEUS_MULTIPROC_DIR in its environment', problem: undefined }]);
    // The text form prints addresses only, and says on stderr what it could not find.
    const text = await wsgistat(['discover']);
    expect(text.stdout.split('\n')).to.include(`prometheus-multiproc://${join(dir, 'multiproc')}`);
    expect(text.stderr).to.include(`wsgistat: warning discover: gunicorn pid ${gs[0]!.proc.pid} (root): nothing wsgistat can read`);
  });

  it('run by a user who may not read a server\'s descriptors: the server is listed with its --stats address, unconfirmed, and what to do', function () {
    needs(this, 'setpriv');
    // The servers must be another user's than discover's: root starts them, nobody looks.
    if (process.getuid?.() !== 0 && !process.env.CI) this.skip();
    expect(process.getuid?.(), 'this spec must run as root under CI').to.equal(0);
    const r = spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, CLI, 'discover', '--format', 'json'], { encoding: 'utf8', timeout: 15000 });
    expect(r.status, r.stderr).to.equal(2);
    const mine = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Found).filter((f) => f.pid === u!.proc.pid);
    expect(mine).to.deep.equal([{
      kind: 'uwsgi', pid: u!.proc.pid, user: 'root', address: u!.stats, found_by: 'the --stats option (not checked against the sockets)',
      problem: `cannot read /proc/${u!.proc.pid}/fd (permission denied; the process is root's): run discover as root to confirm its stats server`,
    }]);
    expect(r.stderr).to.include(`wsgistat: warning discover: uwsgi pid ${u!.proc.pid} (root): cannot read /proc/${u!.proc.pid}/fd`);
  });
});
