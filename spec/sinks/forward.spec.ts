// The forward output against a real Fluentd 1.15.3 in_forward (spec/helpers/fluentd.ts): what it
// stored is what stdout got (types, 64-bit integers, event time from `time`, tag from the URL);
// failover to a standby and back to a restarted primary; the shared-key and user handshake, right
// and wrong; TLS with a CA and a client certificate. A fake that reads and never acks stands in for
// what a real Fluentd cannot be made to do on demand: it shows the same chunk id on every resend,
// also from the spool in the next run.

import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeMultiStream } from '@msgpack/msgpack';
import { FORWARD_OPTIONS } from '../../lib/sinks/forward.js';
import { canonical, conserve } from '../helpers/conservation.js';
import { optionsTable } from '../helpers/docs.js';
import { makePki, needsFluentd, startForwardFluentd, type RealFluentd, type Stored } from '../helpers/fluentd.js';
import { startWsgistat, wsgistat } from '../helpers/run.js';
import { cleanup, needs, tempDir, until } from '../helpers/servers.js';

type R = Record<string, unknown>;
const FIXTURE = fileURLToPath(new URL('../../../spec/fixtures/uwsgi/busy.json', import.meta.url));

/** A record's integers as written: name -> digits. Stored "5000000000.0" (a float) would differ. */
const integers = (jsonText: string) => Object.fromEntries([...jsonText.matchAll(/"([^"]+)":(-?\d+)(?=[,}])/g)].filter(([, k]) => !k!.startsWith('fluentd_')).map(([, k, v]) => [k, v]));
/** The event time Fluentd should have: the record's `time` as printed, to the nanosecond. */
const eventTimeText = (line: string) => {
  const t = /"time":(\d+)(?:\.(\d+))?/.exec(line)!;
  return `${t[1]}.${(t[2] ?? '').padEnd(9, '0')}`;
};

describe('the forward output to a real Fluentd', function () {
  this.timeout(90000);
  let dir: string;
  let fluentds: RealFluentd[] = [];
  let source: string;
  beforeEach(function () {
    needsFluentd(this);
    dir = tempDir();
    // busy.json with workers over 4 GiB and over 2^53 of virtual memory: 64-bit integers.
    const stats = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { workers: R[] };
    stats.workers[0]!.vsz = 5_000_000_000;
    stats.workers[1]!.vsz = 2 ** 60;
    const file = join(dir, 'big.json');
    writeFileSync(file, JSON.stringify(stats), { mode: 0o600 });
    source = `file://${file}`;
  });
  afterEach(async () => {
    await Promise.all(fluentds.map((f) => f.dispose()));
    fluentds = [];
    cleanup(dir);
  });
  const env = (more: NodeJS.ProcessEnv = {}) => ({ env: { XDG_STATE_HOME: dir, ...more } });
  const spool = () => join(dir, 'wsgistat', 'spool');
  const fluentd = async (opts: Parameters<typeof startForwardFluentd>[0] = {}) => {
    const f = await startForwardFluentd(opts);
    fluentds.push(f);
    return f;
  };
  const storedOf = (f: RealFluentd, n: number) => until(`Fluentd to store ${n} records`, () => (f.stored().length >= n ? f.stored() : undefined));
  /** Whole records, integers as integers, event time and tag, against stdout's lines. */
  function expectSame(got: Stored[], stdout: string, tag: string): void {
    const lines = stdout.split('\n').filter(Boolean);
    expect(got.map((s) => s.tag)).to.deep.equal(lines.map(() => tag));
    expect(got.map((s) => canonical(s.record))).to.deep.equal(lines.map((l) => canonical(JSON.parse(l) as R)));
    expect(got.map((s) => integers(s.raw))).to.deep.equal(lines.map(integers));
    expect(got.map((s) => s.timeText)).to.deep.equal(lines.map(eventTimeText));
  }

  it('stores exactly what stdout got: types, 64-bit integers, event time from time, tag from the URL', async () => {
    const f = await fluentd();
    const r = await wsgistat(['-o', 'stdout', '-o', `forward://127.0.0.1:${f.port}/uwsgi.stats`, source], env());
    expect([r.code, r.stderr]).to.deep.equal([0, '']);
    expect(r.stdout).to.include('"vsz":5000000000,').and.include('"vsz":1152921504606847000,');
    expectSame(await storedOf(f, 3), r.stdout, 'uwsgi.stats');
    expect(conserve(r.records, f.stored().map((s) => s.record), spool(), r.stderr)).to.include({ produced: 3, delivered: 3, waiting: 0, missing: 0 });
  });

  it('passes the shared-key and user handshake with the right key and password', async () => {
    const f = await fluentd({ security: { sharedKey: 'the-right-key', users: [{ username: 'ws', password: 'pw-secret' }] } });
    const keyFile = join(dir, 'key');
    writeFileSync(keyFile, 'the-right-key\n', { mode: 0o600 });
    const r = await wsgistat(['-o', 'stdout', '-o', `forward://127.0.0.1:${f.port}/t`, '--shared-key', `file:${keyFile}`, '--forward-username', 'ws', '--forward-password', 'env:FWD_PASSWORD', source], env({ FWD_PASSWORD: 'pw-secret' }));
    expect([r.code, r.stderr]).to.deep.equal([0, '']);
    expectSame(await storedOf(f, 3), r.stdout, 't');
  });

  it('says a wrong key once, naming the server, keeps the records in the spool, and sends them with the right key', async () => {
    const f = await fluentd({ security: { sharedKey: 'the-right-key' } });
    const url = `forward://127.0.0.1:${f.port}/t`;
    const wrong = await wsgistat(['-o', 'stdout', '-o', url, '--shared-key', 'env:FWD_KEY', '--retry-for', '1s', source], env({ FWD_KEY: 'a-wrong-key' }));
    expect(wrong.code).to.equal(1);
    expect(wrong.stderr.match(/refused the handshake/g)?.length, wrong.stderr).to.be.within(1, 2);
    expect(wrong.stderr, wrong.stderr).to.include(`server 127.0.0.1:${f.port} refused the handshake: shared_key mismatch`);
    expect(wrong.stderr).to.not.include('a-wrong-key');
    expect(f.stored()).to.deep.equal([]);
    expect(conserve(wrong.records, [], spool(), wrong.stderr)).to.include({ produced: 3, delivered: 0, waiting: 3, deadLettered: 0, missing: 0 });
    const right = await wsgistat(['-o', 'stdout', '-o', url, '--shared-key', 'env:FWD_KEY', source], env({ FWD_KEY: 'the-right-key' }));
    expect([right.code, right.stderr.replace(/.*earlier runs wait in the spool.*\n/, '')]).to.deep.equal([0, '']);
    expectSame(await storedOf(f, 6), wrong.stdout + right.stdout, 't');
    expect(conserve([...wrong.records, ...right.records], f.stored().map((s) => s.record), spool(), right.stderr)).to.include({ produced: 6, delivered: 6, waiting: 0, missing: 0 });
  });

  it('sends over TLS, trusting the server by a CA and showing a client certificate', async function () {
    needs(this, 'openssl');
    const pki = makePki(dir);
    const f = await fluentd({ tls: { certPath: pki.serverCert, keyPath: pki.serverKey, clientCaPath: pki.ca } });
    const url = `forward+tls://127.0.0.1:${f.port}/t`;
    const r = await wsgistat(['-o', 'stdout', '-o', url, '--ca-file', pki.ca, '--cert-file', pki.clientCert, '--key-file', pki.clientKey, source], env());
    expect([r.code, r.stderr]).to.deep.equal([0, '']);
    expectSame(await storedOf(f, 3), r.stdout, 't');
    // Without the CA the server's certificate is not trusted: nothing sent, all kept.
    const untrusted = await wsgistat(['-o', 'stdout', '-o', url, '--cert-file', pki.clientCert, '--key-file', pki.clientKey, '--retry-for', '300ms', source], env());
    expect(untrusted.code).to.equal(1);
    expect(untrusted.stderr).to.match(/SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify/i);
    expect(f.stored().length).to.equal(3);
  });

  it('fails over to the standby when the primary stops, and goes back to the primary once it is up again', async () => {
    const a = await fluentd();
    const b = await fluentd();
    const w = startWsgistat(['--interval', '100ms', '-o', 'stdout', '-o', `forward://127.0.0.1:${a.port},127.0.0.1:${b.port}/t`, source], { XDG_STATE_HOME: dir });
    try {
      await until('the primary to store 9 records', () => (a.stored().length >= 9 ? true : undefined), 20000);
      expect(b.stored()).to.deep.equal([]);
      await a.stop();
      const before = a.stored().length;
      await until('the standby to store 9 records', () => (b.stored().length >= 9 ? true : undefined), 20000);
      await a.start();
      await until('the restarted primary to store records again', () => (a.stored().length > before + 6 ? true : undefined), 60000);
      const standbyAtReturn = b.stored().length;
      await until('the primary to take 6 more', () => (a.stored().length > before + 12 ? true : undefined), 20000);
      expect(await w.stop('SIGTERM')).to.equal(0);
      const produced = w.lines.map((l) => JSON.parse(l.text) as R);
      const all = [...a.stored(), ...b.stored()].map((s) => s.record);
      expect(b.stored().length, 'the standby got nothing once the primary was back').to.be.at.most(standbyAtReturn + 3);
      for (const f of [a, b]) {
        // In order per server: its records are a subsequence of stdout's.
        const order = f.stored().map((s) => produced.findIndex((p) => canonical(p) === canonical(s.record)));
        expect(order.every((x, i) => x >= 0 && (i === 0 || x >= order[i - 1]!))).to.equal(true);
      }
      const ledger = conserve(produced, all, spool(), w.stderr());
      expect([ledger.missing, ledger.dropped, ledger.deadLettered, ledger.waiting]).to.deep.equal([0, 0, 0, 0]);
      expect(w.stderr(), w.stderr()).to.match(new RegExp(`server 127\\.0\\.0\\.1:${a.port} set aside \\(ECONNREFUSED\\)`)).and.match(new RegExp(`server 127\\.0\\.0\\.1:${a.port} is back`));
    } finally {
      await w.stop('SIGKILL');
    }
  });
});

describe('the forward output to a server that never acks', function () {
  this.timeout(30000);
  let dir: string;
  let server: Server;
  const sockets: Socket[] = [];
  let messages: unknown[][] = [];
  beforeEach(async () => {
    dir = tempDir();
    messages = [];
    server = createServer((s) => {
      sockets.push(s);
      s.on('error', () => {});
      void (async () => {
        try {
          for await (const m of decodeMultiStream(s)) messages.push(m as unknown[]);
        } catch {
          // the client hung up
        }
      })();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });
  afterEach(async () => {
    sockets.forEach((s) => s.destroy());
    await new Promise((r) => server.close(r));
    cleanup(dir);
  });

  it('resends the chunk with the same chunk id, and the next run sends it from the spool with that id again', async () => {
    const port = (server.address() as { port: number }).port;
    const url = `forward://127.0.0.1:${port}/t`;
    const e = { env: { XDG_STATE_HOME: dir } };
    const r = await wsgistat(['-o', 'stdout', '-o', url, '--ack-timeout', '200ms', '--retry-for', '1500ms', `file://${FIXTURE}`], e);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/no forward server took the chunk .*: 127\.0\.0\.1:\d+: ETIMEDOUT/);
    expect(messages.length, r.stderr).to.be.at.least(2);
    const options = messages.map((m) => m[2] as { size: number; chunk: string });
    expect(messages.map((m) => m[0])).to.deep.equal(messages.map(() => 't'));
    expect(options).to.deep.equal(options.map(() => ({ size: 3, chunk: options[0]!.chunk })));
    expect(Buffer.from(options[0]!.chunk, 'base64').length).to.equal(16);
    // The next run has nothing of its own (its source fails, no error record): the spooled batch.
    const seen = messages.length;
    const next = await wsgistat(['-o', url, '--ack-timeout', '200ms', '--retry-for', '500ms', '--no-error-records', `file://${join(dir, 'missing.json')}`], e);
    expect(next.code).to.equal(1);
    await until('the spooled chunk to arrive', () => (messages.length > seen ? true : undefined));
    expect(messages.slice(seen).map((m) => m[2])).to.deep.equal(messages.slice(seen).map(() => ({ size: 3, chunk: options[0]!.chunk })));
    expect(conserve(r.records, [], join(dir, 'wsgistat', 'spool'), r.stderr + next.stderr)).to.include({ produced: 3, waiting: 3, missing: 0 });
  });
});

describe('the README on the forward output', () => {
  const README = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
  const section = README.split('\n### Fluentd forward\n')[1]!.split('\n## ')[0]!;
  /** flag, key and default of each row, pipes unescaped. */
  const cells = (rows: string[]) => rows.map((r) => r.split(/(?<!\\) \| /).slice(0, 3).map((c) => c.replace(/^\| /, '').replaceAll('\\|', '|')));

  it('lists every forward option with the config key and default it is declared with', () => {
    const table = section.split('| option | config key | default | meaning |\n| --- | --- | --- | --- |\n')[1]!.split('\n\n')[0]!.split('\n');
    const flags = FORWARD_OPTIONS.map((o) => o.flag);
    const declared = optionsTable().split('\n').filter((r) => flags.some((f) => r.startsWith(`| \`${f} `)));
    expect(declared).to.have.length(flags.length);
    const byFlag = (a: string[], b: string[]) => a[0]!.localeCompare(b[0]!);
    expect(cells(table).sort(byFlag)).to.deep.equal(cells(declared).sort(byFlag));
  });

  it('pairs with conf/fluentd-forward.conf: the same command in both', () => {
    const conf = readFileSync(fileURLToPath(new URL('../../../conf/fluentd-forward.conf', import.meta.url)), 'utf8');
    const command = /^#\s+(wsgistat .*)$/m.exec(conf)![1]!;
    expect(section).to.include(`\`\`\`sh\n${command}\n\`\`\``);
  });
});
