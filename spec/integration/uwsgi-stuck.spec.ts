// Stuck uWSGI workers, reproduced for real: unbit/uwsgi#2480 (a recycled worker wedged in Python's
// finalization, a zombie thread-group leader the stats still call idle and accepting), a SIGSTOPped
// worker, and a worker that exits between the stats read and the /proc check. The ground truth is
// the kernel's: `ps` and /proc, read by the spec itself.

import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { wsgistat } from '../helpers/run.js';
import { needs, startUwsgi, until, type Uwsgi, type UwsgiOptions } from '../helpers/servers.js';
import { checkLiveness } from '../../lib/sources/uwsgi/liveness.js';
import { reportedPids, shapeUwsgi } from '../../lib/sources/uwsgi/shape.js';

type R = Record<string, any>;

/** pid → ps STAT of every child of `ppid`. */
function psChildren(ppid: number): Map<number, string> {
  const out = spawnSync('ps', ['-o', 'pid=,stat=', '--ppid', String(ppid)], { encoding: 'utf8' }).stdout;
  return new Map(out.trim().split('\n').filter(Boolean).map((l) => {
    const [pid, stat] = l.trim().split(/\s+/);
    return [Number(pid), stat!] as [number, string];
  }));
}

describe('stuck uWSGI workers, told from idle ones in the first sample', function () {
  const servers: Uwsgi[] = [];
  async function uwsgi(ctx: Mocha.Context, opts: UwsgiOptions): Promise<Uwsgi> {
    needs(ctx, 'uwsgi');
    const u = await startUwsgi(opts);
    servers.push(u);
    return u;
  }
  after(async () => {
    await Promise.all(servers.map((u) => u.stop()));
  });

  it('flags a SIGSTOPped worker as stuck (stopped), its sibling not', async function () {
    const u = await uwsgi(this, { workers: 2, threads: 1 });
    const doc = JSON.parse((await u.raw()).toString());
    const [a, b] = doc.workers.map((w: R) => w.pid as number);
    process.kill(a, 'SIGSTOP');
    try {
      await until('the worker to stop', () => (psChildren(u.proc.pid!).get(a)?.startsWith('T') ? true : undefined));
      const run = await wsgistat([u.stats]);
      const [summary, w1, w2] = run.records as R[];
      expect(w1).to.include({ pid: a, status: 'idle', accepting: 1, proc_state: 'T', stuck: true, stuck_reason: 'stopped' });
      expect(w2).to.include({ pid: b, proc_state: 'S', stuck: false }).and.not.have.property('stuck_reason');
      expect(summary).to.include({ proc_check: 'made', workers_stuck: 1, workers_idle: 1, workers_idle_reported: 2, workers_accepting: 1, workers_accepting_reported: 2 });
    } finally {
      process.kill(a, 'SIGCONT');
    }
  });

  it('reports a worker that exited after the stats read as gone, not stuck', async function () {
    const u = await uwsgi(this, { workers: 2, threads: 1 });
    const doc = JSON.parse((await u.raw()).toString());
    const [a, b] = doc.workers.map((w: R) => w.pid as number);
    process.kill(a, 'SIGKILL');
    await until('the master to reap the killed worker', () => (existsSync(`/proc/${a}`) ? undefined : true));
    const pids = reportedPids(doc)!;
    const live = checkLiveness(pids.master, pids.workers, true);
    const [summary, w1, w2] = shapeUwsgi(doc, { records: new Set(['summary', 'worker']), vars: { kind: 'none' } }, live);
    expect(w1).to.include({ pid: a, proc_state: 'gone', stuck: false });
    expect(w2).to.include({ pid: b, proc_state: 'S', stuck: false });
    expect(summary).to.include({ proc_check: 'made', workers_stuck: 0, workers_idle: summary.workers_idle_reported });
  });

  it('says the check was not made for a TCP stats address off loopback, and guesses nothing', () => {
    const live = checkLiveness(process.pid, [process.pid], false);
    expect(live).to.deep.equal({ check: 'remote', states: new Map() });
  });
});
