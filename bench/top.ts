// Start-up of `wsgistat top` and `wsgistat discover`, against `node -e ''`: medians of ROUNDS
// (default 15), interleaved. Run on demand: `npm run build && node dist/bench/top.js`.
// - discover: the wall time of the command (spawnSync), as `node -e ''`'s.
// - top: in a real terminal (tmux, a private server), the time from starting the command in a pane
//   (respawn-pane) to its first frame on the screen, and to the first frame with the server's rows
//   (the first sample read); against the same for a node that prints one line, so that tmux's own
//   part of the figure is in both.

import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startUwsgi } from '../spec/helpers/servers.js';

const CLI = fileURLToPath(new URL('../bin/wsgistat.cjs', import.meta.url));
const ROUNDS = Number(process.env.ROUNDS ?? 15);
const SOCKET = `wsgistat-bench-${process.pid}`;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const tmux = (...args: string[]) => spawnSync('tmux', ['-L', SOCKET, '-f', '/dev/null', ...args], { encoding: 'utf8' });
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

function wall(args: string[]): number {
  const t = process.hrtime.bigint();
  spawnSync(process.execPath, args, { stdio: 'ignore' });
  return ms(t);
}

/** Starts `cmd` in the pane and returns when each marker first shows on the screen, ms. */
function onScreen(cmd: string[], markers: string[]): number[] {
  tmux('respawn-pane', '-k', '-t', 'bench', 'sh', '-c', 'clear; sleep 60');
  const t0 = process.hrtime.bigint();
  tmux('respawn-pane', '-k', '-t', 'bench', ...cmd);
  const seen: number[] = [];
  const deadline = Date.now() + 10_000;
  while (seen.length < markers.length && Date.now() < deadline) {
    const screen = tmux('capture-pane', '-p', '-t', 'bench').stdout;
    while (seen.length < markers.length && screen.includes(markers[seen.length]!)) seen.push(ms(t0));
  }
  if (seen.length < markers.length) throw new Error(`${cmd.join(' ')}: never showed ${markers[seen.length]}`);
  return seen;
}

async function main(): Promise<void> {
  const u = await startUwsgi({ workers: 2, threads: 1 });
  tmux('new-session', '-d', '-s', 'bench', '-x', '80', '-y', '24', 'sleep 60');
  const r = { node: [] as number[], discover: [] as number[], nodeTty: [] as number[], topFrame: [] as number[], topRows: [] as number[] };
  try {
    for (let i = 0; i < ROUNDS; i++) {
      r.node.push(wall(['-e', '']));
      r.discover.push(wall([CLI, 'discover']));
      r.nodeTty.push(onScreen([process.execPath, '-e', "process.stdout.write('node-ready'); setTimeout(() => {}, 60000)"], ['node-ready'])[0]!);
      const [frame, rows] = onScreen([process.execPath, CLI, 'top', u.stats], ['wsgistat top', 'WID']);
      r.topFrame.push(frame!);
      r.topRows.push(rows!);
    }
  } finally {
    tmux('kill-server');
    // tmux leaves the socket file of a server it killed.
    rmSync(join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${process.getuid!()}`, SOCKET), { force: true });
    await u.stop();
  }
  const line = (name: string, xs: number[], base: number[]) => console.log(`${name.padEnd(52)}${median(xs).toFixed(1).padStart(7)} ms  ${(median(xs) / median(base)).toFixed(2)}x`);
  console.log(`${ROUNDS} rounds, interleaved; node ${process.version}; medians\n`);
  line("node -e '' (wall)", r.node, r.node);
  line('wsgistat discover (wall)', r.discover, r.node);
  line("node printing one line in tmux (to the screen)", r.nodeTty, r.nodeTty);
  line('wsgistat top: first frame on the screen', r.topFrame, r.nodeTty);
  line('wsgistat top: first frame with the rows (one sample)', r.topRows, r.nodeTty);
}

await main();
