// What wsgistat's gunicorn hooks cost a server (issue #11, "Speed"): throughput of a trivial WSGI
// app (spec/fixtures/app.py, `/`) under Debian's gunicorn, side by side in one run, for
//   plain       gunicorn with no config hooks at all;
//   prometheus  prometheus_client in multiprocess mode doing per request what shared/seeds/002 does
//               (bench/prometheus_app.py: in-progress Gauge 'livesum' inc/dec, latency Histogram,
//               Counter by method/endpoint/status; bench/gunicorn_prometheus.py: child_exit calls
//               mark_process_dead), PROMETHEUS_MULTIPROC_DIR a fresh private directory;
//   hooks       `-c conf/gunicorn_wsgistat.py` (or the file named by env HOOKS), with
//               WSGISTAT_GUNICORN_DIR a fresh path in a private directory;
// for the worker classes sync (2 workers) and gthread (2 workers x 2 threads). Run on demand, never
// as a spec: `npm run bench:gunicorn`. Env: ROUNDS (5), DURATION_MS (3000) per measurement,
// WARMUP_MS (1000) before it, CONNECTIONS (8), HOOKS (the hooks file to measure), CLASS (sync or
// gthread: that class only; both unset), PIN (unset): with
// PIN=1, one worker per class, gunicorn pinned to CPU 1 and the load client to CPU 0 (taskset), so
// that the worker alone limits throughput and the client does not share its CPU: the ratios then
// resolve a few per cent, which they cannot while the client and two workers share two CPUs.
//
// Goal (issue #11): the hooks keep at least 97 % of plain gunicorn's throughput, and cost less
// than prometheus_client multiprocess. This reports against it; it does not fail on it (exit 0).
//
// Method: each round starts, for each class and case in turn (the order reversed every other
// round), a fresh gunicorn on a free loopback port, waits until it answers `/` and all its workers
// have booted, and runs the load client (bench/load.ts) in a child node process: CONNECTIONS
// requests kept in flight, each a new connection (`GET / HTTP/1.0`, no keep-alive, as gunicorn's
// sync worker closes anyway; the same for every case), WARMUP_MS not counted, then 200 responses
// counted for DURATION_MS. Any non-200 or failed connection is counted and reported. The machine
// has 2 CPUs, so the client competes with the workers; every case gets the same client.
//
// Figures, per class and case, over the rounds:
//   req/s     median, and min–max;
//   ratio     the median of the per-round ratios case/plain (same round, so drift cancels);
//   µs/req    derived: N/tput_case − N/tput_plain, in µs, N the number of worker processes (threads
//             share one process's GIL, so they do not count), tput the median req/s: the extra wall
//             time per request of the server, times N processes serving in parallel, i.e. roughly
//             the extra µs of worker time each request costs, if the workers are what limits
//             throughput (here they share 2 CPUs with the client and the master, so it is a
//             rough figure);
//   CPU µs/req measured: the workers' user+system CPU time (/proc/PID/stat, 10 ms ticks) over the
//             window divided by the 200s in it, the case's own, not a difference; its difference
//             to plain's is a second estimate of the same cost.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, get, sleep, until } from '../spec/helpers/servers.js';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const DURATION_MS = Number(process.env.DURATION_MS ?? 3000);
const WARMUP_MS = Number(process.env.WARMUP_MS ?? 1000);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 8);

/** Debian's gunicorn, on /usr/bin/python3 (the python3 on PATH may be another interpreter). */
const GUNICORN = '/usr/bin/gunicorn';
const APP_DIR = fileURLToPath(new URL('../../spec/fixtures/', import.meta.url));
const BENCH_DIR = fileURLToPath(new URL('../../bench/', import.meta.url));
const PROMETHEUS_CONF = join(BENCH_DIR, 'gunicorn_prometheus.py');
const HOOKS = resolve(process.env.HOOKS ?? fileURLToPath(new URL('../../conf/gunicorn_wsgistat.py', import.meta.url)));
const LOAD = fileURLToPath(new URL('./load.js', import.meta.url));
/** Where the private temporary directories go: tmpfs (/dev/shm), where the hooks' status directory
 *  is by default and where prometheus_client's multiprocess directory belongs, so that neither
 *  case measures a disk file system's rename or mmap costs; env TMP_ROOT to measure another. */
