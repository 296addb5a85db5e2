// Delivery to a real Fluentd 1.15.3 in_http (spec/helpers/fluentd.ts): what it stored is what
// wsgistat produced, by content; while it is down (nothing listens on its port) the records wait in
// the spool, through SIGTERM and kill -9, and go first once it is back; a batch above its
// body_size_limit is refused (413) and dead-lettered alone; a corrupt spooled line costs itself only
// (in_http would answer 200 to the whole invalid request and drop it, protocols.md §3); runs at once
// that share one spool while Fluentd is down lose nothing once it is back. Every case ends with the
// conservation check. What a real Fluentd cannot do on demand (5xx, answers slower than
// --send-timeout, a hang) is in spec/sinks/delivery.spec.ts, against an in-process fake.

import { expect } from 'chai';
import { appendFileSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonical, conserve } from '../helpers/conservation.js';
import { makePki, needsFluentd, startFluentd, type RealFluentd } from '../helpers/fluentd.js';
import { startWsgistat, wsgistat } from '../helpers/run.js';
import { cleanup, freePort, needs, sleep, tempDir, until } from '../helpers/servers.js';

type R = Record<string, unknown>;
const FIXTURE = fileURLToPath(new URL('../../../spec/fixtures/uwsgi/busy.json', import.meta.url));
const SOURCE = `file://${FIXTURE}`;

function spoolFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((d) => readdirSync(join(dir, d)).filter((f) => f.endsWith('.ndjson')).map((f) => join(dir, d, f)));
}

