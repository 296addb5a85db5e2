// What the stuck-worker check costs (issue #17): reading /proc/<pid>/stat of every worker a uWSGI
// stats server reports, for 64 workers, against the stats read itself, in the same run, interleaved.
// Run on demand: `npm run bench:proc` (ROUNDS, default 300).
//
//   stats read   one read of the stats server over its unix socket (wsgistat's own transport):
//                what every sample costs anyway;
//   /proc check  checkLiveness for the master and its 64 workers (lib/sources/uwsgi/liveness.ts).

import { startUwsgi } from '../spec/helpers/servers.js';
import { checkLiveness } from '../lib/sources/uwsgi/liveness.js';

const ROUNDS = Number(process.env.ROUNDS ?? 300);
const WORKERS = 64;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const us = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1000;

async function main(): Promise<void> {
  const u = await startUwsgi({ stats: 'unix', workers: WORKERS });
  try {
    const doc = JSON.parse((await u.raw()).toString());
    const pids: number[] = doc.workers.map((w: { pid: number }) => w.pid);
    if (pids.length !== WORKERS) throw new Error(`uWSGI reports ${pids.length} workers, not ${WORKERS}`);
    const read: number[] = [];
    const check: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      let t = process.hrtime.bigint();
      await u.raw();
      read.push(us(t));
      t = process.hrtime.bigint();
      const live = checkLiveness(doc.pid, pids, true);
      check.push(us(t));
      if (live.check !== 'made' || live.states.size !== WORKERS) throw new Error(`check ${live.check}, ${live.states.size} states`);
    }
    console.log(`${ROUNDS} rounds, interleaved; uWSGI with ${WORKERS} workers; node ${process.version}\n`);
    console.log(`stats read (unix socket)   median ${median(read).toFixed(0)} µs`);
    console.log(`/proc check, ${WORKERS} workers    median ${median(check).toFixed(0)} µs  (${(median(check) / WORKERS).toFixed(2)} µs per worker; ${(median(check) / median(read)).toFixed(2)}x the stats read)`);
  } finally {
    await u.stop();
  }
}

await main();
