// One-shot start-up cost: wsgistat reading a real uWSGI over a unix socket, and a real gunicorn's
// status directory (conf/gunicorn_wsgistat.py), against `node -e ''`
// in the same run, interleaved, repeated; medians. Run on demand: `npm run bench`.
// Goals (issue #2): wall time at most 1.25x and peak RSS at most 1.3x those of `node -e ''`;
// issue #18: 1.05x and 1.1x, for stdout, --format mackerel and an HTTP output (a real Fluentd's
// in_http, so its own answer time is in the figure), with and without a state file.
// BASELINE_CLI=path/to/an/older/dist/bin/wsgistat.cjs adds the main cases run by that build, for a
// before/after in the same run.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFluentd } from '../spec/helpers/fluentd.js';
import { startGunicorn, startUwsgi } from '../spec/helpers/servers.js';

const CLI = fileURLToPath(new URL('../bin/wsgistat.cjs', import.meta.url));
const MAXRSS = fileURLToPath(new URL('../../bench/maxrss.cjs', import.meta.url));
const ROUNDS = Number(process.env.ROUNDS ?? 40);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)]!;

function wall(args: string[]): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
  return Number(process.hrtime.bigint() - t) / 1e6;
}

function maxRss(args: string[]): number {
  const r = spawnSync(process.execPath, ['-r', MAXRSS, ...args], { stdio: ['ignore', 'ignore', 'inherit', 'pipe'] });
  return Number(String(r.output[3]).trim()) / 1024;
}

export interface Case { name: string; args: string[] }

export async function compare(cases: Case[]): Promise<void> {
  const baseline: Case = { name: "node -e ''", args: ['-e', ''] };
  const all = [baseline, ...cases];
  const times = new Map(all.map((c) => [c.name, [] as number[]]));
  const rss = new Map(all.map((c) => [c.name, [] as number[]]));
  for (let i = 0; i < 3; i++) all.forEach((c) => wall(c.args)); // warm the page cache
  for (let i = 0; i < ROUNDS; i++) {
    // Alternate the order, so that neither side always runs first.
    for (const c of i % 2 ? [...all].reverse() : all) {
      times.get(c.name)!.push(wall(c.args));
      rss.get(c.name)!.push(maxRss(c.args));
    }
  }
  const base = { t: median(times.get(baseline.name)!), m: median(rss.get(baseline.name)!) };
  console.log(`${ROUNDS} rounds, interleaved; node ${process.version}\n`);
  console.log('case'.padEnd(48) + 'wall median   p90      ratio   peak RSS median  ratio');
  for (const c of all) {
    const t = median(times.get(c.name)!);
    const m = median(rss.get(c.name)!);
    console.log(
      c.name.padEnd(48) + `${t.toFixed(1)} ms`.padEnd(14) + `${p90(times.get(c.name)!).toFixed(1)} ms`.padEnd(9) +
      `${(t / base.t).toFixed(3)}x`.padEnd(8) + `${m.toFixed(1)} MiB`.padEnd(17) + `${(m / base.m).toFixed(3)}x`,
    );
  }
}

function baselineCases(stats: string, state: string, gunicorn: string, gstate: string, fluentd: string, fstate: string): Case[] {
  const old = process.env.BASELINE_CLI;
  if (!old) return [];
  return [
    { name: 'baseline: unix:// --state-file', args: [old, '--state-file', state, stats] },
    { name: 'baseline: unix:// --no-state', args: [old, '--no-state', stats] },
    { name: 'baseline: gunicorn:// --state-file', args: [old, '--state-file', gstate, gunicorn] },
    { name: 'baseline: --output fluentd unix://', args: [old, '--output', fluentd, '--state-file', fstate, stats] },
  ];
}

async function main() {
  const u = await startUwsgi({ stats: 'unix', workers: 4, threads: 2 });
  const g = await startGunicorn({ workerClass: 'gthread', workers: 4, threads: 2 });
  const f = await startFluentd();
  // One-shot runs as deployed: reading and writing the state file that gives them rates.
  const state = join(u.dir, 'state.json');
  const gstate = join(g.dir, 'state.json');
  const mstate = join(u.dir, 'mackerel-state.json');
  try {
    await compare([
      { name: 'wsgistat unix:// --state-file', args: [CLI, '--state-file', state, u.stats] },
      { name: 'wsgistat unix:// --state-file --records all', args: [CLI, '--state-file', state, '--records', 'all', u.stats] },
      { name: 'wsgistat unix:// --no-state', args: [CLI, '--no-state', u.stats] },
      { name: 'wsgistat gunicorn:// --state-file (+ backlog)', args: [CLI, '--state-file', gstate, g.status] },
      { name: 'wsgistat gunicorn:// --state-file --listen none', args: [CLI, '--state-file', gstate, '--listen', 'none', g.status] },
      { name: 'wsgistat --format mackerel unix:// (state)', args: [CLI, '--format', 'mackerel', '--state-file', mstate, u.stats] },
      { name: 'wsgistat --output fluentd unix:// (state)', args: [CLI, '--output', `${f.url}/wsgistat.bench`, '--state-file', join(u.dir, 'f-state.json'), u.stats] },
      ...baselineCases(u.stats, join(u.dir, 'old-state.json'), g.status, join(g.dir, 'old-state.json'), `${f.url}/wsgistat.bench`, join(u.dir, 'old-f-state.json')),
    ]);
  } finally {
    await f.dispose();
    await u.stop();
    await g.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
