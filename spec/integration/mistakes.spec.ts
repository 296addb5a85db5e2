// The mistakes people make with addresses (issue #13), against real uWSGI and gunicorn: each gets
// one line on stderr that says what the address really is and what to use, the same text in the
// error record, and exit status 1. Where a byte sent would show (uWSGI logs any byte sent to its
// `socket` or `http-socket`), the spec reads uWSGI's log: nothing is sent as a probe.

import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { CLI, type Run } from '../helpers/run.js';
import { APP, cleanup, freePort, gunicorns, needs, startUwsgi, tempDir, until, type Uwsgi, type UwsgiOptions } from '../helpers/servers.js';

type R = Record<string, unknown>;

/** The built wsgistat, in a working directory, optionally as another user (setpriv). */
function run(args: string[], opts: { cwd?: string; as?: string[] } = {}): Promise<Run> {
  const argv = [CLI, '--no-state', ...args];
  const [cmd, all] = opts.as ? ['setpriv', [...opts.as, process.execPath, ...argv]] : [process.execPath, argv];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, all, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, get records() { return stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as R); } });
    });
  });
}

const NOBODY = ['--reuid', 'nobody', '--regid', 'nogroup', '--clear-groups'];

/** Running wsgistat as another user takes setpriv, and root to use it; like needs(), a missing
 *  either skips the test, or fails it under CI. */
function asNobody(ctx: Mocha.Context): void {
  needs(ctx, 'setpriv');
  if (process.getuid?.() === 0) return;
  if (process.env.CI) throw new Error('this spec runs wsgistat as nobody through setpriv, which needs root: run it as root');
  ctx.skip();
}

/** One error line on stderr and the same text in the run's only record; exit status 1. */
function failedWith(r: Run, source: string, code: string, message: string): void {
  expect(r.stderr).to.equal(`wsgistat: error [source ${source}] ${message}\n`);
  expect(r.code).to.equal(1);
  expect(r.records.map((x) => [x.type, x.source, x.code, x.message])).to.deep.equal([['error', source, code, message]]);
}

/** Sends a few bytes to a socket and waits until uWSGI logs them: proof that its log shows bytes
 *  sent, so that a log clean before them means nothing was sent. */
async function control(u: Uwsgi, to: net.NetConnectOpts, bytes: string, logs: RegExp): Promise<string> {
  const before = u.log().length;
  const s = net.connect(to, () => s.end(bytes));
  s.on('error', () => {});
  try {
    return await until('uWSGI to log the control bytes', () => (logs.test(u.log().slice(before)) ? u.log().slice(before) : undefined));
  } finally {
    s.destroy();
  }
}

