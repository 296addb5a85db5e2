// Delivery to a real Fluentd 1.15.3 (spec/helpers/fluentd.ts): what it stored is what wsgistat
// produced, by content; a corrupt spooled line costs itself only (in_http would answer 200 to the
// whole invalid request and drop it, protocols.md §3); runs at once that share one spool while
// Fluentd is down lose nothing once it is back. Every case ends with the conservation check.

import { expect } from 'chai';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonical, conserve } from '../helpers/conservation.js';
import { needsFluentd, startFluentd, type RealFluentd } from '../helpers/fluentd.js';
import { startWsgistat, wsgistat } from '../helpers/run.js';
import { cleanup, freePort, tempDir, until } from '../helpers/servers.js';

type R = Record<string, unknown>;
const FIXTURE = fileURLToPath(new URL('../../../spec/fixtures/uwsgi/busy.json', import.meta.url));
const SOURCE = `file://${FIXTURE}`;

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