describe('delivery to a real Fluentd', function () {
  this.timeout(90000);
  let dir: string;
  let f: RealFluentd | undefined;
  beforeEach(function () {
    needsFluentd(this);
    dir = tempDir();
  });
  afterEach(async () => {
    await f?.dispose();
    f = undefined;
    cleanup(dir);
  });
  const env = () => ({ XDG_STATE_HOME: dir });
  const spool = () => join(dir, 'wsgistat', 'spool');
  const stored = (fl: RealFluentd) => fl.stored().map((s) => ({ time: s.time, ...s.record }));

  it('stores exactly what stdout got, time as the event time, tag from the path', async () => {
    f = await startFluentd();
    const r = await wsgistat(['-o', 'stdout', '-o', `${f.url}/uwsgi.stats`, SOURCE], { env: env() });
    expect([r.code, r.stderr]).to.deep.equal([0, '']);
    const got = await until('Fluentd to store 3 records', () => (f!.stored().length >= 3 ? f!.stored() : undefined));
    expect(got.map((s) => s.tag)).to.deep.equal(['uwsgi.stats', 'uwsgi.stats', 'uwsgi.stats']);
    expect(stored(f).map(canonical)).to.deep.equal(r.records.map(canonical));
    expect(conserve(r.records, stored(f), spool(), r.stderr)).to.include({ produced: 3, delivered: 3, waiting: 0, missing: 0 });
  });

  it('keeps a one-shot run\'s records in an owner-only spool while Fluentd is down, and sends them first when it is back', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/uwsgi.stats`;
    const args = ['-o', 'stdout', '-o', url, '--retry-for', '300ms', SOURCE];
    const first = await wsgistat(args, { env: env() });
    expect(first.code).to.equal(1);
    const err = first.stderr.split('\n').filter(Boolean);
    expect(err[0]).to.equal(`wsgistat: error [sink ${url}] connection refused (is it running, on this port?); keeping the records in the spool ${readdirSync(spool()).map((d) => join(spool(), d))[0]} and retrying`);
    expect(err.at(-1)).to.match(/\] 3 records not delivered; they wait in the spool .* for the next run$/);
    const files = spoolFiles(spool());
    expect(files).to.have.length(1);
    expect((statSync(files[0]!).mode & 0o777).toString(8)).to.equal('600');
    expect((statSync(join(files[0]!, '..')).mode & 0o777).toString(8)).to.equal('700');

    f = await startFluentd(port);
    // Time for Fluentd's first answer after its start, which can take a while on a busy machine;
    // the run returns as soon as the records are delivered.
    const second = await wsgistat(args.map((a) => (a === '300ms' ? '10s' : a)), { env: env() });
    expect(second.code, second.stderr).to.equal(0);
    expect(second.stderr).to.match(/3 records from earlier runs wait in the spool .*; sending them first\n$/);
    const produced = [...first.records, ...second.records];
    await until('Fluentd to store 6 records', () => (f!.stored().length >= 6 ? true : undefined));
    expect(stored(f).map(canonical)).to.deep.equal(produced.map(canonical));
    expect(f.stored().map((s) => s.tag)).to.deep.equal(produced.map(() => 'uwsgi.stats'));
    expect(spoolFiles(spool())).to.deep.equal([]);
    expect(conserve(produced, stored(f), spool(), first.stderr + second.stderr)).to.include({ produced: 6, delivered: 6, waiting: 0, missing: 0 });
  });

  it('delivers everything, in order, to a Fluentd that was down when a continuous run started and came back', async () => {
    const port = await freePort();
    const p = startWsgistat(['--interval', '100ms', '-o', 'stdout', '-o', `http://127.0.0.1:${port}/t`, SOURCE], env());
    try {
      await p.waitFor('5 ticks while it is down', () => p.lines.length >= 15);
      expect(spoolFiles(spool()).length).to.be.at.least(4);
      f = await startFluentd(port);
      await p.waitFor('5 more ticks', () => p.lines.length >= 30);
      await until('Fluentd to catch up', () => (f!.stored().length >= 30 ? true : undefined), 15000);
      expect(await p.stop()).to.equal(0);
      const produced = p.lines.map((l) => JSON.parse(l.text) as R);
      await until('Fluentd to store every record', () => (f!.stored().length >= produced.length ? true : undefined), 15000);
      expect(stored(f).map(canonical)).to.deep.equal(produced.map(canonical));
      expect(p.stderr()).to.match(/delivering again after \d+ s/);
      expect(spoolFiles(spool())).to.deep.equal([]);
      expect(conserve(produced, stored(f), spool(), p.stderr())).to.include({ missing: 0, waiting: 0 });
    } finally {
      await p.stop('SIGKILL');
    }
  });

  it('persists the backlog on SIGTERM while Fluentd is down; the next run delivers all of it, in order', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/t`;
    const p = startWsgistat(['--interval', '100ms', '-o', 'stdout', '-o', url, SOURCE], env());
    try {
      await p.waitFor('5 ticks', () => p.lines.length >= 15);
      expect(await p.stop('SIGTERM'), 'records wait in the spool').to.equal(1);
    } finally {
      await p.stop('SIGKILL');
    }
    const sent = p.lines.map((l) => JSON.parse(l.text) as R);
    expect(spoolFiles(spool()).length).to.equal(sent.length / 3);
    expect(p.stderr()).to.match(new RegExp(`\\] ${sent.length} records not delivered; they wait in the spool`));
    f = await startFluentd(port);
    const next = await wsgistat(['-o', 'stdout', '-o', url, SOURCE], { env: env() });
    expect(next.code, next.stderr).to.equal(0);
    const produced = [...sent, ...next.records];
    await until('Fluentd to store every record', () => (f!.stored().length >= produced.length ? true : undefined));
    expect(stored(f).map(canonical)).to.deep.equal(produced.map(canonical));
    expect(spoolFiles(spool())).to.deep.equal([]);
    expect(conserve(produced, stored(f), spool(), p.stderr() + next.stderr)).to.include({ missing: 0, waiting: 0 });
  });

  it('loses nothing to kill -9 while Fluentd is down: the waiting batches are already on disk', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/t`;
    const p = startWsgistat(['--interval', '100ms', '-o', 'stdout', '-o', url, SOURCE], env());
    await p.waitFor('5 ticks', () => p.lines.length >= 15);
    await sleep(50);
    await p.stop('SIGKILL');
    const sent = p.lines.map((l) => JSON.parse(l.text) as R);
    f = await startFluentd(port);
    const next = await wsgistat(['-o', url, SOURCE], { env: env() });
    expect(next.code, next.stderr).to.equal(0);
    // The kill may fall between a tick's stdout write and its spool write: at most that batch.
    await until('Fluentd to store the spool and the new batch', () => (f!.stored().length >= sent.length ? true : undefined));
    const got = stored(f).map(canonical).slice(0, -3);
    expect(sent.map(canonical).slice(0, got.length)).to.deep.equal(got);
    expect(sent.length - got.length).to.be.at.most(3);
  });

  it('puts a batch Fluentd refuses (413, above its body_size_limit) in the dead-letter file with the reason, and goes on', async () => {
    // 3k: the 10 records of --records all (about 4.4 KiB) are refused, the 3 of a default run taken.
    f = await startFluentd(undefined, { bodySizeLimit: '3k' });
    const url = `${f.url}/t`;
    const first = await wsgistat(['-o', 'stdout', '-o', url, '--records', 'all', SOURCE], { env: env() });
    expect(first.code, 'a refused batch did not reach its output').to.equal(1);
    const dead = join(readdirSync(spool()).map((d) => join(spool(), d))[0]!, 'dead-letter.jsonl');
    expect(first.stderr).to.equal(`wsgistat: error [sink ${url}] the receiver refused a batch of 10 records (413: Too large); not retried, written to ${dead}\n`);
    const letters = readFileSync(dead, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as R);
    expect(letters).to.have.length(1);
    expect(letters[0]).to.deep.include({ sink: url, status: 413, reason: 'Too large' });
    expect((letters[0]!.records as R[]).map(canonical)).to.deep.equal(first.records.map(canonical));
    expect((statSync(dead).mode & 0o777).toString(8)).to.equal('600');
    const second = await wsgistat(['-o', 'stdout', '-o', url, SOURCE], { env: env() });
    expect([second.code, second.stderr]).to.deep.equal([0, '']);
    await until('Fluentd to store 3 records', () => (f!.stored().length >= 3 ? true : undefined));
    expect(stored(f).map(canonical)).to.deep.equal(second.records.map(canonical));
    expect(conserve([...first.records, ...second.records], stored(f), spool(), first.stderr)).to.include({ delivered: 3, deadLettered: 10, missing: 0 });
  });

  it('sets aside only the refused batch of a backlog, and delivers the others', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/t`;
    const args = (records: string, retryFor: string) => ['-o', 'stdout', '-o', url, '--records', records, '--retry-for', retryFor, SOURCE];
    // While Fluentd is down: a batch too large for it (10 records), then one it takes (3).
    const runs = [await wsgistat(args('all', '10ms'), { env: env() }), await wsgistat(args('summary,worker', '10ms'), { env: env() })];
    f = await startFluentd(port, { bodySizeLimit: '3k' });
    // The backlog goes as one request (refused: 413), then a batch at a time: the large one is
    // dead-lettered, the other delivered, and this run's batch after them. 10 s to do so: it
    // returns as soon as they are delivered.
    runs.push(await wsgistat(args('summary,worker', '10s'), { env: env() }));
    const [b1, b2, b3] = runs.map((r) => r.records.map(canonical));
    await until('Fluentd to store 6 records', () => (f!.stored().length >= 6 ? true : undefined));
    expect(stored(f).map(canonical)).to.deep.equal([...b2!, ...b3!]);
    const dead = readFileSync(join(readdirSync(spool()).map((d) => join(spool(), d))[0]!, 'dead-letter.jsonl'), 'utf8').trim().split('\n');
    expect(dead).to.have.length(1);
    expect((JSON.parse(dead[0]!) as { records: R[] }).records.map(canonical)).to.deep.equal(b1);
    expect(spoolFiles(spool())).to.deep.equal([]);
    expect(conserve(runs.flatMap((r) => r.records), stored(f), spool(), runs.map((r) => r.stderr).join(''))).to.include({ produced: 16, delivered: 6, deadLettered: 10, missing: 0 });
  });

  it('uses https with a CA and a client certificate, and an auth header from the environment that it never prints', async function () {
    needs(this, 'openssl');
    const pki = makePki(dir);
    // add_http_headers: Fluentd keeps the request's headers in the records, so the header it got shows.
    f = await startFluentd(undefined, { tls: { certPath: pki.serverCert, keyPath: pki.serverKey, clientCaPath: pki.ca }, addHttpHeaders: true });
    const secret = 'Bearer s3cr3t-token';
    const e = { ...env(), FLUENTD_TOKEN: secret };
    const url = `${f.url}/secure.tag`;
    const args = ['-o', 'stdout', '-o', url, '--ca-file', pki.ca, '--cert-file', pki.clientCert, '--key-file', pki.clientKey, '--header', 'Authorization=env:FLUENTD_TOKEN', SOURCE];
    const r = await wsgistat(args, { env: e });
    expect([r.code, r.stderr]).to.deep.equal([0, '']);
    const got = await until('Fluentd to store 3 records', () => (f!.stored().length >= 3 ? f!.stored() : undefined));
    expect(got.map((s) => [s.tag, s.record.HTTP_AUTHORIZATION])).to.deep.equal(r.records.map(() => ['secure.tag', secret]));
    const withoutHeaders = stored(f).map((s) => Object.fromEntries(Object.entries(s).filter(([k]) => !k.startsWith('HTTP_'))));
    expect(withoutHeaders.map(canonical)).to.deep.equal(r.records.map(canonical));
    const check = await wsgistat(['--check', ...args], { env: e });
    expect(check.stdout).to.not.include('s3cr3t');
    expect(JSON.parse(check.stdout).outputs[1].headers).to.deep.equal({ Authorization: 'from environment variable FLUENTD_TOKEN' });
    // Without the client certificate Fluentd refuses the TLS handshake: a failure that names the
    // sink, not the token; nothing stored.
    const refused = await wsgistat(['-o', url, '--ca-file', pki.ca, '--retry-for', '300ms', '--header', 'Authorization=env:FLUENTD_TOKEN', SOURCE], { env: e });
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.include(`[sink ${url}]`);
    expect(refused.stderr).to.not.include('s3cr3t');
    expect(f.stored()).to.have.length(3);
  });

  it('sets aside a corrupt line of a spooled batch, and sends the rest of the backlog', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/t`;
    const args = ['-o', 'stdout', '-o', url, '--retry-for', '10ms', SOURCE];
    const first = await wsgistat(args, { env: env() });
    const second = await wsgistat(args, { env: env() });
    expect([first.code, second.code]).to.deep.equal([1, 1]);
    const sdir = join(spool(), readdirSync(spool())[0]!);
    const file = readdirSync(sdir).filter((n) => n.endsWith('.ndjson')).sort()[0]!;
    appendFileSync(join(sdir, file), '{"truncated":\n');
    f = await startFluentd(port);
    const third = await wsgistat(['-o', 'stdout', '-o', url, SOURCE], { env: env() });
    expect(third.code, third.stderr).to.equal(1); // a record did not reach its output
    expect(third.stderr, third.stderr).to.match(/\] 1 damaged records in the spool batch .* are not sent; set aside in .*dead-letter\.jsonl\n$/);
    const produced = [...first.records, ...second.records, ...third.records];
    await until('Fluentd to store 9 records', () => (f!.stored().length >= 9 ? true : undefined));
    expect(stored(f).map(canonical)).to.deep.equal(produced.map(canonical));
    const letter = JSON.parse(readFileSync(join(sdir, 'dead-letter.jsonl'), 'utf8').trim()) as R;
    expect(letter).to.deep.include({ status: 0, lines: ['{"truncated":'] });
    expect(conserve(produced, stored(f), spool(), first.stderr + second.stderr + third.stderr)).to.include({ produced: 9, delivered: 9, waiting: 0, missing: 0 });
  });

  it('loses nothing from runs at once that share one spool while Fluentd is down', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/t`;
    const down = await Promise.all(Array.from({ length: 6 }, (_, i) => wsgistat(['-o', 'stdout', '-o', url, '--retry-for', '10ms', `i${i}=${SOURCE}`], { env: env() })));
    expect(down.map((r) => r.code)).to.deep.equal(Array(6).fill(1));
    f = await startFluentd(port);
    const up = await Promise.all(Array.from({ length: 6 }, (_, i) => wsgistat(['-o', 'stdout', '-o', url, `j${i}=${SOURCE}`], { env: env() })));
    expect(up.map((r) => [r.code, r.stderr.includes('internal error')]), up.map((r) => r.stderr).join('')).to.deep.equal(Array(6).fill([0, false]));
    const produced = [...down, ...up].flatMap((r) => r.records);
    await until('Fluentd to store 36 records', () => (new Set(stored(f!).map(canonical)).size >= 36 ? true : undefined));
    const ledger = conserve(produced, stored(f), spool(), [...down, ...up].map((r) => r.stderr).join(''));
    expect(ledger).to.include({ produced: 36, delivered: 36, waiting: 0, deadLettered: 0, missing: 0 });
  });

  it('delivers the ticks of two continuous runs that share one spool: the lock holder sends the other\'s too', async () => {
    f = await startFluentd();
    const url = `${f.url}/t`;
    const a = startWsgistat(['--interval', '100ms', '-o', 'stdout', '-o', url, `a=${SOURCE}`], env());
    await a.waitFor('the first run to hold the spool', () => a.lines.length >= 3);
    const b = startWsgistat(['--interval', '100ms', '-o', 'stdout', '-o', url, `b=${SOURCE}`], env());
    try {
      await b.waitFor('10 ticks of the second run', () => b.lines.length >= 30);
      expect(b.stderr()).to.match(/another wsgistat is sending the spool .* now/);
      const bCode = await b.stop('SIGTERM');
      const aCode = await a.stop('SIGTERM');
      const produced = [...a.lines, ...b.lines].map((l) => JSON.parse(l.text) as R);
      await until('Fluentd to store every record', () => (new Set(stored(f!).map(canonical)).size >= produced.length ? true : undefined), 15000);
      const ledger = conserve(produced, stored(f), spool(), a.stderr() + b.stderr());
      expect([aCode, bCode, ledger.missing, ledger.dropped], a.stderr() + b.stderr()).to.deep.equal([0, 0, 0, 0]);
      expect(ledger.delivered + ledger.waiting).to.equal(produced.length);
    } finally {
      await Promise.all([a.stop('SIGKILL'), b.stop('SIGKILL')]);
    }
  });
});