describe('the mistakes people make with addresses', function () {
  const servers: Uwsgi[] = [];
  const dirs: string[] = [];
  async function uwsgi(ctx: Mocha.Context, opts: UwsgiOptions = {}): Promise<Uwsgi> {
    needs(ctx, 'uwsgi');
    const u = await startUwsgi(opts);
    servers.push(u);
    return u;
  }
  const dir = () => {
    const d = tempDir();
    dirs.push(d);
    return d;
  };
  after(async () => {
    await Promise.all(servers.map((u) => u.stop()));
    dirs.forEach(cleanup);
  });
  const gunicorn = gunicorns();

  describe("uWSGI's application sockets given instead of its stats server", () => {
    let u: Uwsgi;
    let appSock: string;
    before(async function () {
      const d = dir();
      appSock = join(d, 'app.sock');
      u = await uwsgi(this, { stats: 'unix', workers: 2, threads: 1, extra: ['--socket', appSock] });
      // The readiness request's log line comes after its answer: the log is still from here on.
      await until('uWSGI to log the readiness request', () => (/GET \/ =>.*\n/.test(u.log()) ? true : undefined));
    });

    it('names its uwsgi-protocol socket, and its stats server, having sent nothing to it', async () => {
      const logged = u.log();
      const r = await run([appSock]);
      failedWith(r, appSock, 'not_stats', `unix socket ${appSock} is uWSGI pid ${u.proc.pid}'s application socket (uwsgi protocol, socket=), not its stats server: use its stats server, ${u.stats} (nothing was sent to it)`);
      expect(u.log()).to.equal(logged);
      expect(await control(u, { path: appSock }, 'xxxxxx', /invalid request block size: \d+ \(max 4096\)\.\.\.skip\n/)).to.match(/^invalid request block size/);
    });

    it('names its http-socket given as tcp://, having sent nothing to it', async () => {
      const logged = u.log();
      const addr = `tcp://127.0.0.1:${u.httpPort}`;
      const r = await run([addr]);
      failedWith(r, addr, 'not_stats', `127.0.0.1:${u.httpPort} is uWSGI pid ${u.proc.pid}'s application socket (http-socket=), not its stats server: use its stats server, ${u.stats} (nothing was sent to it)`);
      expect(u.log()).to.equal(logged);
      expect(await control(u, { host: '127.0.0.1', port: u.httpPort }, 'x', /client closed connection\n/)).to.match(/^uwsgi_proto_http_parser\(\) -> client closed connection\n$/);
    });

    it('names its http-socket given as http://, with what the application answered to the GET asked for', async () => {
      const addr = `http://127.0.0.1:${u.httpPort}`;
      const logged = u.log().length;
      const r = await run([addr]);
      await until('uWSGI to log the GET', () => (/GET \/ => .*\n/.test(u.log().slice(logged)) ? true : undefined));
      failedWith(r, addr, 'not_stats', `127.0.0.1:${u.httpPort} is uWSGI pid ${u.proc.pid}'s application socket (http-socket=), not its stats server: use its stats server, ${u.stats} ` +
        `(its answer: the document from 127.0.0.1:${u.httpPort} is not JSON at character 0: unexpected "o" (3 bytes of text, printable ASCII only))`);
    });

    it("names it from uWSGI's command line when the process is another user's, having sent nothing", async function () {
      asNobody(this);
      const addr = `127.0.0.1:${u.httpPort}`;
      const logged = u.log();
      failedWith(await run([addr], { as: NOBODY }), addr, 'not_stats', `${addr} is uWSGI pid ${u.proc.pid}'s application socket (http-socket=, as its options say), ` +
        `not its stats server: use its stats server, ${u.stats} (nothing was sent to it)`);
      expect(u.log()).to.equal(logged);
    });
  });

  describe('application sockets named in an ini, or of a uWSGI with no stats server', () => {
    it('reads the ini to name a relative uwsgi-protocol socket', async function () {
      const u = await uwsgi(this, {
        ini: (d, httpPort) => ({
          text: `[uwsgi]\nplugin = python3\nmaster = true\nworkers = 1\nwsgi-file = ${APP}\nhttp-socket = 127.0.0.1:${httpPort}\nsocket = app.sock\nstats = ${d}/stats.sock\n`,
          stats: `unix://${d}/stats.sock`,
        }),
      });
      const sock = join(u.dir, 'app.sock');
      failedWith(await run([sock]), sock, 'not_stats', `unix socket ${sock} is uWSGI pid ${u.proc.pid}'s application socket (uwsgi protocol, socket=), not its stats server: use its stats server, ${u.stats} (nothing was sent to it)`);
    });

    it('says how to give it one', async function () {
      needs(this, 'uwsgi');
      const d = dir();
      const sock = join(d, 'app.sock');
      let log = '';
      const proc = spawn('uwsgi', ['--plugin', 'python3', '--master', '--die-on-term', '--workers', '1', '--socket', sock, '--wsgi-file', APP], { cwd: d, stdio: ['ignore', 'pipe', 'pipe'] });
      proc.stderr!.on('data', (c) => (log += c));
      try {
        await until('uWSGI to spawn its worker', () => (/spawned uWSGI worker 1/.test(log) ? true : undefined));
        failedWith(await run([sock]), sock, 'not_stats', `unix socket ${sock} is uWSGI pid ${proc.pid}'s application socket (uwsgi protocol, socket=), not its stats server: ` +
          'it has no stats server; start it with --stats (stats = /run/uwsgi/app.stats in its ini) and read that (nothing was sent to it)');
      } finally {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
    });
  });

  describe('an abstract application socket', () => {
    it('is named, and never sent a byte', async function () {
      const name = `@wsgistat-mistakes-${process.pid}`;
      const u = await uwsgi(this, { stats: 'unix', workers: 1, threads: 1, extra: ['--socket', name] });
      await until('uWSGI to log the readiness request', () => (/GET \/ =>.*\n/.test(u.log()) ? true : undefined));
      const logged = u.log();
      failedWith(await run([name]), name, 'not_stats', `abstract socket ${name} is uWSGI pid ${u.proc.pid}'s application socket (uwsgi protocol, socket=), not its stats server: use its stats server, ${u.stats} (nothing was sent to it)`);
      expect(u.log()).to.equal(logged);
    });
  });

  describe('a --stats-http server given as a raw address', () => {
    for (const on of ['tcp', 'unix'] as const) {
      it(`is read over HTTP on ${on}, because /proc shows it is the stats server, with the address to use`, async function () {
        const u = await uwsgi(this, { stats: on, statsHttp: true, workers: 1, threads: 1 });
        const raw = u.stats.replace('http://', '').replace('http+unix://', 'unix://');
        const r = await run([raw]);
        expect(r.code).to.equal(0);
        expect(r.records.map((x) => [x.type, x.pid])).to.deep.equal([['summary', u.proc.pid], ['worker', r.records[1]!.pid]]);
        expect(r.stderr).to.equal(`wsgistat: warning [source ${raw}] the server is in HTTP mode (--stats-http): it sent nothing for 250 ms, and /proc shows it is uWSGI's stats server, so it was read over HTTP; use ${u.stats} to read it at once\n`);
      });
    }

    it("is read so too when it is another user's, its command line saying what it is", async function () {
      asNobody(this);
      const u = await uwsgi(this, { stats: 'tcp', statsHttp: true, workers: 1, threads: 1 });
      const raw = u.stats.replace('http://', '');
      const r = await run([raw], { as: NOBODY });
      expect(r.records.map((x) => [x.type, x.pid])).to.deep.equal([['summary', u.proc.pid], ['worker', r.records[1]!.pid]]);
      expect(r.stderr).to.match(/the server is in HTTP mode \(--stats-http\)/);
    });
  });

  describe('another HTTP server given as http://', () => {
    let port: number;
    let server: ChildProcess | undefined;
    before(async function () {
      needs(this, '/usr/bin/python3');
      const d = dir();
      writeFileSync(join(d, 'health.json'), '{"status": "ok"}');
      port = await freePort();
      server = spawn('/usr/bin/python3', ['-m', 'http.server', '--bind', '127.0.0.1', '--directory', d, String(port)], { stdio: 'ignore' });
      await until('the HTTP server to listen', () => new Promise<true | undefined>((r) => {
        const s = net.connect(port, '127.0.0.1', () => (s.destroy(), r(true)));
        s.on('error', () => r(undefined));
      }));
    });
    after(async () => {
      if (server && server.exitCode === null) {
        const exited = new Promise((r) => server!.once('exit', r));
        server.kill('SIGTERM');
        await exited;
      }
    });
    const advice = ": this looks like the application, not uWSGI's stats server: use the address of uWSGI's stats option (http://HOST:PORT of it with --stats-http)";

    const both = (addr: string) => `${addr} sent nothing within 0.25s and nothing was sent to it: a raw uWSGI stats server writes at once, so this is either a stats server ` +
      `started with --stats-http (then use http://${addr}) or an application socket (socket= or http-socket=; then use the address of uWSGI's stats option)`;

    it('names both possibilities and both address forms for a silent socket that is not uWSGI, and its holder', async () => {
      const addr = `127.0.0.1:${port}`;
      failedWith(await run([addr]), addr, 'not_stats', `${both(addr)}; it is held by pid ${server!.pid} (python3), not by uWSGI, which may relay either`);
    });

    it("names both when /proc cannot tell, the process being another user's", async function () {
      asNobody(this);
      const addr = `127.0.0.1:${port}`;
      failedWith(await run([addr], { as: NOBODY }), addr, 'not_stats', `${both(addr)}; /proc cannot tell which, as the process that listens is another user's`);
    });

    it('calls JSON that is not a stats document the application', async () => {
      const addr = `http://127.0.0.1:${port}/health.json`;
      failedWith(await run([addr]), addr, 'not_stats', `the document is JSON but not a uWSGI stats document (no "workers" list)${advice}`);
    });

    it('calls an HTML page the application', async () => {
      const addr = `http://127.0.0.1:${port}/`;
      const r = await run([addr]);
      expect(r.stderr).to.match(new RegExp(`^wsgistat: error \\[source ${addr}\\] the document from 127\\.0\\.0\\.1:${port} is not JSON at character 0: unexpected "<" \\(\\d+ bytes of HTML or XML, printable ASCII only\\)${advice.replace(/[()]/g, '\\$&')}\n$`));
      expect(r.code).to.equal(1);
    });

    it('calls an HTTP status other than 200 the application', async () => {
      const addr = `http://127.0.0.1:${port}/stats`;
      const r = await run([addr]);
      expect(r.stderr).to.match(new RegExp(`^wsgistat: error \\[source ${addr}\\] 127\\.0\\.0\\.1:${port} answered HTTP 404 File not found: .*${advice.replace(/[()]/g, '\\$&')}\n$`));
      expect(r.code).to.equal(1);
    });
  });

  describe('a raw stats server whose master is slow', () => {
    // A stopped master is the stand-in for a blocked one: the kernel accepts, nothing is written.
    it('is waited for, sending nothing, and a timeout says the master is blocked', async function () {
      const u = await uwsgi(this, { stats: 'unix', workers: 1, threads: 1 });
      process.kill(u.proc.pid!, 'SIGSTOP');
      try {
        const path = u.stats.replace('unix://', '');
        failedWith(await run([u.stats, '--timeout', '1s']), u.stats, 'timeout', `unix socket ${path} accepted the connection but sent nothing within 1s: it is uWSGI pid ${u.proc.pid}'s ` +
          `stats server in raw mode, which writes at once, so its master is blocked (py-spy dump --pid ${u.proc.pid} shows where)`);
      } finally {
        process.kill(u.proc.pid!, 'SIGCONT');
      }
    });

    it('is read when it answers after the probe window', async function () {
      const u = await uwsgi(this, { stats: 'unix', workers: 1, threads: 1 });
      process.kill(u.proc.pid!, 'SIGSTOP');
      const r = run([u.stats, '--timeout', '10s']);
      // Not a timing assertion: a delay past the 250 ms window on any but a crawling machine.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      process.kill(u.proc.pid!, 'SIGCONT');
      const done = await r;
      expect(done.stderr).to.equal('');
      expect(done.records.map((x) => [x.type, x.pid])).to.deep.equal([['summary', u.proc.pid], ['worker', done.records[1]!.pid]]);
    });
  });

  describe('files and directories given without file: or gunicorn:', () => {
    it('names a saved uWSGI stats document and the file: address to read it', async function () {
      const u = await uwsgi(this, { stats: 'unix', workers: 1, threads: 1 });
      const path = join(dir(), 'stats.json');
      writeFileSync(path, await u.raw());
      failedWith(await run([path]), path, 'not_a_file', `${path} is a regular file holding a uWSGI stats document, not a socket: read it as file://${path}`);
      expect((await run([`file://${path}`])).code).to.equal(0);
    });

    it('names another regular file by what it holds, never quoting it', async () => {
      const path = join(dir(), 'notes.txt');
      writeFileSync(path, 'token=SECRET\n');
      const r = await run([path]);
      failedWith(r, path, 'not_a_file', `${path} is a regular file (13 bytes of text, printable ASCII only), not a socket: give uWSGI's stats socket`);
      expect(r.stdout + r.stderr).to.not.include('SECRET');
    });

    it("names the gunicorn hooks' directory and the gunicorn: address to read it", async function () {
      const g = await gunicorn(this, { workers: 1 });
      const path = g.status.replace('gunicorn://', '');
      failedWith(await run([path]), path, 'not_a_file', `${path} is a directory, not a socket: it holds master.json, as the wsgistat gunicorn hooks' directory does: read it as gunicorn://${path}`);
      expect((await run([g.status])).code).to.equal(0);
    });

    it("names prometheus_client's multiprocess directory and the prometheus-multiproc: address to read it", async function () {
      needs(this, '/usr/bin/python3');
      const d = dir();
      const made = spawnSync('/usr/bin/python3', ['-c', "from prometheus_client import Counter; Counter('wsgistat_spec', 'spec').inc()"], { env: { ...process.env, PROMETHEUS_MULTIPROC_DIR: d } });
      expect(made.status, String(made.stderr)).to.equal(0);
      failedWith(await run([d]), d, 'not_a_file', `${d} is a directory, not a socket: it holds prometheus_client's multiprocess files: read it as prometheus-multiproc://${d}`);
    });

    it('names the sockets in a directory given instead of one of them', async function () {
      const u = await uwsgi(this, { stats: 'unix', workers: 1, threads: 1 });
      const d = u.stats.replace('unix://', '').replace(/\/stats\.sock$/, '');
      failedWith(await run([d]), d, 'not_a_file', `${d} is a directory, not a socket: give one of the sockets in it (stats.sock), the one uWSGI's stats option names`);
    });
  });

  describe('a name in the working directory without ./', () => {
    it('is a usage error that gives the forms it may have meant, and reads as ./NAME', async function () {
      const u = await uwsgi(this, { stats: 'unix', workers: 1, threads: 1 });
      const r = await run(['stats.sock'], { cwd: u.dir });
      expect(r.code).to.equal(2);
      expect(r.stderr).to.match(/^wsgistat: error \[config\] source 1: source "stats\.sock": cannot tell what kind of address this is; a path in the working directory needs \.\/ \(\.\/stats\.sock\) or a scheme \(unix:stats\.sock, file:stats\.sock, gunicorn:stats\.sock\) \(address forms: .*\)\n$/);
      expect((await run(['./stats.sock'], { cwd: u.dir })).code).to.equal(0);
    });
  });

  describe('a unix socket path longer than the kernel allows', () => {
    // uWSGI binds a relative stats path in its working directory, however deep that is.
    let deep: string;
    let proc: ChildProcess | undefined;
    let log = '';
    before(async function () {
      needs(this, 'uwsgi');
      deep = join(dir(), 'd'.repeat(60), 'e'.repeat(60));
      mkdirSync(deep, { recursive: true });
      const port = await freePort();
      proc = spawn('uwsgi', ['--plugin', 'python3', '--master', '--die-on-term', '--workers', '1', '--http-socket', `127.0.0.1:${port}`, '--wsgi-file', APP, '--stats', 'stats.sock'], { cwd: deep, stdio: ['ignore', 'pipe', 'pipe'] });
      proc.stderr!.on('data', (d) => (log += d));
      await until('uWSGI to bind its stats server', () => (/Stats server enabled on stats\.sock/.test(log) ? true : undefined));
    });
    after(async () => {
      if (proc && proc.exitCode === null) {
        const exited = new Promise((r) => proc!.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
    });

    it('gives the length and the limit, and what to do', async () => {
      const path = join(deep, 'stats.sock');
      const bytes = Buffer.byteLength(path);
      expect(bytes).to.be.above(107);
      failedWith(await run([path]), path, 'io_error', `unix socket ${path}: the path is ${bytes} bytes, and a unix socket address holds at most 107 (sun_path is 108 bytes with its NUL): ` +
        `give the server a shorter socket path, or reach this one through a symlink to its directory (ln -s ${deep} /run/wsgistat-x, then unix:///run/wsgistat-x/stats.sock)`);
    });

    it('reads it when run from a directory the path is short relative to, as uWSGI does', async () => {
      const r = await run([join(deep, 'stats.sock')], { cwd: deep });
      expect(r.stderr).to.equal('');
      expect(r.records.map((x) => [x.type, x.pid])).to.deep.equal([['summary', proc!.pid], ['worker', r.records[1]!.pid]]);
    });
  });

  describe('a socket this user may not open', () => {
    let u: Uwsgi;
    let path: string;
    before(async function () {
      asNobody(this);
      u = await uwsgi(this, { stats: 'unix', workers: 1, threads: 1, extra: ['--chmod-socket=660'] });
      path = u.stats.replace('unix://', '');
      // As an administrator would give it a group (uWSGI's chown-socket does not apply to the stats socket).
      chownSync(path, 0, 1); // daemon
    });

    it("names the directory that keeps it out, with its owner, group and mode", async () => {
      const d = path.replace(/\/stats\.sock$/, '');
      chmodSync(d, 0o700);
      failedWith(await run([u.stats], { as: NOBODY }), u.stats, 'permission_denied', `permission denied: nobody cannot enter the directory ${d} (owner root, group root, mode 0700) ` +
        `on the way to unix socket ${path}: its mode lets only its owner in: chmod g+x ${d} (or mode 0750), then add nobody to group root (usermod -aG root nobody, then start wsgistat again)`);
    });

    it('names the socket\'s owner, group and mode and the group to join, which is enough', async () => {
      chmodSync(path.replace(/\/stats\.sock$/, ''), 0o711);
      failedWith(await run([u.stats], { as: NOBODY }), u.stats, 'permission_denied', `permission denied opening unix socket ${path} (owner root, group daemon, mode 0660): ` +
        'connecting needs write permission on it; add nobody to group daemon (usermod -aG daemon nobody, then start wsgistat again), or run wsgistat as a member of it');
      const joined = await run([u.stats], { as: ['--reuid', 'nobody', '--regid', 'nogroup', '--groups', 'daemon'] });
      expect(joined.stderr).to.equal('');
      expect(joined.code).to.equal(0);
    });
  });

  describe('a socket whose mode lets only its owner write', () => {
    it('says to set chmod-socket, and which group to join then', async function () {
      asNobody(this);
      const u = await uwsgi(this, { stats: 'unix', workers: 1, threads: 1 });
      const path = u.stats.replace('unix://', '');
      chmodSync(u.dir, 0o711);
      chmodSync(path, 0o755); // uWSGI's default under umask 022, whatever this machine's umask is
      failedWith(await run([u.stats], { as: NOBODY }), u.stats, 'permission_denied', `permission denied opening unix socket ${path} (owner root, group root, mode 0755): ` +
        "connecting needs write permission on it; its mode lets only its owner write: set chmod-socket = 660 in uWSGI's ini (the socket's group is uWSGI's gid), " +
        'then add nobody to group root (usermod -aG root nobody, then start wsgistat again)');
    });
  });

  describe('a stale socket file', () => {
    it('says the server is not running or died without removing it', async function () {
      const u = await uwsgi(this, { stats: 'unix', workers: 1, threads: 1 });
      const path = u.stats.replace('unix://', '');
      u.proc.kill('SIGKILL');
      await until('uWSGI to die', () => (u.proc.signalCode !== null ? true : undefined));
      failedWith(await run([u.stats]), u.stats, 'connection_refused', `connection refused: nothing is listening on unix socket ${path}: the socket file is left from a server ` +
        'that is not running, or that died or stopped without removing it (start the server; vacuum = true in its ini removes the file when it stops)');
    });
  });

  describe('gunicorn', () => {
    it('names its listener given as a stats address, and the hooks directory to read', async function () {
      const g = await gunicorn(this, { workers: 1 });
      const addr = `127.0.0.1:${g.httpPort}`;
      failedWith(await run([addr]), addr, 'not_stats', `${addr} is gunicorn pid ${g.proc.pid}'s application socket, not a stats server (gunicorn has none): use ${g.status} (nothing was sent to it)`);
    });

    it('names its listener given as http://, with what the application answered', async function () {
      const g = await gunicorn(this, { workers: 1 });
      const addr = `http://127.0.0.1:${g.httpPort}`;
      failedWith(await run([addr]), addr, 'not_stats', `127.0.0.1:${g.httpPort} is gunicorn pid ${g.proc.pid}'s application socket, not a stats server (gunicorn has none): use ${g.status} ` +
        `(its answer: the document from 127.0.0.1:${g.httpPort} is not JSON at character 0: unexpected "o" (3 bytes of text, printable ASCII only))`);
    });

    it('says, for a missing directory, that the hooks write it and how to check gunicorn loads them', async function () {
      const d = dir();
      const conf = join(d, 'other.conf.py');
      writeFileSync(conf, 'workers = 1\n');
      const g = await gunicorn(this, { config: conf, workers: 1 });
      const addr = `gunicorn://${join(g.dir, 'status')}`;
      failedWith(await run([addr]), addr, 'not_found', `status file ${join(g.dir, 'status')} does not exist (the wsgistat hooks create this directory when gunicorn loads them: ` +
        'start gunicorn with -c conf/gunicorn_wsgistat.py, and WSGISTAT_GUNICORN_DIR set to this path unless it is /dev/shm/wsgistat-gunicorn; gunicorn --print-config ' +
        'with the same arguments shows on_starting = <on_starting()> when they are loaded, <OnStarting.on_starting()> when not)');
    });
  });
});
