// Stuck uWSGI workers, reproduced for real: unbit/uwsgi#2480 (a recycled worker wedged in Python's
// finalization, a zombie thread-group leader the stats still call idle and accepting), a SIGSTOPped
// worker, and a worker that exits between the stats read and the /proc check. The ground truth is
// the kernel's: `ps` and /proc, read by the spec itself.

import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { wsgistat } from '../helpers/run.js';
import { needs, sleep, startUwsgi, STUCK_APP, until, type Uwsgi, type UwsgiOptions } from '../helpers/servers.js';
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

  it('reproduces unbit/uwsgi#2480 and flags exactly the zombie workers ps shows, in the first sample', async function () {
    this.timeout(90000);
    // 4 workers x 4 threads, max-requests 3; workers 1 and 2 start a thread that never ends. When
    // they are recycled, Python's finalization waits for it: the worker becomes a zombie leader
    // (ps: Zl) when its recycling request ran on a core thread, and stays a live process that
    // serves nothing (Sl) when it ran on the main thread (1 chance in 4 per worker, which only the
    // frozen rule can catch). Workers 3 and 4 recycle and respawn as usual. The cores are not ours
    // to choose, so the server is started again, at most 4 times, until ps shows a zombie.
    let zombies = 0;
    for (let attempt = 1; attempt <= 4 && zombies === 0; attempt++) {
      const u = await uwsgi(this, {
        workers: 4, threads: 4, app: STUCK_APP, env: { WSGISTAT_WEDGE_WORKERS: '1,2' },
        extra: ['--max-requests', '3', '--min-worker-lifetime', '1', '--worker-reload-mercy', '60'],
      });
      const wedged = async () => {
        const doc = JSON.parse((await u.raw()).toString());
        return doc.workers.filter((w: R) => w.id <= 2 && w.requests >= 3).length === 2 ? doc : undefined;
      };
      // uWSGI recycles no worker younger than --min-worker-lifetime (1 s here, 10 s by default).
      await sleep(1200);
      // Requests until workers 1 and 2 have each served their 3 (each first request wedges them).
      await until('workers 1 and 2 to reach max-requests', async () => {
        await Promise.all(Array.from({ length: 4 }, () => u.get('/wedge').catch(() => 0)));
        return wedged();
      }, 30000);
      // The recycled workers 1 and 2 wedge now. A zombie shows within milliseconds; one wedged on
      // its main thread looks like any live worker (Sl). Workers 3 and 4, recycled too, pass
      // through a brief zombie state of their own as they exit, and are respawned: wait until
      // the stats name live workers for them (bounded), so that a sample sees settled states.
      const stats = async () => JSON.parse((await u.raw()).toString());
      const settled = await until('workers 3 and 4 respawned and live', async () => {
        const doc = await stats();
        const children = psChildren(u.proc.pid!);
        const healthy = doc.workers.filter((w: R) => w.id > 2);
        return healthy.every((w: R) => /^[RSD]/.test(children.get(w.pid) ?? 'gone')) ? doc : undefined;
      }, 10000).catch(stats); // on a loaded machine a slot may still be on its way: compared with ps all the same
      await until('workers 1 and 2 to be zombies', () => (settled.workers.filter((w: R) => w.id <= 2).every((w: R) => psChildren(u.proc.pid!).get(w.pid) === 'Zl') ? true : undefined), 3000).catch(() => undefined);
      const before = psChildren(u.proc.pid!);
      const run = await wsgistat([u.stats]);
      const after = psChildren(u.proc.pid!);
      const [summary, ...workers] = run.records as R[];
      expect(workers).to.have.length(4);
      zombies = workers.filter((w) => before.get(w.pid) === 'Zl' && after.get(w.pid) === 'Zl').length;
      for (const w of workers) {
        const [b, a] = [before.get(w.pid) ?? 'gone', after.get(w.pid) ?? 'gone'];
        if (b !== a) continue; // changed while we looked: nothing to compare with
        if (a === 'Zl') expect(w, `worker ${w.worker_id}, ps ${a}`).to.include({ status: 'idle', accepting: 1, proc_state: 'Z', stuck: true, stuck_reason: 'zombie' });
        else expect(w, `worker ${w.worker_id}, ps ${a}`).to.include({ stuck: false });
        if (w.worker_id > 2 && /^[RSD]/.test(a)) expect(w.stuck, `healthy worker ${w.worker_id}`).to.equal(false);
      }
      expect(summary).to.include({ proc_check: 'made', workers_stuck: workers.filter((w) => w.stuck).length });
      expect(summary.workers_idle).to.equal(summary.workers_idle_reported - workers.filter((w) => w.stuck && w.status === 'idle').length);
      const workerPids = [...psChildren(u.proc.pid!).keys()];
      await u.stop();
      servers.splice(servers.indexOf(u), 1);
      // A wedged worker outlives its master: its blocked thread keeps running, and with it the
      // stdout and stderr pipes the spec reads, which would keep mocha from exiting. They are
      // this spec's processes (the master's children a moment ago): end them by pid.
      for (const pid of workerPids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    expect(zombies, 'ps showed a zombie worker within 4 attempts').to.be.above(0);
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
