// Resource bounds under hostile input (issue #10): for each input a one-shot run is started, and
// its wall time and peak RSS are measured against `node -e ''` in the same run. Goal: wall within
// --timeout plus a constant, peak RSS within --max-bytes plus a constant, whatever the input.
// Run on demand: `npm run bench:hostile` (ROUNDS=n, default 3; medians).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fakeStats, type Fake } from '../spec/helpers/fakes.js';
import { cleanup, tempDir } from '../spec/helpers/servers.js';

const CLI = fileURLToPath(new URL('../bin/wsgistat.cjs', import.meta.url));
const MAXRSS = fileURLToPath(new URL('../../bench/maxrss.cjs', import.meta.url));
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const TIMEOUT_MS = 2000;
const MAX_BYTES = 8 * 1024 * 1024;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Runs node with args (async: the fakes live in this process); wall ms and peak RSS MiB. */
function measure(args: string[]): Promise<{ ms: number; rssMiB: number; code: number | null }> {
  return new Promise((resolve) => {
    const t = process.hrtime.bigint();
    const child = spawn(process.execPath, ['-r', MAXRSS, ...args], { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
    let rss = '';
    child.stdio[3]!.on('data', (d) => (rss += d));
    // Bounded: a run that outlived this would be the bug being measured.
    const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(kill);
      resolve({ ms: Number(process.hrtime.bigint() - t) / 1e6, rssMiB: Number(rss.trim()) / 1024, code });
    });
  });
}

async function main(): Promise<void> {
  const dir = tempDir();
  const fakes: Fake[] = [];
  const children: ChildProcess[] = [];
  try {
    const fifoSilent = join(dir, 'silent.fifo');
    const fifoEndless = join(dir, 'endless.fifo');
    spawnSync('mkfifo', [fifoSilent, fifoEndless]);
    const hold = openSync(fifoSilent, 'r+'); // a writer that never writes
    const big = join(dir, 'big.json');
    writeFileSync(big, '{"workers":[');
    truncateSync(big, 512 * 1024 * 1024); // sparse: 512 MiB that claim to be a document
    symlinkSync('/dev/zero', join(dir, 'zero-link.json'));
    const deep = '{"workers":' + '['.repeat(200_000) + ']'.repeat(200_000) + '}';
    const huge = '{"version":"2.0.21","workers":[{"id":1,"requests":' + '9'.repeat(4_000_000) + '}]}';
    const mk = async (b: Parameters<typeof fakeStats>[0]) => {
      const f = await fakeStats(b);
      fakes.push(f);
      return f;
    };
    const endless = await mk({ kind: 'endless' });
    const slow = await mk({ kind: 'partial', bytes: '{"version":"2.0.21","workers":[', then: 'hang' });
    const silent = await mk({ kind: 'silent' });
    const deepFake = await mk({ kind: 'raw', doc: deep });
    const hugeFake = await mk({ kind: 'raw', doc: huge });
    const headers = await mk({ kind: 'http', doc: Buffer.alloc(0), status: `200 OK\r\n${'X-Pad: y\r\n'.repeat(2_000_000)}` });

    const endlessWriter = () => {
      const w = spawn(process.execPath, ['-e', `const fs=require('fs');const fd=fs.openSync(${JSON.stringify(fifoEndless)},'w');const b=Buffer.alloc(65536);for(let i=0;i<20000;i++){try{fs.writeSync(fd,b)}catch{process.exit(0)}}`], { stdio: 'ignore' });
      children.push(w);
    };
    const cases: { name: string; src: string; before?: () => void }[] = [
      { name: 'file:///dev/zero', src: 'file:///dev/zero' },
      { name: 'file:///dev/urandom', src: 'file:///dev/urandom' },
      { name: 'symlink to /dev/zero', src: `file://${join(dir, 'zero-link.json')}` },
      { name: 'gunicorn:///dev/zero', src: 'gunicorn:///dev/zero' },
      { name: 'FIFO, silent writer', src: `file://${fifoSilent}` },
      { name: 'FIFO, endless writer', src: `file://${fifoEndless}`, before: endlessWriter },
      { name: 'sparse 512 MiB file', src: `file://${big}` },
      { name: 'server sends forever', src: endless.address() },
      { name: 'server stops midway, never closes', src: slow.address() },
      { name: 'server accepts, sends nothing', src: silent.address() },
      { name: 'document nested 200,000 deep', src: deepFake.address() },
      { name: 'a 4 MB number', src: hugeFake.address() },
      { name: 'HTTP answer with endless headers', src: headers.address('http') },
    ];
    const limits = ['--timeout', `${TIMEOUT_MS}ms`, '--max-bytes', String(MAX_BYTES), '--no-state'];
    const base: number[][] = [[], []];
    const results = new Map(cases.map((c) => [c.name, { ms: [] as number[], rss: [] as number[], code: 0 as number | null }]));
    for (let round = 0; round < ROUNDS; round++) {
      const b = await measure(['-e', '']);
      base[0]!.push(b.ms);
      base[1]!.push(b.rssMiB);
      for (const c of cases) {
        c.before?.();
        const r = await measure([CLI, ...limits, c.src]);
        const entry = results.get(c.name)!;
        entry.ms.push(r.ms);
        entry.rss.push(r.rssMiB);
        entry.code = r.code;
      }
    }
    closeSync(hold);
    const [bms, brss] = [median(base[0]!), median(base[1]!)];
    console.log(`--timeout ${TIMEOUT_MS} ms, --max-bytes ${MAX_BYTES / 1048576} MiB, ${ROUNDS} rounds, medians`);
    console.log(`${"node -e ''".padEnd(36)} ${bms.toFixed(0).padStart(6)} ms ${brss.toFixed(1).padStart(7)} MiB`);
    let worstMs = 0;
    let worstRss = 0;
    for (const [name, r] of results) {
      const ms = median(r.ms);
      const rss = median(r.rss);
      worstMs = Math.max(worstMs, Math.max(...r.ms) - TIMEOUT_MS);
      worstRss = Math.max(worstRss, Math.max(...r.rss) - brss - MAX_BYTES / 1048576);
      console.log(`${name.padEnd(36)} ${ms.toFixed(0).padStart(6)} ms ${rss.toFixed(1).padStart(7)} MiB  exit ${r.code}`);
    }
    console.log(`worst wall over --timeout: ${worstMs.toFixed(0)} ms; worst peak RSS over node -e '' + --max-bytes: ${worstRss.toFixed(1)} MiB`);
  } finally {
    children.forEach((c) => c.kill());
    await Promise.all(fakes.map((f) => f.close()));
    cleanup(dir);
  }
}

await main();
