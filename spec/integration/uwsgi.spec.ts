// wsgistat against real uWSGI (Debian's uwsgi + uwsgi-plugin-python3): every address form, known
// traffic, and the failures a real server produces.

import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { wsgistat } from '../helpers/run.js';
import { needs, startUwsgi, until, type Uwsgi, type UwsgiOptions } from '../helpers/servers.js';

type R = Record<string, any>;
const summaryOf = (records: R[]) => records.find((r) => r.type === 'summary')!;

describe('wsgistat against real uWSGI', function () {
  const servers: Uwsgi[] = [];
  async function uwsgi(ctx: Mocha.Context, opts: UwsgiOptions = {}): Promise<Uwsgi> {
    needs(ctx, 'uwsgi');
    const u = await startUwsgi(opts);
    servers.push(u);
    return u;
  }
  after(async () => {
    await Promise.all(servers.map((u) => u.stop()));
  });

  describe('every way of reaching the stats server', () => {
    const forms: [string, UwsgiOptions][] = [
      ['a unix socket', { stats: 'unix' }],
      ['an abstract socket', { stats: 'abstract' }],
      ['TCP on loopback', { stats: 'tcp' }],
      ['--stats-http on TCP', { stats: 'tcp', statsHttp: true }],
      ['--stats-http on a unix socket', { stats: 'unix', statsHttp: true }],
    ];
    for (const [what, opts] of forms) {
      it(`reads ${what}: one summary and one record per worker, nothing on stderr`, async function () {
        const u = await uwsgi(this, { ...opts, workers: 2, threads: 1 });
        const run = await wsgistat([u.stats]);
        expect(run.stderr).to.equal('');
        expect(run.code).to.equal(0);
        expect(run.records.map((r) => r.type)).to.deep.equal(['summary', 'worker', 'worker']);
        const pid = u.proc.pid;
        expect(summaryOf(run.records)).to.include({ host: hostname(), source: u.stats, server: 'uwsgi', pid, workers: 2, workers_idle: 2 });
        for (const r of run.records) expect(r.time).to.be.a('number').within(Date.now() / 1000 - 60, Date.now() / 1000 + 1);
      });
    }
  });

  describe('a user who names the wrong mode', () => {
    // Read over HTTP only because /proc shows that the silent socket is this master's stats server.
    it('gets the data of a --stats-http server named as tcp://, and a warning naming the right address', async function () {
      const u = await uwsgi(this, { stats: 'tcp', statsHttp: true, workers: 1, threads: 1 });
      const raw = u.stats.replace('http://', 'tcp://');
      const run = await wsgistat([raw, '--timeout', '2s']);
      expect(run.code).to.equal(0);
      expect(summaryOf(run.records)).to.include({ source: raw, workers: 1 });
      expect(run.stderr).to.equal(`wsgistat: warning [source ${raw}] the server is in HTTP mode (--stats-http): it sent nothing for 250 ms, and /proc shows it is uWSGI's stats server, so it was read over HTTP; use ${u.stats} to read it at once\n`);
    });

    it('gets the data of a raw server named as http+unix://, and a warning naming the right address', async function () {
      const u = await uwsgi(this, { stats: 'unix', workers: 1, threads: 1 });
      const http = u.stats.replace('unix://', 'http+unix://');
      const run = await wsgistat([http]);
      expect(run.code).to.equal(0);
      expect(summaryOf(run.records)).to.include({ source: http, workers: 1 });
      expect(run.stderr).to.equal(`wsgistat: warning [source ${http}] the server is in raw mode (no --stats-http) and sent its document without reading the request; use ${u.stats}\n`);
    });
  });

  describe('records that tell the truth under known traffic', () => {
    let u: Uwsgi;
    before(async function () {
      u = await uwsgi(this, { stats: 'unix', workers: 2, threads: 2 });
    });

    it('moves the requests total by exactly N after N requests, and counts an exception', async () => {
      const before = await wsgistat([u.stats]);
      const n = 17;
      for (let i = 0; i < n; i++) expect(await u.get('/')).to.equal(200);
      await u.get('/boom').catch(() => 0);
      // uWSGI counts a request when it ends; wait (bounded) until the last one is in.
      const after = await until('uWSGI to count every request', async () => {
        const run = await wsgistat([u.stats]);
        return summaryOf(run.records).requests === summaryOf(before.records).requests + n + 1 ? run : undefined;
      });
      const [s0, s1] = [summaryOf(before.records), summaryOf(after.records)];
      expect(s1.exceptions - s0.exceptions).to.equal(1);
      const workers = after.records.filter((r) => r.type === 'worker');
      expect(workers.reduce((sum, w) => sum + (w.requests as number), 0)).to.equal(s1.requests);
      expect(s1.tx).to.be.above(s0.tx);
    });

    it('shows K busy cores, on workers marked busy, while K slow requests are in flight', async () => {
      const k = 3;
      const held = Array.from({ length: k }, () => u.hold());
      try {
        const run = await until(`${k} cores in a request`, async () => {
          const r = await wsgistat([u.stats, '--records', 'summary,worker,core']);
          return summaryOf(r.records).cores_busy === k ? r : undefined;
        });
        const cores = run.records.filter((r) => r.type === 'core' && r.in_request === 1);
        expect(cores).to.have.length(k);
        const now = Date.now() / 1000;
        for (const c of cores) expect(c.request_start).to.be.within(now - 30, now + 1);
        const busyWorkerIds = [...new Set(cores.map((c) => c.worker_id))].sort();
        const workers = run.records.filter((r) => r.type === 'worker');
        expect(workers.filter((w) => w.status === 'busy').map((w) => w.worker_id).sort()).to.deep.equal(busyWorkerIds);
        for (const w of workers) expect(w.cores_busy).to.equal(cores.filter((c) => c.worker_id === w.worker_id).length);
        expect(summaryOf(run.records)).to.include({ workers_busy: busyWorkerIds.length, workers_idle: 2 - busyWorkerIds.length });
      } finally {
        u.release();
        expect(await Promise.all(held)).to.deep.equal(Array(k).fill(200));
      }
      const idle = await until('the cores to be free again', async () => {
        const r = await wsgistat([u.stats]);
        return summaryOf(r.records).cores_busy === 0 ? r : undefined;
      });
      expect(summaryOf(idle.records)).to.include({ workers_busy: 0, workers_idle: 2 });
    });

    it('never prints the cookies and tokens of requests in flight unless asked', async () => {
      const held = u.hold('/hold?token=SECRET-T', { Cookie: 'sid=SECRET-C', Authorization: 'Bearer SECRET-A' });
      try {
        await until('the request to be in flight', async () => {
          const r = await wsgistat([u.stats]);
          return summaryOf(r.records).cores_busy === 1 ? r : undefined;
        });
        const plain = await wsgistat([u.stats, '--records', 'all']);
        expect(plain.stdout).to.not.include('SECRET');
        const named = await wsgistat([u.stats, '--records', 'core', '--vars', 'PATH_INFO']);
        expect(named.stdout).to.not.include('SECRET');
        expect(named.records.filter((r) => r.var_PATH_INFO === '/hold')).to.have.length(1);
      } finally {
        u.release();
        await held;
      }
    });
  });

  describe('several sources in one run', () => {
    it('reads the good ones, reports the bad one on stderr and as an error record, and exits 1', async function () {
      const a = await uwsgi(this, { stats: 'unix', workers: 1, threads: 1 });
      const b = await uwsgi(this, { stats: 'tcp', workers: 2, threads: 1 });
      const run = await wsgistat([`app1=${a.stats}`, 'gone=unix:///nonexistent/wsgistat.sock', `app2=${b.stats}`]);
      expect(run.code).to.equal(1);
      expect(run.stderr).to.equal('wsgistat: error [source gone=unix:///nonexistent/wsgistat.sock] unix socket /nonexistent/wsgistat.sock does not exist (is the server running, and is this the path it was given? wsgistat discover lists the servers running here)\n');
      const summaries = run.records.filter((r) => r.type === 'summary');
      expect(summaries.map((s) => [s.label, s.source, s.workers])).to.deep.equal([['app1', a.stats, 1], ['app2', b.stats, 2]]);
      const errors = run.records.filter((r) => r.type === 'error');
      expect(errors).to.deep.equal([{
        time: errors[0]!.time, host: hostname(), source: 'unix:///nonexistent/wsgistat.sock', label: 'gone', server: 'uwsgi', type: 'error',
        code: 'not_found', message: 'unix socket /nonexistent/wsgistat.sock does not exist (is the server running, and is this the path it was given? wsgistat discover lists the servers running here)',
      }]);
    });
  });

  describe('the accept backlog of its http-socket (--listen)', () => {
    it('shows the connections waiting in the kernel, and says so when nothing listens there', async function () {
      const u = await uwsgi(this, { stats: 'unix', workers: 1, threads: 1 });
      const held = u.hold();
      await until('the worker to be busy', async () => (summaryOf((await wsgistat([u.stats])).records).workers_busy === 1 ? true : undefined));
      const waiting = Array.from({ length: 3 }, () => u.get('/').catch(() => 0));
      try {
        const run = await until('3 connections in the backlog', async () => {
          const r = await wsgistat([u.stats, '--listen', `127.0.0.1:${u.httpPort}`]);
          return summaryOf(r.records).backlog === 3 ? r : undefined;
        });
        expect(summaryOf(run.records)).to.include({ backlog: 3, backlog_address: `127.0.0.1:${u.httpPort}` });
        expect(run.stderr).to.equal('');
      } finally {
        u.release();
        await Promise.all([held, ...waiting]);
      }
      const none = await wsgistat([u.stats, '--listen', '127.0.0.1:1']);
      expect(none.code).to.equal(0);
      expect(summaryOf(none.records)).to.not.have.property('backlog');
      expect(none.stderr).to.equal(`wsgistat: warning [source ${u.stats}] no TCP listener on 127.0.0.1:1 in /proc/net/tcp or tcp6 (is the server running, on this host and in this network namespace?)\n`);
    });
  });

  describe('a stopped server', () => {
    it('is reported as refused, with the reason its socket file is still there', async function () {
      const u = await uwsgi(this, { stats: 'unix', workers: 1, threads: 1 });
      const path = u.stats.replace('unix://', '');
      u.proc.kill('SIGTERM');
      await until('uWSGI to exit', () => (u.proc.exitCode !== null || u.proc.signalCode !== null ? true : undefined));
      expect(existsSync(path), 'uWSGI without vacuum leaves its socket file').to.equal(true);
      const run = await wsgistat([u.stats, '--no-error-records']);
      expect(run.code).to.equal(1);
      expect(run.stdout).to.equal('');
      expect(run.stderr).to.equal(`wsgistat: error [source ${u.stats}] connection refused: nothing is listening on unix socket ${path}: the socket file is left from a server that is not running, or that died or stopped without removing it (start the server; vacuum = true in its ini removes the file when it stops)\n`);
    });
  });
});