const TMP_ROOT = resolve(process.env.TMP_ROOT ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir()));
/** Kernel clock ticks per second, the unit of utime and stime in /proc/PID/stat. */
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

interface WorkerClass {
  name: string;
  /** Worker processes: the N of the µs/req figure. */
  workers: number;
  args: string[];
}

const PIN = Boolean(process.env.PIN);

const ALL_CLASSES: WorkerClass[] = PIN
  ? [
      { name: 'sync, 1 worker on CPU 1', workers: 1, args: ['--workers', '1', '--worker-class', 'sync'] },
      { name: 'gthread, 1 worker x 2 threads on CPU 1', workers: 1, args: ['--workers', '1', '--worker-class', 'gthread', '--threads', '2'] },
    ]
  : [
      { name: 'sync, 2 workers', workers: 2, args: ['--workers', '2', '--worker-class', 'sync'] },
      { name: 'gthread, 2 workers x 2 threads', workers: 2, args: ['--workers', '2', '--worker-class', 'gthread', '--threads', '2'] },
    ];
/** env CLASS=sync or CLASS=gthread: that class only, for more rounds in the same time. */
const CLASSES = ALL_CLASSES.filter((c) => !process.env.CLASS || c.name.startsWith(`${process.env.CLASS},`));

/** The command and arguments to run `cmd` on `cpu` when PIN is set. */
const pinned = (cpu: number, cmd: string, args: string[]): [string, string[]] => (PIN ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args]);

interface Case {
  name: string;
  /** gunicorn's arguments and environment for a server whose private temporary directory is `dir`. */
  setup(dir: string): { args: string[]; env: Record<string, string> };
  /** After the measurement: whether the case did its work (files written); a problem, or ''. */
  check(dir: string): string;
}

const filesIn = (dir: string) => {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
};

const CASES: Case[] = [
  {
    name: 'plain',
    setup: () => ({ args: ['--chdir', APP_DIR, 'app:application'], env: {} }),
    check: () => '',
  },
  {
    name: 'prometheus',
    setup: (dir) => {
      mkdirSync(join(dir, 'prom'), { mode: 0o700 });
      return {
        args: ['-c', PROMETHEUS_CONF, '--chdir', APP_DIR, '--pythonpath', BENCH_DIR, 'prometheus_app:application'],
        env: { PROMETHEUS_MULTIPROC_DIR: join(dir, 'prom') },
      };
    },
    // One mmap file per worker and metric type: counter_PID.db, histogram_PID.db, gauge_livesum_PID.db.
    check: (dir) => {
      const n = filesIn(join(dir, 'prom')).filter((f) => f.endsWith('.db')).length;
      return n >= 3 ? '' : `only ${n} prometheus_client .db files were written`;
    },
  },
  {
    name: 'hooks',
    setup: (dir) => ({ args: ['-c', HOOKS, '--chdir', APP_DIR, 'app:application'], env: { WSGISTAT_GUNICORN_DIR: join(dir, 'status') } }),
    check: (dir) => (filesIn(join(dir, 'status')).some((f) => f.startsWith('worker-')) ? '' : 'the hooks wrote no worker file'),
  },
];

