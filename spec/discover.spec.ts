// `wsgistat discover` against real servers started here: each one is found from /proc with the
// address the spec started it with, and that address, given back to wsgistat, reads the server.
// Other processes on the host (other specs' servers) may be found too, so each server is picked
// out by its master's pid.

import { expect } from 'chai';
import { wsgistat } from './helpers/run.js';
import { needs, startGunicorn, startUwsgi, type Gunicorn, type Uwsgi } from './helpers/servers.js';

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
