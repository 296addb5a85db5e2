// Real servers for the specs: uWSGI processes started per test on loopback and temporary unix
// sockets. Every wait is bounded. Without uWSGI installed a spec skips, except under CI, where it
// fails: CI must prove the real thing.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetchStats } from '../../lib/sources/uwsgi/transport.js';
import { parseAddress } from '../../lib/sources/address.js';

export const APP = fileURLToPath(new URL('../../../spec/fixtures/app.py', import.meta.url));
/** The app that wedges a recycled worker (unbit/uwsgi#2480). */
export const STUCK_APP = fileURLToPath(new URL('../../../spec/fixtures/stuck_app.py', import.meta.url));

export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Skips the current test when `cmd` is missing, or fails it under CI. */
export function needs(ctx: Mocha.Context, cmd: string): void {
  if (have(cmd)) return;
  if (process.env.CI) throw new Error(`${cmd} is not installed, and CI must run this spec against it (.ci/run installs it)`);
  ctx.skip();
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'wsgistat-spec-'));
}

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 20 ms until it returns a value, for at most `ms`. */
export async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 10000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

/** Stops a server process: `signal`, then SIGKILL after `graceMs`; resolves once it has exited. */
async function endProcess(proc: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill(signal);
  const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
}

export interface UwsgiOptions {
  stats?: 'unix' | 'abstract' | 'tcp';
  /** With stats 'unix': this socket path instead of one in the server's temporary directory. */
  statsPath?: string;
  statsHttp?: boolean;
  workers?: number;
  threads?: number;
  /** The WSGI file to run instead of spec/fixtures/app.py. */
  app?: string;
  /** More uWSGI options, e.g. ['--stats-minified']. */
  extra?: string[];
  /** More environment for uWSGI and its app. */
  env?: Record<string, string>;
  /** Start from an ini file instead (the conf/ spec): given the server's temporary directory and
   *  HTTP port, returns the ini's text and the stats address wsgistat should read. */
  ini?: (dir: string, httpPort: number) => { text: string; stats: string };
}

export interface Uwsgi {
  dir: string;
  /** The stats address in wsgistat's form (unix:///..., @name, tcp://..., http://...). */
  stats: string;
  httpPort: number;
  proc: ChildProcess;
  log: () => string;
  /** GET a path on the app; resolves with the HTTP status. */
  get(path: string, headers?: Record<string, string>): Promise<number>;
  /** Starts a request that waits for release(); resolves with its status, or 0 if the server dropped it. */
  hold(path?: string, headers?: Record<string, string>): Promise<number>;
  /** Lets every /hold request finish. */
  release(): void;
  /** Raw stats document, read with wsgistat's own transport. */
  raw(): Promise<Buffer>;
  stop(): Promise<void>;
}

