// Delivery to receivers that are down, failing, slow, refusing or restarting: the wsgistat command
// against receivers that answer as in_http and Norikra do (spec/helpers/receivers.ts). Every
// scenario ends with every record delivered, in order, and an empty spool; or, for a refused batch,
// the batch in the dead-letter file.

import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { startWsgistat, wsgistat, type Run } from '../helpers/run.js';
import { fakeFluentd, fakeNorikra, type FakeFluentd } from '../helpers/receivers.js';
import { cleanup, freePort, sleep, tempDir, until } from '../helpers/servers.js';
import { conserve } from '../helpers/conservation.js';

type R = Record<string, unknown>;
const FIXTURE = fileURLToPath(new URL('../../../spec/fixtures/uwsgi/busy.json', import.meta.url));
const SOURCE = `file://${FIXTURE}`;

/** What Fluentd stored, as the records were before in_http took `time` out. */
const asSent = (f: FakeFluentd) => f.stored.map((s) => ({ time: s.time, ...s.record }));
/** Records in the order wsgistat wrote them to stdout. */
const lines = (text: string) => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as R);
/** Field order aside: compare as sorted-key JSON. */
const canon = (r: R) => JSON.stringify(Object.fromEntries(Object.entries(r).sort(([a], [b]) => a.localeCompare(b))));

function spoolFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((d) => readdirSync(join(dir, d)).filter((f) => f.endsWith('.ndjson')).map((f) => join(dir, d, f)));
}