interface Run {
  reqs: number;
  /** Workers' CPU µs per 200 response in the window. */
  cpuUs: number;
  bad: number;
  errors: number;
  firstError: string;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** user+system CPU ticks of the processes `pids`, threads included. */
function cpuTicks(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    // Fields after the command name, which is in parentheses and may hold anything: state is the
    // 3rd field, utime and stime the 14th and 15th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited, or after a bound. */
async function stop(proc: ChildProcess, graceMs = 10_000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const kill = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await Promise.race([exited, sleep(graceMs + 5000)]);
  clearTimeout(kill);
  if (proc.exitCode === null && proc.signalCode === null) console.error(`warning: pid ${proc.pid} did not exit after SIGKILL`);
}

/** Runs the load client against `port`; calls `at('window')` and `at('end')` as the window opens and
 *  closes; resolves with its report. */
function load(port: number, at: (mark: string) => void): Promise<{ ok: number; seconds: number; bad: number; errors: number; firstError: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(...pinned(0, process.execPath, [LOAD, String(port), String(CONNECTIONS), String(WARMUP_MS), String(DURATION_MS)]), {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    let report: string | undefined;
    // The client's own bounds (a 10 s request timeout, a 5 s drain) plus margin.
    const timer = setTimeout(() => child.kill('SIGKILL'), WARMUP_MS + DURATION_MS + 30_000);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      out += d;
      let nl: number;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (line.startsWith('{')) report = line;
        else at(line);
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0 && report) resolvePromise(JSON.parse(report));
      else reject(new Error(`load client exited ${code ?? signal} without a report`));
    });
  });
}

