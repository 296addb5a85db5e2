// Continuous mode, in process: CPU time per tick against a real 4-worker x 2-thread uWSGI over a
// unix socket, through the real scheduler, pipeline, rates and stdout sink (its output discarded),
// and RSS at tick 100 and at the last tick. Run on demand: `npm run bench:tick`.
// Goals (issue #4): at most 0.5 ms CPU per tick (median); RSS flat within 5 %.
// `node --expose-gc dist/bench/tick.js` also prints the live heap after a full collection: a leak
// makes it grow; V8 sizing its young generation to the allocation rate makes only RSS grow.
//
// For scale, the same run first measures a floor: a bare net.connect + read to EOF of the same
// socket on the same schedule, which is what Node itself costs before any wsgistat code runs.
// Both run with V8's young generation held at its first size, as a continuous run holds it
// (lib/heap.ts); YOUNG=grow leaves V8's default, for a before and after.

import net from 'node:net';
import { Writable } from 'node:stream';
import { holdYoungGeneration } from '../lib/heap.js';
import { tick } from '../lib/pipeline.js';
import type { RateState } from '../lib/records/rates.js';
import { alignedEvery, scheduler } from '../lib/schedule.js';
import { stdoutSink } from '../lib/sinks/stdout.js';
import { parseAddress } from '../lib/sources/address.js';
import { createSource } from '../lib/sources/index.js';
import { startUwsgi } from '../spec/helpers/servers.js';

const TICKS = Number(process.env.TICKS ?? 10_000);
const FLOOR_TICKS = Number(process.env.FLOOR_TICKS ?? 2_000);
const INTERVAL_MS = Number(process.env.INTERVAL_MS ?? 5);

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const at = (xs: number[], p: number) => sorted(xs)[Math.floor(xs.length * p)]!;
const mib = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MiB`;

/** Runs `work` on the scheduler `ticks` times; CPU is taken from one tick's start to the next, so
 *  whatever the process does between ticks (timers, garbage collection) is counted too. */
async function onSchedule(ticks: number, work: (n: number) => Promise<void>): Promise<{ cpu: number[]; skipped: number; seconds: number }> {
  const cpu: number[] = [];
  let n = 0;
  let skipped = 0;
  let last: NodeJS.CpuUsage | undefined;
  const started = Date.now();
  const s = scheduler(alignedEvery(INTERVAL_MS));
  await s.run(async () => {
    const now = process.cpuUsage();
    if (last) cpu.push((now.user - last.user + now.system - last.system) / 1000);
    last = now;
    await work(++n);
    if (n >= ticks) s.stop();
  }, () => skipped++);
  return { cpu, skipped, seconds: (Date.now() - started) / 1000 };
}

const line = (name: string, r: { cpu: number[]; skipped: number }) =>
  `${name.padEnd(34)} median ${at(r.cpu, 0.5).toFixed(3)} ms   p90 ${at(r.cpu, 0.9).toFixed(3)} ms   p99 ${at(r.cpu, 0.99).toFixed(3)} ms   (${r.cpu.length + 1} ticks, ${r.skipped} skipped)`;

async function main() {
  if (process.env.YOUNG !== 'grow') holdYoungGeneration();
  const u = await startUwsgi({ stats: 'unix', workers: 4, threads: 2 });
  const path = u.stats.replace('unix://', '');
  try {
    const floor = await onSchedule(FLOOR_TICKS, () => new Promise<void>((resolve, reject) => {
      const s = net.connect(path);
      s.on('data', () => {});
      s.on('end', resolve);
      s.on('error', reject);
    }));

    let bytes = 0;
    const sink = stdoutSink({ onClosed: () => {}, stream: new Writable({ write: (c, _e, cb) => ((bytes += c.length), cb()) }) });
    const records = new Set(['summary', 'worker'] as const);
    const source = createSource({ address: parseAddress(u.stats), timeoutMs: 3000, maxBytes: 1 << 24 }, { records, vars: { kind: 'none' } });
    const states = new Map<string, RateState>();
    const rss: Record<number, number> = {};
    const heap: Record<number, number> = {};
    const parts: Record<number, string> = {};
    const gc = (globalThis as { gc?: () => void }).gc;
    const run = await onSchedule(TICKS, async (n) => {
      await tick([source], [sink], { hostname: 'bench', errorRecords: true, records, rates: { states, maxGapMs: 600_000 } });
      if (n === 100 || n === 1000 || n === TICKS / 2 || n === TICKS) {
        const m = process.memoryUsage();
        rss[n] = m.rss;
        parts[n] = `heap total ${mib(m.heapTotal)}, external ${mib(m.external)}`;
        // With --expose-gc: the live heap after a full collection, which a leak would make grow.
        if (gc) {
          gc();
          heap[n] = process.memoryUsage().heapUsed;
        }
      }
    });

    console.log(`every ${INTERVAL_MS} ms against uWSGI 4x2 over a unix socket; node ${process.version}; CPU per tick:`);
    console.log(line('bare connect + read (floor)', floor));
    console.log(line('wsgistat tick (summary,worker)', run));
    console.log(`wsgistat ticks: ${run.seconds.toFixed(1)} s, ${mib(bytes)} of records written`);
    if (rss[100] && rss[TICKS]) {
      const half = TICKS / 2;
      console.log(`RSS at tick 100: ${mib(rss[100])}; at tick ${half}: ${mib(rss[half] ?? 0)}; at tick ${TICKS}: ${mib(rss[TICKS])} (${(((rss[TICKS] - rss[100]) / rss[100]) * 100).toFixed(1)} % from tick 100)`);
      // Issue #18's goal: RSS within 10 % from tick 1,000 to tick 10,000.
      console.log(`  of which at tick 100: ${parts[100]}; at tick ${TICKS}: ${parts[TICKS]}`);
      if (rss[1000] && TICKS > 1000) console.log(`RSS from tick 1000 (${mib(rss[1000])}) to tick ${TICKS}: ${(((rss[TICKS] - rss[1000]) / rss[1000]) * 100).toFixed(1)} %`);
    }
    if (heap[100] && heap[TICKS]) {
      console.log(`live heap after GC at tick 100: ${mib(heap[100])}; at tick ${TICKS / 2}: ${mib(heap[TICKS / 2] ?? 0)}; at tick ${TICKS}: ${mib(heap[TICKS])}`);
    }
  } finally {
    await u.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