describe('delivery to receivers', function () {
  const dirs: string[] = [];
  const stops: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    await Promise.all(stops.splice(0).map((s) => s()));
    dirs.splice(0).forEach(cleanup);
  });
  function workdir(): { state: string; spool: string; env: NodeJS.ProcessEnv } {
    const d = tempDir();
    dirs.push(d);
    return { state: d, spool: join(d, 'wsgistat', 'spool'), env: { XDG_STATE_HOME: d } };
  }
  async function fluentd(opts: Parameters<typeof fakeFluentd>[0] = {}) {
    const f = await fakeFluentd(opts);
    stops.push(() => f.stop());
    return f;
  }
  const run = (args: string[], env: NodeJS.ProcessEnv): Promise<Run> => wsgistat(args, { env });

  it('posts each run\'s records to in_http as one batch, exactly what stdout got, time as event time', async () => {
    const f = await fluentd();
    const w = workdir();
    const r = await run(['-o', 'stdout', '-o', `${f.url}/uwsgi.stats`, SOURCE], w.env);
    expect([r.code, r.stderr]).to.deep.equal([0, '']);
    expect(f.requests.map((q) => [q.method, q.path, q.headers['content-type']])).to.deep.equal([['POST', '/uwsgi.stats', 'application/json']]);
    expect(f.stored.every((s) => s.tag === 'uwsgi.stats')).to.equal(true);
    expect(asSent(f).map(canon)).to.deep.equal(lines(r.stdout).map(canon));
    expect(spoolFiles(w.spool)).to.deep.equal([]);
    expect(conserve(lines(r.stdout), asSent(f), w.spool, r.stderr)).to.include({ produced: 3, delivered: 3, missing: 0 });
  });

  it('keeps a one-shot run\'s records in an owner-only spool while the receiver is down, and sends them first when it is back', async () => {
    const port = await freePort();
    const f = await fluentd({ port, listen: false });
    const w = workdir();
    const args = ['-o', 'stdout', '-o', `http://127.0.0.1:${port}/uwsgi.stats`, '--retry-for', '300ms', SOURCE];
    const first = await run(args, w.env);
    expect(first.code).to.equal(1);
    const err = first.stderr.split('\n').filter(Boolean);
    expect(err[0]).to.equal(`wsgistat: error [sink http://127.0.0.1:${port}/uwsgi.stats] connection refused (is it running, on this port?); keeping the records in the spool ${readdirSync(w.spool).map((d) => join(w.spool, d))[0]} and retrying`);
    expect(err.at(-1)).to.match(/\] 3 records not delivered; they wait in the spool .* for the next run$/);
    const files = spoolFiles(w.spool);
    expect(files).to.have.length(1);
    expect((statSync(files[0]!).mode & 0o777).toString(8)).to.equal('600');
    expect((statSync(join(files[0]!, '..')).mode & 0o777).toString(8)).to.equal('700');

    await f.start();
    const second = await run(args, w.env);
    expect(second.code, second.stderr).to.equal(0);
    expect(second.stderr).to.match(/3 records from earlier runs wait in the spool .*; sending them first\n$/);
    expect(asSent(f).map(canon)).to.deep.equal([...lines(first.stdout), ...lines(second.stdout)].map(canon));
    expect(f.requests).to.have.length(2);
    expect(spoolFiles(w.spool)).to.deep.equal([]);
    expect(conserve([...lines(first.stdout), ...lines(second.stdout)], asSent(f), w.spool, first.stderr + second.stderr)).to.include({ delivered: 6, missing: 0 });
  });

  it('delivers everything, in order, to a receiver that was down when a continuous run started and came back', async () => {
    const port = await freePort();
    const f = await fluentd({ port, listen: false });
    const w = workdir();
    const p = startWsgistat(['--interval', '100ms', '-o', 'stdout', '-o', `http://127.0.0.1:${port}/t`, SOURCE], w.env);
    stops.push(() => p.stop('SIGKILL'));
    await p.waitFor('5 ticks while it is down', () => p.lines.length >= 15);
    expect(spoolFiles(w.spool).length).to.be.at.least(4);
    await f.start();
    await p.waitFor('5 more ticks', () => p.lines.length >= 30);
    await until('the receiver to catch up', async () => (f.stored.length >= 30 ? true : undefined), 15000);
    expect(await p.stop()).to.equal(0);
    expect(asSent(f).map(canon)).to.deep.equal(p.lines.map((l) => canon(JSON.parse(l.text) as R)));
    expect(p.stderr()).to.match(/delivering again after \d+ s/);
    expect(spoolFiles(w.spool)).to.deep.equal([]);
    expect(conserve(p.lines.map((l) => JSON.parse(l.text) as R), asSent(f), w.spool, p.stderr())).to.include({ missing: 0, waiting: 0 });
  });

  it('retries 500s and 429 with backoff in a continuous run, and delivers every tick in order', async () => {
    const f = await fluentd();
    f.failNext(500, 500, 429, 503);
    const w = workdir();
    const p = startWsgistat(['--interval', '100ms', '-o', 'stdout', '-o', `${f.url}/t`, SOURCE], w.env);
    stops.push(() => p.stop('SIGKILL'));
    await p.waitFor('9 ticks', () => p.lines.length >= 27);
    await until('the receiver to catch up', async () => (f.stored.length >= 27 ? true : undefined), 15000);
    expect(await p.stop()).to.equal(0);
    const sent = p.lines.map((l) => JSON.parse(l.text) as R);
    expect(asSent(f).map(canon)).to.deep.equal(sent.map(canon));
    expect(f.requests.slice(0, 4).every((q) => q.path === '/t')).to.equal(true);
    expect(p.stderr()).to.match(/\[sink http:\/\/127\.0\.0\.1:\d+\/t\] answered 500: 500 simulated; keeping the records in the spool .* and retrying\n/);
    expect(p.stderr()).to.match(/\[sink http:\/\/127\.0\.0\.1:\d+\/t\] delivering again after \d+ s/);
    expect(spoolFiles(w.spool)).to.deep.equal([]);
    expect(conserve(sent, asSent(f), w.spool, p.stderr())).to.include({ missing: 0, waiting: 0 });
  });

  it('sends again what a receiver slower than --send-timeout may have kept: at least once, in order', async () => {
    const f = await fluentd();
    f.delayNext(2, 800);
    const w = workdir();
    const p = startWsgistat(['--interval', '100ms', '--send-timeout', '200ms', '-o', 'stdout', '-o', `${f.url}/t`, SOURCE], w.env);
    stops.push(() => p.stop('SIGKILL'));
    await p.waitFor('6 ticks', () => p.lines.length >= 18);
    expect(await p.stop()).to.equal(0);
    const sent = p.lines.map((l) => canon(JSON.parse(l.text) as R));
    await until('the receiver to catch up', async () => (new Set(asSent(f).map(canon)).size >= sent.length ? true : undefined), 15000);
    const got = asSent(f).map(canon);
    // Every record arrived; duplicates are allowed, and first arrivals keep the order.
    const firsts = got.filter((r, i) => got.indexOf(r) === i);
    expect(firsts).to.deep.equal(sent);
    expect(p.stderr()).to.match(/no answer within 0\.2 s; keeping the records in the spool/);
  });

  it('puts a batch the receiver refuses (400) in the dead-letter file with the reason, and goes on', async () => {
    const f = await fluentd();
    f.failNext(400);
    const w = workdir();
    const args = ['-o', 'stdout', '-o', `${f.url}/t`, SOURCE];
    const first = await run(args, w.env);
    expect(first.code, 'a refused batch did not reach its output').to.equal(1);
    const dir = readdirSync(w.spool).map((d) => join(w.spool, d))[0]!;
    const dead = join(dir, 'dead-letter.jsonl');
    expect(first.stderr).to.equal(`wsgistat: error [sink ${f.url}/t] the receiver refused a batch of 3 records (400: 400 Bad Request simulated refusal); not retried, written to ${dead}\n`);
    const letters = readFileSync(dead, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(letters).to.have.length(1);
    expect(letters[0]).to.deep.include({ sink: `${f.url}/t`, status: 400, reason: '400 Bad Request simulated refusal' });
    expect(letters[0].records.map(canon)).to.deep.equal(lines(first.stdout).map(canon));
    expect((statSync(dead).mode & 0o777).toString(8)).to.equal('600');
    const second = await run(args, w.env);
    expect([second.code, second.stderr]).to.deep.equal([0, '']);
    expect(asSent(f).map(canon)).to.deep.equal(lines(second.stdout).map(canon));
    expect(conserve([...lines(first.stdout), ...lines(second.stdout)], asSent(f), w.spool, first.stderr)).to.include({ delivered: 3, deadLettered: 3, missing: 0 });
  });

  it('persists the backlog on SIGTERM while the receiver is down; the next run delivers all of it, in order', async () => {
    const port = await freePort();
    const f = await fluentd({ port, listen: false });
    const w = workdir();
    const url = `http://127.0.0.1:${port}/t`;
    const p = startWsgistat(['--interval', '100ms', '-o', 'stdout', '-o', url, SOURCE], w.env);
    stops.push(() => p.stop('SIGKILL'));
    await p.waitFor('5 ticks', () => p.lines.length >= 15);
    expect(await p.stop('SIGTERM'), 'records wait in the spool').to.equal(1);
    const sent = p.lines.map((l) => JSON.parse(l.text) as R);
    expect(spoolFiles(w.spool).length).to.equal(sent.length / 3);
    expect(p.stderr()).to.match(new RegExp(`\\] ${sent.length} records not delivered; they wait in the spool`));
    await f.start();
    const next = await run(['-o', 'stdout', '-o', url, SOURCE], w.env);
    expect(next.code, next.stderr).to.equal(0);
    expect(asSent(f).map(canon)).to.deep.equal([...sent, ...lines(next.stdout)].map(canon));
    // The spool goes in one request, not one per tick (this run's batch may join it or follow).
    expect(f.requests.length).to.be.at.most(2);
    expect((JSON.parse(f.requests[0]!.body) as unknown[]).length).to.be.at.least(sent.length);
    expect(spoolFiles(w.spool)).to.deep.equal([]);
    expect(conserve([...sent, ...lines(next.stdout)], asSent(f), w.spool, p.stderr() + next.stderr)).to.include({ missing: 0, waiting: 0 });
  });

  it('sets aside only the refused batch of a backlog sent in one request', async () => {
    const port = await freePort();
    const f = await fluentd({ port, listen: false });
    const w = workdir();
    const args = ['-o', 'stdout', '-o', `http://127.0.0.1:${port}/t`, '--retry-for', '10ms', SOURCE];
    const runs = [await run(args, w.env), await run(args, w.env)];
    await f.start();
    f.failNext(400, 400); // the spooled backlog as one request, then its first batch alone
    // The receiver is up now: give this run time to send the rest (10 ms was a race on a busy
    // machine, leaving good batches in the spool); it returns as soon as they are delivered.
    runs.push(await run(args.map((a) => (a === '10ms' ? '10s' : a)), w.env));
    const [b1, b2, b3] = runs.map((r) => lines(r.stdout).map(canon));
    const sizes = f.requests.map((q) => (JSON.parse(q.body) as unknown[]).length);
    expect(sizes.slice(0, 2)).to.deep.equal([6, 3]);
    expect(sizes.slice(2).reduce((a, b) => a + b, 0), 'the rest').to.equal(6);
    expect(asSent(f).map(canon)).to.deep.equal([...b2!, ...b3!]);
    const dead = readFileSync(join(readdirSync(w.spool).map((d) => join(w.spool, d))[0]!, 'dead-letter.jsonl'), 'utf8').trim().split('\n');
    expect(dead).to.have.length(1);
    expect(JSON.parse(dead[0]!).records.map(canon)).to.deep.equal(b1);
    expect(spoolFiles(w.spool)).to.deep.equal([]);
    expect(conserve(runs.flatMap((r) => lines(r.stdout)), asSent(f), w.spool, runs.map((r) => r.stderr).join(''))).to.include({ produced: 9, delivered: 6, deadLettered: 3, missing: 0 });
  });

  it('loses nothing to kill -9 while the receiver is down: the waiting batches are already on disk', async () => {
    const port = await freePort();
    const f = await fluentd({ port, listen: false });
    const w = workdir();
    const url = `http://127.0.0.1:${port}/t`;
    const p = startWsgistat(['--interval', '100ms', '-o', 'stdout', '-o', url, SOURCE], w.env);
    await p.waitFor('5 ticks', () => p.lines.length >= 15);
    await sleep(50);
    await p.stop('SIGKILL');
    const sent = p.lines.map((l) => JSON.parse(l.text) as R);
    await f.start();
    const next = await run(['-o', url, SOURCE], w.env);
    expect(next.code, next.stderr).to.equal(0);
    // The kill may fall between a tick's stdout write and its spool write: at most that batch.
    const got = asSent(f).map(canon).slice(0, -3);
    expect(sent.map(canon).slice(0, got.length)).to.deep.equal(got);
    expect(sent.length - got.length).to.be.at.most(3);
  });

  it('never lets a receiver that hangs delay stdout or the next tick', async () => {
    // The receiver takes the connection and never answers: were a tick to wait for it, the second
    // tick would come only after --send-timeout (60 s), far past the bounded wait below.
    const f = await fluentd();
    f.delayNext(1000, 120_000);
    const w = workdir();
    const p = startWsgistat(['--interval', '100ms', '--send-timeout', '60s', '-o', 'stdout', '-o', `${f.url}/t`, SOURCE], w.env);
    stops.push(() => p.stop('SIGKILL'));
    await p.waitFor('10 ticks on stdout', () => p.lines.length >= 30, 10_000);
    expect(f.requests).to.have.length(1);
    expect(await p.stop(), 'records wait in the spool').to.equal(1);
    expect(p.stderr()).to.match(/\] \d+ records not delivered; they wait in the spool/);
  });

  it('drops the oldest batches from a full spool, and says how many records', async () => {
    const port = await freePort();
    const w = workdir();
    const args = ['-o', 'stdout', '-o', `http://127.0.0.1:${port}/t`, '--retry-for', '10ms', '--spool-max', '6K', SOURCE];
    const runs: Run[] = [];
    for (let i = 0; i < 5; i++) runs.push(await run(args, w.env));
    const size = spoolFiles(w.spool).reduce((n, file) => n + statSync(file).size, 0);
    expect(size).to.be.at.most(6 * 1024);
    const dropped = runs.map((r) => /dropped the oldest (\d+) records/.exec(r.stderr)?.[1]).filter(Boolean);
    expect(dropped.length).to.be.above(0);
    expect(runs.at(-1)!.stderr).to.match(/error \[sink .*\] spool full \(.*\): dropped the oldest 3 records \(1 batches\) to keep the newest; raise --spool-max or bring the receiver back/);
    const ledger = conserve(runs.flatMap((r) => lines(r.stdout)), [], w.spool, runs.map((r) => r.stderr).join(''));
    expect(ledger.missing).to.equal(ledger.dropped).and.to.be.above(0);
  });

  describe('Norikra', () => {
    it('opens the target first and sends flat events that its queries can address', async () => {
      const n = await fakeNorikra();
      stops.push(() => n.stop());
      const w = workdir();
      const r = await run(['-o', 'stdout', '-o', `norikra://127.0.0.1:${n.port}/uwsgi_stats`, SOURCE], w.env);
      expect([r.code, r.stderr]).to.deep.equal([0, '']);
      expect(n.requests.map((q) => q.path)).to.deep.equal(['/api/open', '/api/send', '/api/open']);
      expect(JSON.parse(n.requests[0]!.body)).to.deep.equal(JSON.parse(readFileSync(fileURLToPath(new URL('../../../conf/norikra-target.json', import.meta.url)), 'utf8')));
      expect(n.events.get('uwsgi_stats')!.map(canon)).to.deep.equal(lines(r.stdout).map(canon));
    });

    it('opens the target again when Norikra restarted and lost it, and sends the batch it dropped', async () => {
      const n = await fakeNorikra();
      stops.push(() => n.stop());
      const w = workdir();
      const p = startWsgistat(['--interval', '100ms', '-o', 'stdout', '-o', `norikra://127.0.0.1:${n.port}/uwsgi_stats`, SOURCE], w.env);
      stops.push(() => p.stop('SIGKILL'));
      await p.waitFor('3 ticks', () => p.lines.length >= 9);
      await n.stop();
      n.forgetTargets();
      await n.start();
      await p.waitFor('6 more ticks', () => p.lines.length >= 27);
      expect(await p.stop()).to.equal(0);
      const sent = p.lines.map((l) => canon(JSON.parse(l.text) as R));
      const kept = () => n.events.get('uwsgi_stats')?.map(canon) ?? [];
      await until('Norikra to have every event', async () => (new Set(kept()).size >= sent.length ? true : undefined));
      // A batch whose confirmation was lost to the restart is sent again: at least once, in order.
      const firsts = kept().filter((e, i, all) => all.indexOf(e) === i);
      expect(firsts).to.deep.equal(sent);
      expect(n.requests.filter((q) => q.path === '/api/open').length, 'opened again after the restart').to.be.at.least(3);
    });

    it('makes field names safe for Norikra: no dots, no leading digit', async () => {
      const n = await fakeNorikra();
      stops.push(() => n.stop());
      const w = workdir();
      const doc = JSON.parse(readFileSync(FIXTURE, 'utf8'));
      doc['9lives'] = 1;
      doc['odd.name'] = 2;
      const path = join(w.state, 'doc.json');
      writeFileSync(path, JSON.stringify(doc));
      const r = await run(['-r', 'summary', '-o', `norikra://127.0.0.1:${n.port}/t1`, `file://${path}`], w.env);
      expect(r.code, r.stderr).to.equal(0);
      const [e] = n.events.get('t1')!;
      expect(e).to.include({ _9lives: 1, odd_name: 2 });
    });
  });

  it('uses https with a CA and a client certificate, and an auth header from the environment that it never prints', async function () {
    if (spawnSync('openssl', ['version']).status !== 0) {
      if (process.env.CI) throw new Error('openssl is needed to make test certificates');
      this.skip();
    }
    const w = workdir();
    const d = w.state;
    const ssl = (args: string[]) => expect(spawnSync('openssl', args, { cwd: d }).status, args.join(' ')).to.equal(0);
    ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=test CA', '-keyout', 'ca.key', '-out', 'ca.pem']);
    for (const [name, cn, ext] of [['server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1'], ['client', 'wsgistat', 'extendedKeyUsage=clientAuth']]) {
      ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
      writeFileSync(join(d, `${name}.ext`), `${ext}\n`);
      ssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.pem`]);
    }
    const read = (f: string) => readFileSync(join(d, f));
    const f = await fluentd({ tls: { key: read('server.key'), cert: read('server.pem'), ca: read('ca.pem'), requestCert: true, rejectUnauthorized: true } });
    const secret = 'Bearer s3cr3t-token';
    const env = { ...w.env, FLUENTD_TOKEN: secret };
    const args = ['-o', `${f.url}/secure.tag`, '--ca-file', join(d, 'ca.pem'), '--cert-file', join(d, 'client.pem'), '--key-file', join(d, 'client.key'), '--header', 'Authorization=env:FLUENTD_TOKEN', SOURCE];
    const r = await run(args, env);
    expect([r.code, r.stderr]).to.deep.equal([0, '']);
    expect(f.stored).to.have.length(3);
    expect(f.requests[0]!.headers.authorization).to.equal(secret);
    const check = await run(['--check', ...args], env);
    expect(check.stdout).to.not.include(secret);
    expect(JSON.parse(check.stdout).outputs[0].headers).to.deep.equal({ Authorization: 'from environment variable FLUENTD_TOKEN' });
    // Without the client certificate the receiver hangs up: a failure that names the sink, not the token.
    const refused = await run(['-o', `${f.url}/secure.tag`, '--ca-file', join(d, 'ca.pem'), '--retry-for', '100ms', '--header', 'Authorization=env:FLUENTD_TOKEN', SOURCE], env);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.include(`[sink ${f.url}/secure.tag]`);
    expect(refused.stderr).to.not.include('s3cr3t');
  });
});
