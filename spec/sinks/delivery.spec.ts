// Delivery to receivers that fail in ways a real Fluentd cannot be made to on demand: 5xx and 429
// answers, answers slower than --send-timeout, a connection taken and never answered; a spool that
// fills while nothing listens; and Norikra's JSON API (Debian packages no Norikra). The receivers
// are in-process fakes that answer as in_http and Norikra do (spec/helpers/receivers.ts). What a
// real Fluentd can do (take and store, be down, restart, refuse a batch with 413, TLS with a client
// certificate) is in spec/sinks/fluentd.spec.ts against Fluentd 1.15.3 itself. Every scenario ends
// with every record delivered, in order, and an empty spool.

import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startWsgistat, wsgistat, type Run } from '../helpers/run.js';
import { fakeFluentd, fakeNorikra, type FakeFluentd } from '../helpers/receivers.js';
import { cleanup, freePort, tempDir, until } from '../helpers/servers.js';
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

  it('retries 500s and 429 with backoff in a continuous run, and delivers every tick in order', async () => {
    // A fake: Fluentd answers 500 only when its buffer is full, and never 429 or 503.
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
    // A fake: Fluentd cannot be told to answer two requests 800 ms late and the next at once.
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

  it('never lets a receiver that hangs delay stdout or the next tick', async () => {
    // A fake: Fluentd cannot be told to take a request and never answer it. It takes the
    // connection and never answers: were a tick to wait for it, the second
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
    // No receiver at all: nothing listens on the port.
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
});
