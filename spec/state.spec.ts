import { expect } from 'chai';
import fc from 'fast-check';
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { defaultStatePath, loadStates, saveStates, stateProblem } from '../lib/state.js';
import { applyRates, type RateState } from '../lib/records/rates.js';
import { CLI, wsgistat } from './helpers/run.js';
import { cleanup, tempDir } from './helpers/servers.js';

/** Runs a command with extra environment; stdout and stderr, whole. Bounded: killed after 20 s. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const STATE: RateState = { time: 1000, pid: 7, listen_queue: 0, workers: { 1: { pid: 8, respawn_count: 1, c: { requests: 3 } } } };

describe('the state file', () => {
  let dir: string;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => cleanup(dir));

  it('round-trips, written owner-only in an owner-only directory', () => {
    const path = join(dir, 'sub', 'state.json');
    saveStates(path, 'h', new Map([['a=/s', STATE]]));
    expect(statSync(path).mode & 0o777).to.equal(0o600);
    expect(statSync(join(dir, 'sub')).mode & 0o777).to.equal(0o700);
    expect(loadStates(path, 'h')).to.deep.equal({ states: new Map([['a=/s', STATE]]) });
  });

  it('says nothing when there is no file yet', () => {
    expect(loadStates(join(dir, 'none.json'), 'h')).to.deep.equal({ states: new Map() });
  });

  it('ignores a corrupt file with a notice', () => {
    const path = join(dir, 'state.json');
    writeFileSync(path, '{"format":"wsgistat-st');
    expect(loadStates(path, 'h')).to.deep.equal({ states: new Map(), notice: `state file ${path} is corrupt (22 bytes of invalid JSON); ignored, no rates this time` });
  });

  it('ignores a foreign file: another format, or another host', () => {
    const path = join(dir, 'state.json');
    writeFileSync(path, JSON.stringify({ some: 'thing' }));
    expect(loadStates(path, 'h').notice).to.equal(`state file ${path} is not a wsgistat-state/1 file; ignored, no rates this time`);
    saveStates(path, 'other', new Map([['a=/s', STATE]]));
    expect(loadStates(path, 'h')).to.deep.equal({ states: new Map(), notice: `state file ${path} belongs to host "other", not "h"; ignored` });
  });

  it('drops entries that are not states, keeping the rest', () => {
    const path = join(dir, 'state.json');
    writeFileSync(path, JSON.stringify({ format: 'wsgistat-state/1', hostname: 'h', sources: { good: STATE, bad: { time: 'x' } } }));
    expect(loadStates(path, 'h').states).to.deep.equal(new Map([['good', STATE]]));
  });

  it('costs a malformed worker entry that source only: set aside owner-only with why, the rest kept', () => {
    const path = join(dir, 'state.json');
    writeFileSync(path, JSON.stringify({ format: 'wsgistat-state/1', hostname: 'h', sources: { good: STATE, bad: { ...STATE, workers: { 1: null } } } }));
    expect(loadStates(path, 'h')).to.deep.equal({
      states: new Map([['good', STATE]]),
      notice: `state file ${path}: the entry of "bad" is malformed; set aside in ${path}.rejected, no rates for it this time`,
    });
    const rejected = JSON.parse(readFileSync(`${path}.rejected`, 'utf8').trim());
    expect(rejected).to.deep.include({ source: 'bad', reason: 'worker "1" is malformed', entry: { ...STATE, workers: { 1: null } } });
    expect(statSync(`${path}.rejected`).mode & 0o777).to.equal(0o600);
  });

  it('never lets a damaged entry through to the rates (property: any JSON as an entry)', () => {
    const path = join(dir, 'state.json');
    const worker = { type: 'worker' as const, worker_id: 1, pid: 8, respawn_count: 1, requests: 5 };
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.record({ time: fc.jsonValue(), workers: fc.dictionary(fc.string(), fc.jsonValue()) })), (entry) => {
        writeFileSync(path, JSON.stringify({ format: 'wsgistat-state/1', hostname: 'h', sources: { s: entry } }));
        const { states } = loadStates(path, 'h');
        const prev = states.get('s');
        if (prev) expect(stateProblem(prev)).to.equal(undefined);
        applyRates([{ type: 'summary' as const, pid: 7 }, { ...worker }], 2000, prev, 600000); // never throws
      }),
      { numRuns: 300 },
    );
  });

  it('reads no state file through a symlink, and replaces the link (not its target) when writing', () => {
    const target = join(dir, 'victim');
    writeFileSync(target, 'theirs');
    const path = join(dir, 'state.json');
    symlinkSync(target, path);
    expect(loadStates(path, 'h').notice).to.equal(`cannot read state file ${path} (it is a symlink); no rates this time`);
    saveStates(path, 'h', new Map([['a', STATE]]));
    expect(readFileSync(target, 'utf8')).to.equal('theirs');
    expect(loadStates(path, 'h').states).to.deep.equal(new Map([['a', STATE]]));
  });

  it('refuses a state directory that others may write, and the run still prints its records', async () => {
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const busy = fileURLToPath(new URL('../../spec/fixtures/uwsgi/busy.json', import.meta.url));
    const r = await wsgistat(['--state-file', join(open, 'state.json'), `file://${busy}`]);
    expect(r.records.map((x) => x.type)).to.deep.equal(['summary', 'worker', 'worker']);
    expect(r.stderr).to.equal(`wsgistat: warning cannot lock state file ${join(open, 'state.json')}: refusing ${open}: others may write to it (mode 777); chmod go-w it; no rates this time\n`);
    expect(r.code).to.equal(0);
  });

  it('lets one-shot runs at once take turns: the change between two samples is counted once', async () => {
    // Ground truth: between the first run and the eight at once, the workers served 10 + 20
    // requests more. Runs that read the state file before another wrote it would each count them.
    const busy = JSON.parse(readFileSync(fileURLToPath(new URL('../../spec/fixtures/uwsgi/busy.json', import.meta.url)), 'utf8'));
    const doc = join(dir, 'doc.json');
    writeFileSync(doc, JSON.stringify(busy));
    const args = ['--state-file', join(dir, 'st', 'state.json'), `file://${doc}`];
    expect((await wsgistat(args)).code).to.equal(0);
    busy.workers[0].requests += 10;
    busy.workers[1].requests += 20;
    writeFileSync(doc, JSON.stringify(busy));
    const runs = await Promise.all(Array.from({ length: 8 }, () => wsgistat(args)));
    expect(runs.map((r) => r.code)).to.deep.equal(Array(8).fill(0));
    const deltas = runs.flatMap((r) => r.records.filter((x) => x.type === 'summary').map((x) => (x.requests_delta as number | undefined) ?? 0));
    expect(deltas.reduce((a, b) => a + b, 0)).to.equal(30);
    expect(runs.every((r) => r.records.every((x) => x.host === hostname()))).to.equal(true);
  });

  it('keeps a person\'s runs apart from the scheduled job\'s: a run with a terminal never takes the job\'s deltas', async () => {
    // Ground truth: the job samples, the workers serve 5 requests, a person runs wsgistat by hand
    // (a controlling terminal: python's pty), they serve 10 more, the job samples again: 15 are due.
    // setsid -w runs the job as td-agent, systemd and cron do: without a controlling terminal.
    const busy = JSON.parse(readFileSync(fileURLToPath(new URL('../../spec/fixtures/uwsgi/busy.json', import.meta.url)), 'utf8'));
    const doc = join(dir, 'doc.json');
    const write = () => writeFileSync(doc, JSON.stringify(busy));
    const env = { XDG_STATE_HOME: join(dir, 'xdg') };
    const job = async () => {
      const r = await run('setsid', ['-w', process.execPath, CLI, `file://${doc}`], env);
      expect(r.code, r.stderr).to.equal(0);
      return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((x) => x.type === 'summary')!;
    };
    const byHand = () => run('/usr/bin/python3', ['-c', 'import pty, sys; sys.exit(pty.spawn(sys.argv[1:]) >> 8)', process.execPath, CLI, `file://${doc}`], env);
    write();
    expect((await job()).requests_delta).to.equal(undefined);
    busy.workers[0].requests += 5;
    write();
    const manual = await byHand();
    expect(manual.code, manual.stderr).to.equal(0);
    expect(manual.stdout).to.include('"type":"summary"').and.not.include('requests_delta');
    busy.workers[1].requests += 10;
    write();
    expect((await job()).requests_delta).to.equal(15);
    const files = readdirSync(join(dir, 'xdg', 'wsgistat')).filter((f) => f.startsWith('state-'));
    expect(files, 'one state file for the job, one for the person').to.have.length(2);
  });

  it('is never torn by many writers at once', async () => {
    const path = join(dir, 'state.json');
    const writers = Array.from({ length: 50 }, (_, i) => Promise.resolve().then(() => saveStates(path, 'h', new Map([[`k${i}`, { ...STATE, time: i }]]))));
    await Promise.all(writers);
    const file = JSON.parse(readFileSync(path, 'utf8'));
    expect(Object.keys(file.sources)).to.have.length(1);
  });

  it('defaults to one file per user, per set of sources and per kind of job', () => {
    const env = { HOME: '/home/u' };
    const a = defaultStatePath(['=/run/a.stats', 'x=/run/b.stats'], undefined, env);
    expect(a).to.match(/^\/home\/u\/\.local\/state\/wsgistat\/state-[0-9a-f]{16}\.json$/);
    expect(defaultStatePath(['x=/run/b.stats', '=/run/a.stats'], undefined, env)).to.equal(a);
    expect(defaultStatePath(['=/run/a.stats'], undefined, env)).to.not.equal(a);
    expect(defaultStatePath(['=/run/a.stats', 'x=/run/b.stats'], 'mackerel', env), 'a mackerel job beside a JSON job').to.not.equal(a);
    expect(defaultStatePath(['=/run/a.stats'], undefined, { XDG_STATE_HOME: '/var/lib/x', HOME: '/home/u' })).to.match(/^\/var\/lib\/x\/wsgistat\//);
  });

  it('refuses a state directory that belongs to someone else', function () {
    if (process.getuid?.() !== 0) this.skip(); // only root can make a directory for another user here
    const other = join(dir, 'other');
    mkdirSync(other, { mode: 0o700 });
    chownSync(other, 65534, 65534); // nobody
    expect(() => saveStates(join(other, 'state.json'), 'h', new Map())).to.throw(`refusing ${other}: it belongs to uid 65534, not to this user (uid 0)`);
  });
});