export function get(port: number, path: string, headers: Record<string, string> = {}, timeoutMs = 25000): Promise<number> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err: Error | undefined, status?: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        reject(err);
      } else {
        resolve(status ?? 0);
      }
    };
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => done(undefined, res.statusCode ?? 0));
      // A server killed mid-response: Node says so on the response, and 'end' never comes.
      res.on('error', (e) => done(e));
      res.on('close', () => done(new Error(`GET ${path}: the connection closed before the response ended`)));
    });
    // A whole-request bound, settled here: the socket idle timeout does not cover every way a
    // request can hang.
    const timer = setTimeout(() => done(new Error(`GET ${path} took more than ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (e) => done(e));
  });
}

export async function startUwsgi(opts: UwsgiOptions = {}): Promise<Uwsgi> {
  const dir = tempDir();
  const httpPort = await freePort();
  const releaseFile = join(dir, 'release');
  let statsArg: string;
  let stats: string;
  const mode = opts.stats ?? 'unix';
  if (mode === 'unix') {
    statsArg = opts.statsPath ?? join(dir, 'stats.sock');
    stats = `${opts.statsHttp ? 'http+unix' : 'unix'}://${statsArg}`;
  } else if (mode === 'abstract') {
    statsArg = `@wsgistat-spec-${process.pid}-${httpPort}`;
    stats = opts.statsHttp ? `http+unix://${statsArg}` : statsArg;
  } else {
    const port = await freePort();
    statsArg = `127.0.0.1:${port}`;
    stats = `${opts.statsHttp ? 'http' : 'tcp'}://${statsArg}`;
  }
  let ini: string[] | undefined;
  if (opts.ini) {
    const built = opts.ini(dir, httpPort);
    writeFileSync(join(dir, 'uwsgi.ini'), built.text);
    ini = ['--ini', join(dir, 'uwsgi.ini')];
    stats = built.stats;
  }
  const args = ini
    ? ini
    : [
        '--plugin', 'python3', '--master', '--die-on-term', '--need-app',
        '--workers', String(opts.workers ?? 2), '--threads', String(opts.threads ?? 2),
        '--http-socket', `127.0.0.1:${httpPort}`, '--wsgi-file', opts.app ?? APP, '--stats', statsArg,
        ...(opts.statsHttp ? ['--stats-http'] : []), ...(opts.extra ?? []),
      ];
  let log = '';
  let stopped = false;
  const proc = spawn('uwsgi', args, {
    cwd: dir,
    env: { ...process.env, WSGISTAT_RELEASE: releaseFile, WSGISTAT_SPEC_DIR: dir, WSGISTAT_SPEC_HTTP_PORT: String(httpPort), ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.on('data', (d) => (log += d));
  proc.stderr!.on('data', (d) => (log += d));
  const server: Uwsgi = {
    dir, stats, httpPort, proc,
    log: () => log,
    get: (path, headers) => get(httpPort, path, headers),
    hold: (path = '/hold', headers) => {
      // A new hold waits for a new release.
      rmSync(releaseFile, { force: true });
      return get(httpPort, path, headers).catch(() => 0);
    },
    release: () => writeFileSync(releaseFile, ''),
    raw: async () => (await fetchStats(parseAddress(stats), { timeoutMs: 5000, maxBytes: 1 << 24 })).payload,
    async stop() {
      if (stopped) return;
      stopped = true;
      server.release();
      await endProcess(proc, 'SIGTERM', 5000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await until('uWSGI to serve', async () => {
      if (proc.exitCode !== null) throw new Error(`uWSGI exited: ${log.slice(-800)}`);
      return (await server.get('/')) === 200 ? true : undefined;
    });
    // Every worker spawned and accepting, so the specs start from a known state.
    await until('uWSGI workers to accept', async () => {
      const doc = JSON.parse((await server.raw()).toString());
      const ws = doc.workers.filter((w: { id: number }) => w.id !== 0);
      return ws.length > 0 && ws.every((w: { accepting: number; pid: number }) => w.accepting === 1 && w.pid > 0) ? true : undefined;
    });
  } catch (e) {
    await server.stop();
    throw e;
  }
  return server;
}

export function cleanup(dir: string): void {
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
}

export const HOOKS = fileURLToPath(new URL('../../../conf/gunicorn_wsgistat.py', import.meta.url));

export interface GunicornOptions {
  workerClass?: 'sync' | 'gthread';
  workers?: number;
  threads?: number;
  /** More gunicorn arguments (before the app), e.g. ['--max-requests', '10']. */
  args?: string[];
  /** More environment for gunicorn (WSGISTAT_GUNICORN_GROUP, ...). */
  env?: Record<string, string>;
  /** The hooks' directory; by default a fresh one in the server's temporary directory. */
  statusDir?: string;
  /** Whether to wait until every worker has its status file (false: the hooks may refuse). */
  waitForStatus?: boolean;
  /** Another gunicorn config file instead of the wsgistat hooks (then no status is waited for). */
  config?: string;
  /** The app as module:callable, from spec/fixtures (default app:application). */
  app?: string;
}

export interface Gunicorn {
  dir: string;
  /** wsgistat's address for the status directory the hooks keep. */
  status: string;
  httpPort: number;
  proc: ChildProcess;
  get(path: string, headers?: Record<string, string>): Promise<number>;
  hold(path?: string): Promise<number>;
  release(): void;
  /** Pids of the workers that have a status file now. */
  workerPids(): number[];
  log: () => string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts Debian's gunicorn with conf/gunicorn_wsgistat.py on loopback. */
export async function startGunicorn(opts: GunicornOptions = {}): Promise<Gunicorn> {
  const dir = tempDir();
  const statusDir = opts.statusDir ?? join(dir, 'status');
  const httpPort = await freePort();
  const releaseFile = join(dir, 'release');
  const workers = opts.workers ?? 2;
  const args = [
    '-c', opts.config ?? HOOKS, '--chdir', dirname(APP), '--bind', `127.0.0.1:${httpPort}`, '--workers', String(workers),
    '--graceful-timeout', '5', '--timeout', '30',
    ...(opts.workerClass === 'gthread' ? ['--worker-class', 'gthread', '--threads', String(opts.threads ?? 4)] : []),
    ...(opts.args ?? []),
    opts.app ?? 'app:application',
  ];
  let log = '';
  let stopped = false;
  const proc = spawn('gunicorn', args, {
    cwd: dir,
    env: { ...process.env, WSGISTAT_GUNICORN_DIR: statusDir, WSGISTAT_RELEASE: releaseFile, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.on('data', (d) => (log += d));
  proc.stderr!.on('data', (d) => (log += d));
  const g: Gunicorn = {
    dir, status: `gunicorn://${statusDir}`, httpPort, proc,
    log: () => log,
    get: (path, headers) => get(httpPort, path, headers),
    hold: (path = '/hold') => {
      rmSync(releaseFile, { force: true });
      return get(httpPort, path).catch(() => 0);
    },
    release: () => writeFileSync(releaseFile, ''),
    workerPids: () => {
      try {
        return readdirSync(statusDir).flatMap((n) => (/^worker-(\d+)\.(?:json|bin)$/.exec(n) ? [Number(RegExp.$1)] : []));
      } catch {
        return [];
      }
    },
    async stop(signal = 'SIGTERM') {
      if (stopped) return;
      stopped = true;
      writeFileSync(releaseFile, '');
      await endProcess(proc, signal, 10000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await until('gunicorn to serve', async () => {
      if (proc.exitCode !== null) throw new Error(`gunicorn exited: ${log.slice(-800)}`);
      return (await g.get('/')) === 200 ? true : undefined;
    });
    if (opts.waitForStatus !== false && !opts.config) await until('every gunicorn worker to write its status', () => (g.workerPids().length === workers ? true : undefined));
  } catch (e) {
    await g.stop();
    throw e;
  }
  return g;
}

/** For one describe block: a starter of gunicorns that need gunicorn installed (fails under CI
 *  without it), each stopped after its test. */
export function gunicorns(): (ctx: Mocha.Context, opts: GunicornOptions) => Promise<Gunicorn> {
  const started: Gunicorn[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((g) => g.stop()));
  });
  return async (ctx, opts) => {
    needs(ctx, 'gunicorn');
    const g = await startGunicorn(opts);
    started.push(g);
    return g;
  };
}

/** SIGKILLs the workers of a gunicorn this spec started, one every 150 ms in turn, until `end`
 *  (epoch ms); resolves with the number of kills. */
export async function killWorkers(g: Gunicorn, end: number): Promise<number> {
  let kills = 0;
  while (Date.now() < end) {
    const pids = g.workerPids();
    if (pids.length) {
      try {
        process.kill(pids[kills % pids.length]!, 'SIGKILL');
        kills++;
      } catch {
        // already gone
      }
    }
    await sleep(150);
  }
  return kills;
}
