// Continuous mode as a real process: ticks on the wall clock, each tick's records written at once,
// rates from the second tick, skipped ticks, and a clean stop on SIGTERM.

import { expect } from 'chai';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startWsgistat } from './helpers/run.js';
import { fakeStats, type Fake } from './helpers/fakes.js';
import { cleanup, needs, startUwsgi, tempDir, type Uwsgi } from './helpers/servers.js';

const IDLE = readFileSync(fileURLToPath(new URL('../../spec/fixtures/uwsgi/idle.json', import.meta.url)));
type R = Record<string, any>;

describe('continuous mode', () => {
  let fake: Fake | undefined;
  let u: Uwsgi | undefined;
  let dir: string;
  beforeEach(() => (dir = tempDir()));
  afterEach(async () => {
    await fake?.close();
    await u?.stop();
    fake = u = undefined;
    cleanup(dir);
  });

  it('writes each tick at once, on whole seconds, with rates from the second tick, and exits 0 on SIGTERM', async function () {
    needs(this, 'uwsgi');
    u = await startUwsgi({ workers: 2, threads: 1 });
    const w = startWsgistat(['--interval', '1s', u.stats], { XDG_STATE_HOME: dir });
    const summaries = () => w.lines.map((l) => ({ at: l.at, r: JSON.parse(l.text) as R })).filter((x) => x.r.type === 'summary');
    await w.waitFor('two ticks', () => summaries().length >= 2 && w.lines.length >= 6);
    const code = await w.stop('SIGTERM');
    expect(code).to.equal(0);
    expect(w.stderr()).to.equal('');
    const [t1, t2] = summaries();
    // Each tick arrives whole: its worker lines come with its summary, before the next tick.
    const tick1 = w.lines.filter((l) => JSON.parse(l.text).time === t1!.r.time);
    expect(tick1.map((l) => JSON.parse(l.text).type)).to.deep.equal(['summary', 'worker', 'worker']);
    expect(Math.max(...tick1.map((l) => l.at)) - Math.min(...tick1.map((l) => l.at))).to.be.below(500);
    // On the wall clock: every sample just after a whole second.
    for (const t of [t1!, t2!]) expect(t.r.time % 1).to.be.below(0.5);
    expect(t1!.r).to.not.have.property('rate_interval');
    expect(t2!.r.rate_interval).to.be.closeTo(1, 0.2);
    expect(t2!.r).to.include({ stalled: false });
  });

  it('lets a slow source cost only itself its ticks: the others are written on time, every second', async () => {
    fake = await fakeStats({ kind: 'raw', doc: IDLE, delayMs: 1600 });
    const file = `file://${fileURLToPath(new URL('../../spec/fixtures/uwsgi/idle.json', import.meta.url))}`;
    const w = startWsgistat(['--interval', '1s', '--timeout', '5s', fake.address(), file], { XDG_STATE_HOME: dir });
    const of = (source: string) => w.lines.map((l) => JSON.parse(l.text) as R).filter((r) => r.source === source);
    await w.waitFor('three ticks of the file source', () => of(file).filter((r) => r.type === 'summary').length >= 3);
    const code = await w.stop('SIGTERM');
    expect(code).to.equal(0);
    const times = of(file).filter((r) => r.type === 'summary').map((r) => Math.floor(r.time));
    expect(times.slice(1).map((t, k) => t - times[k]!), 'one file summary every second').to.deep.equal(times.slice(1).map(() => 1));
    // The slow source gets an error record of its own in each of those ticks, never a skipped tick.
    const slow = of(fake.address());
    expect(slow.map((r) => [r.type, r.code])).to.deep.equal(slow.map(() => ['error', 'still_reading']));
    expect(new Set(slow.map((r) => Math.floor(r.time)))).to.deep.equal(new Set(times.filter((t) => slow.some((r) => Math.floor(r.time) === t))));
    expect(slow.length).to.be.at.least(times.length - 1);
    expect(w.stderr()).to.not.match(/skipped the tick/);
    expect(w.stderr().split('\n').filter(Boolean).every((l) => /^wsgistat: error \[source .*\] (not read by the time the next tick was due|its read of .* has not finished)/.test(l)), w.stderr()).to.equal(true);
  });

  it('stops at once on SIGINT between ticks, and keeps its state when given a state file', async () => {
    fake = await fakeStats({ kind: 'raw', doc: IDLE });
    const state = join(dir, 'state', 'continuous.json');
    const w = startWsgistat(['--interval', '1s', '--state-file', state, fake.address()]);
    await w.waitFor('one tick', () => w.lines.length >= 3);
    expect(await w.stop('SIGINT')).to.equal(0);
    expect(statSync(state).mode & 0o777).to.equal(0o600);
    const saved = JSON.parse(readFileSync(state, 'utf8'));
    expect(Object.keys(saved.sources)).to.deep.equal([`=${fake.address()}`]);
  });

  it('samples on a cron expression with seconds', async () => {
    fake = await fakeStats({ kind: 'raw', doc: IDLE });
    const w = startWsgistat(['--cron', '* * * * * *', fake.address()], { XDG_STATE_HOME: dir });
    await w.waitFor('two ticks', () => w.lines.length >= 6);
    expect(await w.stop()).to.equal(0);
    const times = [...new Set(w.lines.map((l) => JSON.parse(l.text).time as number))];
    expect(times[1]! - times[0]!).to.be.closeTo(1, 0.3);
  });

  it('rejects a bad cron expression before reading anything', async () => {
    fake = await fakeStats({ kind: 'raw', doc: IDLE });
    const w = startWsgistat(['--cron', '61 * * * *', fake.address()]);
    const code = await new Promise((r) => w.child.on('close', r));
    expect(code).to.equal(2);
    expect(w.stderr()).to.equal('wsgistat: error [config] --cron: expected a cron expression such as "*/10 * * * * *", got "61 * * * *" (minute: 61 is a invalid expression for minute)\n');
    expect(fake.received).to.deep.equal([]);
  });
});