/** One measurement: a fresh gunicorn of class `cls` for case `c`, loaded, stopped, cleaned up. */
async function measure(cls: WorkerClass, c: Case): Promise<Run> {
  const dir = mkdtempSync(join(TMP_ROOT, 'wsgistat-bench-')); // mode 0700
  const port = await freePort();
  const { args, env } = c.setup(dir);
  const baseEnv = { ...process.env };
  // Nothing from the caller's environment may configure one case and not another.
  for (const k of ['GUNICORN_CMD_ARGS', 'PROMETHEUS_MULTIPROC_DIR', 'prometheus_multiproc_dir', 'WSGISTAT_GUNICORN_DIR']) delete baseEnv[k];
  // cwd: the empty temporary directory, so that no ./gunicorn.conf.py is picked up.
  const proc = spawn(...pinned(1, GUNICORN, ['--bind', `127.0.0.1:${port}`, ...cls.args, '--timeout', '30', '--graceful-timeout', '5', ...args]), {
    cwd: dir,
    env: { ...baseEnv, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // gunicorn logs to stderr: at info level only its start, the workers' boots and errors. Bounded.
  let log = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => {
    if (log.length < 1 << 20) log += d;
  });
  try {
    await until(`gunicorn (${cls.name}, ${c.name}) to serve`, async () => {
      if (proc.exitCode !== null) throw new Error(`gunicorn exited: ${log.slice(-800)}`);
      return (await get(port, '/', {}, 2000)) === 200 ? true : undefined;
    }, 20_000);
    const pids = await until(`gunicorn's ${cls.workers} workers to boot`, () => {
      const found = [...log.matchAll(/Booting worker with pid: (\d+)/g)].map((m) => Number(m[1]));
      return found.length >= cls.workers ? found : undefined;
    });
    let cpu0 = 0;
    let cpu1 = 0;
    const r = await load(port, (mark) => {
      if (mark === 'window') cpu0 = cpuTicks(pids);
      else if (mark === 'end') cpu1 = cpuTicks(pids);
    });
    if (log.split('Booting worker').length - 1 > cls.workers) {
      console.error(`warning: ${cls.name}, ${c.name}: a worker was restarted during the run`);
    }
    const problem = c.check(dir);
    if (problem) console.error(`warning: ${cls.name}, ${c.name}: ${problem}`);
    return {
      reqs: r.ok / r.seconds,
      cpuUs: r.ok ? (((cpu1 - cpu0) / CLK_TCK) * 1e6) / r.ok : NaN,
      bad: r.bad,
      errors: r.errors,
      firstError: r.firstError,
    };
  } finally {
    await stop(proc);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const version = spawnSync(GUNICORN, ['--version'], { encoding: 'utf8' });
  const python = spawnSync('/usr/bin/python3', ['-c', 'import sys, prometheus_client; print(sys.version.split()[0])'], { encoding: 'utf8' });
  const fs = spawnSync('stat', ['-f', '-c', '%T', TMP_ROOT], { encoding: 'utf8' }).stdout.trim();
  console.log(
    `${(version.stdout || version.stderr).trim()} (${GUNICORN}), Python ${python.stdout.trim()}, node ${process.version}\n` +
      `${ROUNDS} rounds, interleaved, of ${DURATION_MS} ms (after ${WARMUP_MS} ms warm-up) per case; ` +
      `${CONNECTIONS} connections, GET / HTTP/1.0, no keep-alive\n` +
      `hooks: ${HOOKS}\ntemporary directories in ${TMP_ROOT} (${fs})${PIN ? '\npinned: gunicorn on CPU 1, the load client on CPU 0' : ''}\n`,
  );
  // runs[class][case]: one Run per round.
  const runs = CLASSES.map(() => CASES.map(() => [] as Run[]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [ci, cls] of CLASSES.entries()) {
      // Alternate the order, so that no case always runs first or last.
      const order = [...CASES.keys()];
      if (round % 2) order.reverse();
      for (const k of order) {
        const r = await measure(cls, CASES[k]!);
        runs[ci]![k]!.push(r);
        console.error(`round ${round + 1}/${ROUNDS}  ${cls.name.padEnd(31)} ${CASES[k]!.name.padEnd(11)} ${r.reqs.toFixed(0).padStart(6)} req/s` +
          `  ${r.cpuUs.toFixed(0)} CPU µs/req${r.bad + r.errors ? `  ${r.bad} non-200, ${r.errors} errors (${r.firstError})` : ''}`);
      }
    }
  }

  for (const [ci, cls] of CLASSES.entries()) {
    const plain = runs[ci]![0]!;
    const plainMedian = median(plain.map((r) => r.reqs));
    const plainCpu = median(plain.map((r) => r.cpuUs));
    const ratios: number[] = [];
    console.log(`\n${cls.name}`);
    console.log('case'.padEnd(12) + 'req/s median  min–max        ratio   µs/req derived  CPU µs/req (+ over plain)  non-200  errors');
    for (const [k, c] of CASES.entries()) {
      const rs = runs[ci]![k]!;
      const reqs = rs.map((r) => r.reqs);
      const m = median(reqs);
      const ratio = median(rs.map((r, i) => r.reqs / plain[i]!.reqs));
      ratios.push(ratio);
      const derived = cls.workers * (1 / m - 1 / plainMedian) * 1e6;
      const cpu = median(rs.map((r) => r.cpuUs));
      console.log(
        c.name.padEnd(12) + m.toFixed(0).padEnd(14) + `${Math.min(...reqs).toFixed(0)}–${Math.max(...reqs).toFixed(0)}`.padEnd(15) +
          `${ratio.toFixed(3)}x`.padEnd(8) + `${k ? derived.toFixed(1) : '-'}`.padEnd(16) +
          `${cpu.toFixed(0)}${k ? ` (${cpu >= plainCpu ? '+' : ''}${(cpu - plainCpu).toFixed(0)})` : ''}`.padEnd(27) +
          String(rs.reduce((s, r) => s + r.bad, 0)).padEnd(9) + String(rs.reduce((s, r) => s + r.errors, 0)),
      );
    }
    const [, prom, hooks] = ratios as [number, number, number];
    console.log(`${cls.name.split(',')[0]}: hooks/plain = ${hooks.toFixed(2)}x, prometheus/plain = ${prom.toFixed(2)}x`);
    console.log(`  goal (hooks >= 0.97x plain and above prometheus): ${hooks >= 0.97 && hooks > prom ? 'met' : 'not met'}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
