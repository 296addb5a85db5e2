// `wsgistat top` in a real terminal: tmux, on a private server of its own, runs a shell and in it
// the built command against real uWSGI and gunicorn started here under known traffic. The spec
// reads the screen as a person would (capture-pane), presses keys (send-keys) and resizes the
// window; every wait polls the screen, bounded, for what should appear.

import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, wsgistat } from './helpers/run.js';
import { onKey, type Settings } from '../lib/top/keys.js';
import { KEYS, render } from '../lib/top/render.js';
import type { ServerView, WorkerRow } from '../lib/top/view.js';
import { APP, cleanup, freePort, get, have, needs, startGunicorn, startUwsgi, tempDir, until, type Gunicorn, type Uwsgi } from './helpers/servers.js';

const SOCKET = `wsgistat-spec-${process.pid}`;
const PROMPT = 'spec$ ';

function tmux(...args: string[]): string {
  const r = spawnSync('tmux', ['-L', SOCKET, '-f', '/dev/null', ...args], { encoding: 'utf8', timeout: 10000 });
  if (r.status !== 0) throw new Error(`tmux ${args[0]}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** One tmux session running a shell, in a window of the given size. */
class Term {
  static count = 0;
  readonly name = `t${Term.count++}`;
  constructor(cols = 80, rows = 24) {
    const sh = `env PS1='${PROMPT}' sh`;
    tmux('new-session', '-d', '-s', this.name, '-x', String(cols), '-y', String(rows), sh);
  }
  screen(escapes = false): string {
    return tmux('capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', this.name);
  }
  lines(): string[] {
    return this.screen().split('\n');
  }
  format(f: string): string {
    return tmux('display-message', '-p', '-t', this.name, f).trim();
  }
  type(text: string): void {
    tmux('send-keys', '-t', this.name, '-l', text);
    tmux('send-keys', '-t', this.name, 'Enter');
  }
  keys(...keys: string[]): void {
    tmux('send-keys', '-t', this.name, ...keys);
  }
  resize(cols: number, rows: number): void {
    tmux('resize-window', '-t', this.name, '-x', String(cols), '-y', String(rows));
  }
  /** Runs `wsgistat top ARGS` at the prompt (colour allowed unless env says otherwise). */
  top(args: string[], env = 'env -u NO_COLOR'): void {
    this.type(`${env} ${process.execPath} ${CLI} top ${args.join(' ')}`);
  }
  /** Polls the screen until `check` returns a value (at most `ms`). */
  waitFor<T>(what: string, check: (screen: string) => T | undefined | false, ms = 15000): Promise<T> {
    let last = '';
    return until(what, () => {
      last = this.screen();
      return check(last) || undefined;
    }, ms).catch((e: Error) => {
      throw new Error(`${e.message}; the screen:\n${last}`);
    });
  }
  /** From now on, everything written to the terminal is appended to `file` (tmux pipe-pane). */
  record(file: string): void {
    tmux('pipe-pane', '-o', '-t', this.name, `cat >> '${file}'`);
  }
  /** The pid of the command the shell runs now. */
  child(): number {
    const out = spawnSync('ps', ['-o', 'pid=', '--ppid', this.format('#{pane_pid}')], { encoding: 'utf8' }).stdout.trim();
    return Number(out.split('\n')[0]);
  }
}

interface Row { id: number; pid: number; status: string; busy: string; rps: number | undefined; requests: number; rss: string }

/** The worker rows of the server block whose title starts with `title`. */
function rowsOf(screen: string, title: string): Row[] | undefined {
  const lines = screen.split('\n');
  const start = lines.findIndex((l) => l.replace(' STALLED  ', '').startsWith(title));
  if (start < 0) return undefined;
  const rows: Row[] = [];
  for (const l of lines.slice(start + 1)) {
    if (l.trim() === '') break;
    // WID PID STATUS ..., or PID STATUS ... where the worker ids are the pids (gunicorn).
    const m = /^\s*(\d+)\s+(?:(\d+)\s)?(idle|busy|STUCK \w+|\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)/.exec(l);
    if (m) rows.push({ id: +m[1]!, pid: +(m[2] ?? m[1]!), status: m[3]!, busy: m[4]!, rps: m[5] === '-' ? undefined : +m[5]!, requests: +m[7]!, rss: m[10]! });
  }
  return rows;
}

/** The screen with wrapped lines (continued with two spaces) joined again. */
const unwrapped = (screen: string) => screen.replace(/\n {2}(?=\S)/g, ' ');
const total = (rows: Row[]) => rows.reduce((n, r) => n + r.requests, 0);
const rssBytes = (s: string) => parseFloat(s) * 1024 ** ' BKMG'.indexOf(s.slice(-1)) / 1024;
/** uWSGI's own count of requests served (the stats document, read by the spec). */
const served = async (u: Uwsgi) => (JSON.parse((await u.raw()).toString()).workers as { requests: number }[]).reduce((n, w) => n + w.requests, 0);

/** A uWSGI Emperor (--emperor-stats) with vassals a and b, each with 2 workers and a stats server. */
async function startEmperor(): Promise<{ stats: string; pids: () => Promise<number[]>; ports: number[]; stop: () => Promise<void> }> {
  const dir = tempDir();
  mkdirSync(join(dir, 'vassals'));
  const ports = [await freePort(), await freePort()];
  ['a', 'b'].forEach((v, i) => writeFileSync(join(dir, 'vassals', `${v}.ini`), [
    '[uwsgi]', 'plugin = python3', 'master = true', 'processes = 2', 'need-app = true',
    `http-socket = 127.0.0.1:${ports[i]}`, `wsgi-file = ${APP}`, `stats = ${join(dir, `${v}.stats`)}`, '',
  ].join('\n')));
  const proc = spawn('uwsgi', ['--emperor', join(dir, 'vassals'), '--emperor-stats', join(dir, 'emperor.stats')], { cwd: dir, stdio: 'ignore' });
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGINT'); // the Emperor stops its vassals and exits (SIGTERM reloads them)
      const t = setTimeout(() => proc.kill('SIGKILL'), 8000);
      await exited;
      clearTimeout(t);
    }
    cleanup(dir);
  };
  await until('the vassals to serve', async () => {
    for (const p of ports) if ((await get(p, '/', {}, 2000)) !== 200) return undefined;
    return ['emperor', 'a', 'b'].every((n) => existsSync(join(dir, `${n}.stats`))) || undefined;
  }, 20000).catch(async (e) => {
    await stop();
    throw e;
  });
  const pids = async () => (await wsgistat(['--no-state', '--records', 'vassal', `unix://${join(dir, 'emperor.stats')}`])).records.map((r) => r.pid as number);
  return { stats: `unix://${join(dir, 'emperor.stats')}`, pids, ports, stop };
}

describe('wsgistat top, in a real terminal (tmux)', function () {
  this.timeout(90000);
  const stops: (() => Promise<void>)[] = [];
  before(function () {
    needs(this, 'tmux');
    needs(this, 'uwsgi');
  });
  afterEach(async () => {
    await Promise.all(stops.splice(0).map((f) => f()));
  });
  after(() => {
    if (have('tmux')) spawnSync('tmux', ['-L', SOCKET, 'kill-server'], { stdio: 'ignore' });
    // tmux leaves the socket file of a server it killed.
    rmSync(join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${process.getuid!()}`, SOCKET), { force: true });
  });
  const uwsgi = async (opts: Parameters<typeof startUwsgi>[0]) => {
    const u = await startUwsgi(opts);
    stops.push(() => u.stop());
    return u;
  };
  const gunicorn = async (ctx: Mocha.Context, opts: Parameters<typeof startGunicorn>[0]) => {
    needs(ctx, 'gunicorn');
    const g: Gunicorn = await startGunicorn(opts);
    stops.push(() => g.stop());
    return g;
  };

  it('shows a row per uWSGI worker whose requests add up to what the server served, and moves by the requests sent', async () => {
    const u = await uwsgi({ workers: 3, threads: 1 });
    const t = new Term();
    t.top([u.stats]);
    const before = await served(u);
    const first = await t.waitFor('the uWSGI rows', (s) => rowsOf(s, u.stats)?.length === 3 && rowsOf(s, u.stats));
    const pids = (JSON.parse((await u.raw()).toString()).workers as { id: number; pid: number }[]).map((w) => [w.id, w.pid]);
    expect(first.map((r) => [r.id, r.pid])).to.deep.equal(pids);
    expect(first.map((r) => r.status)).to.deep.equal(['idle', 'idle', 'idle']);
    expect(total(first)).to.equal(before);
    expect(t.screen()).to.match(/uwsgi 2\.\d+\.\d+\S* pid \d+/).and.include('workers 3: 0 busy, 3 idle').and.include('listen queue 0');
    for (let i = 0; i < 12; i++) await u.get('/');
    const moved = await t.waitFor('12 more requests', (s) => { const r = rowsOf(s, u.stats); return r && total(r) === before + 12 && r; });
    expect(total(moved)).to.equal(await served(u));
    // The interval that held them shows them as a rate (they all came within one or two ticks).
    await t.waitFor('a request rate', (s) => /req\/s [1-9]/.test(s));
    t.keys('q');
    await t.waitFor('the prompt', (s) => s.trimEnd().endsWith(PROMPT.trim()));
  });

  it('sorts by requests/s, busy time, rss and id', async () => {
    const u = await uwsgi({ workers: 2, threads: 1 });
    const t = new Term();
    t.top([u.stats]);
    await t.waitFor('the rows', (s) => rowsOf(s, u.stats)?.length === 2);
    const held = u.hold();
    const busy = await until('a busy worker', async () => (JSON.parse((await u.raw()).toString()).workers as { pid: number; status: string }[]).find((w) => w.status === 'busy'));
    t.keys('b');
    const byBusy = await t.waitFor('sorted by busy time', (s) => s.includes('sorted by busy time') && rowsOf(s, u.stats)?.[0]?.status === 'busy' && rowsOf(s, u.stats));
    expect(byBusy[0]!.pid).to.equal(busy.pid);
    expect(byBusy[0]!.busy).to.match(/^\d+(ms|(\.\d+)?s)$/);
    expect(byBusy[1]!.busy).to.equal('-');
    // The other worker serves these: it leads by requests/s in the interval that holds them.
    t.keys('r');
    for (let i = 0; i < 10; i++) await u.get('/');
    const byRps = await t.waitFor('sorted by req/s', (s) => s.includes('sorted by req/s') && (rowsOf(s, u.stats)?.[0]?.rps ?? 0) > 0 && rowsOf(s, u.stats));
    expect(byRps[0]!.pid).to.not.equal(busy.pid);
    expect(byRps[0]!.rps).to.be.above(byRps[1]!.rps ?? 0);
    t.keys('m');
    const byRss = await t.waitFor('sorted by rss', (s) => s.includes('sorted by rss') && rowsOf(s, u.stats));
    expect(rssBytes(byRss[0]!.rss)).to.be.at.least(rssBytes(byRss[1]!.rss));
    t.keys('i');
    const byId = await t.waitFor('sorted by id', (s) => s.includes('sorted by id') && rowsOf(s, u.stats));
    expect(byId.map((r) => r.id)).to.deep.equal([1, 2]);
    u.release();
    expect(await held).to.equal(200);
    t.keys('q');
  });

  it('shows STALLED loudly while every worker is stopped and connections wait, and not after', async () => {
    const u = await uwsgi({ workers: 2, threads: 1 });
    const t = new Term();
    t.top([u.stats]);
    await t.waitFor('the rows', (s) => rowsOf(s, u.stats)?.length === 2);
    const pids = (JSON.parse((await u.raw()).toString()).workers as { pid: number }[]).map((w) => w.pid);
    pids.forEach((p) => process.kill(p, 'SIGSTOP'));
    let waiting: Promise<number[]> | undefined;
    try {
      waiting = Promise.all([1, 2, 3].map(() => get(u.httpPort, '/')));
      const s = await t.waitFor('the STALLED banner', (s) => s.includes(` STALLED  ${u.stats}`) && s);
      expect(unwrapped(s)).to.include('STALLED: 3 connections wait in the listen queue, no worker is busy, nothing moved').and.include('listen queue 3/');
      expect(rowsOf(s, u.stats)!.map((r) => r.status)).to.deep.equal(['STUCK stopped', 'STUCK stopped']);
    } finally {
      pids.forEach((p) => process.kill(p, 'SIGCONT'));
    }
    expect(await waiting).to.deep.equal([200, 200, 200]);
    await t.waitFor('the banner gone', (s) => !s.includes('STALLED') && rowsOf(s, u.stats)?.every((r) => r.status === 'idle'));
    t.keys('q');
  });

  it('shows gunicorn (hooks) per worker with its percentiles, and a failing source its error in its place while the others go on', async function () {
    const g = await gunicorn(this, { workers: 2 });
    const u = await uwsgi({ workers: 1, threads: 1 });
    const missing = `unix://${u.dir}/no-such.stats`;
    const t = new Term();
    const rec = tempDir();
    stops.push(async () => cleanup(rec));
    const written = join(rec, 'terminal.out');
    t.record(written);
    t.top([g.status, missing, u.stats]);
    const title = `${g.status}  gunicorn pid ${g.proc.pid}`;
    const first = await t.waitFor('the gunicorn rows', (s) => rowsOf(s, title)?.length === 2 && rowsOf(s, title));
    expect(first.map((r) => r.pid).sort()).to.deep.equal(g.workerPids().sort());
    expect(unwrapped(t.screen())).to.include(`${missing} ✗ not_found: unix socket ${u.dir}/no-such.stats does not exist`);
    expect(rowsOf(t.screen(), u.stats)).to.have.length(1);
    // Known latency: /slow?ms=60 sleeps 60 ms, so every figure of the interval is at least that.
    for (let i = 0; i < 6; i++) await g.get('/slow?ms=60');
    const s = await t.waitFor('the percentiles', (s) => /p50\/p90\/p99 \d/.test(s) && s);
    const ms = (text: string) => parseFloat(text) * (text.endsWith('ms') ? 1 : 1000);
    const [p50, p90, p99] = /p50\/p90\/p99 (\S+) \/ (\S+) \/ (\S+)/.exec(s)!.slice(1).map(ms);
    const mean = ms(/mean (\S+)/.exec(s.slice(s.indexOf(title)))![1]!);
    expect([mean, p50, p90, p99].every((x) => x! >= 55), `mean ${mean} p50 ${p50} p90 ${p90} p99 ${p99}`).to.equal(true);
    await t.waitFor('6 more requests', (s) => total(rowsOf(s, title) ?? []) === total(first) + 6);
    // The server goes away: its error takes its place, and the other two are still drawn.
    await u.stop();
    await t.waitFor('the stopped server\'s error', (s) => unwrapped(s).includes(`${u.stats} ✗ not_found`) && rowsOf(s, title)?.length === 2);
    t.keys('q');
    await t.waitFor('the prompt', (s) => s.trimEnd().endsWith(PROMPT.trim()));
    // The errors' stderr lines (one a tick) never reached the terminal, where they would have
    // scrolled the screen: they are shown in place instead.
    const out = readFileSync(written, 'utf8');
    expect(out).to.include(`✗ not_found: unix socket ${u.dir}/no-such.stats`);
    expect(out).to.not.include('wsgistat: error');
  });

  it('redraws on resize: fits 80x24 with "+N more", and uses a larger window', async () => {
    const u = await uwsgi({ workers: 8, threads: 2 });
    const t = new Term(80, 24);
    t.top([u.stats]);
    t.keys('c'); // each worker's cores: 3 lines a worker, more than 24 rows hold
    const small = await t.waitFor('+N more workers', (s) => /\+(\d+) more workers/.test(s) && s);
    const shown = rowsOf(small, u.stats)!.length;
    expect(small).to.include(`+${8 - shown} more workers`);
    expect(small.split('\n').every((l) => l.length <= 80)).to.equal(true);
    expect(small).to.not.include('CORES');
    t.resize(120, 40);
    const big = await t.waitFor('every worker', (s) => rowsOf(s, u.stats)?.length === 8 && s);
    expect(big).to.include('CORES').and.not.include('more workers');
    expect(big.replace(/\n$/, '').split('\n')).to.have.length(40);
    t.resize(80, 24);
    await t.waitFor('the small layout again', (s) => s.includes('more workers') && !s.includes('CORES'));
    t.keys('q');
  });

  it('changes the interval with +, - and d', async () => {
    const u = await uwsgi({ workers: 1, threads: 1 });
    const t = new Term();
    t.top(['--interval', '2s', u.stats]);
    await t.waitFor('every 2s', (s) => s.includes('every 2s ·'));
    t.keys('+');
    await t.waitFor('every 5s', (s) => s.includes('every 5s ·'));
    t.keys('-', '-', '-');
    await t.waitFor('every 500ms', (s) => s.includes('every 500ms ·'));
    t.keys('d', '3', 'Enter');
    await t.waitFor('every 3s', (s) => s.includes('every 3s ·'));
    t.keys('q');
  });

  it('puts the terminal back on q, Ctrl-C and SIGTERM: the screen before top, the cursor, the exit status', async () => {
    const u = await uwsgi({ workers: 1, threads: 1 });
    const t = new Term();
    t.type('echo before-top');
    await t.waitFor('the echo', (s) => s.includes('\nbefore-top\n'));
    const quits: [string, () => void, number][] = [
      ['q', () => t.keys('q'), 0],
      ['Ctrl-C', () => t.keys('C-c'), 0],
      ['SIGTERM', () => process.kill(t.child(), 'SIGTERM'), 143],
    ];
    for (const [how, quit, code] of quits) {
      t.top([u.stats]);
      await t.waitFor('top', (s) => rowsOf(s, u.stats)?.length === 1);
      expect(t.format('#{alternate_on} #{cursor_flag}'), `${how}: alternate screen, no cursor`).to.equal('1 0');
      quit();
      await t.waitFor(`${how}: the shell again`, (s) => !s.includes('wsgistat top') && s.trimEnd().endsWith(PROMPT.trim()));
      expect(t.format('#{alternate_on} #{cursor_flag}'), `${how}: normal screen, cursor`).to.equal('0 1');
      t.type('echo "exit=$?"');
      await t.waitFor(`${how}: exit status`, (s) => s.includes(`\nexit=${code}\n`));
      expect(t.screen()).to.include('\nbefore-top\n');
    }
  });

  it("puts the terminal back on a crash, and the error stays on the shell's screen", async () => {
    // top's own code has no way to crash on purpose, so a program opens top's terminal
    // (lib/top/terminal.ts, as top does) and then throws from a timer, as a bug in a tick would.
    const dir = tempDir();
    try {
      const script = join(dir, 'crash.mjs');
      const terminal = new URL('../lib/top/terminal.js', import.meta.url).href;
      writeFileSync(script, `import { openTerminal } from ${JSON.stringify(terminal)};
const t = openTerminal(() => {});
t.draw(['crash-spec-screen']);
setTimeout(() => { throw new Error('crash-spec-error'); }, 300);
`);
      const t = new Term();
      t.type(`${process.execPath} ${script}`);
      await t.waitFor('the program on the alternate screen', (s) => s.startsWith('crash-spec-screen'));
      expect(t.format('#{alternate_on} #{cursor_flag}')).to.equal('1 0');
      await t.waitFor('the shell again', (s) => s.includes('Error: crash-spec-error') && s.trimEnd().endsWith(PROMPT.trim()));
      expect(t.format('#{alternate_on} #{cursor_flag}')).to.equal('0 1');
      // Raw mode is off again: what is typed is echoed and run by the shell.
      t.type('echo "exit=$?"');
      await t.waitFor('the exit status', (s) => s.includes('\nexit=1\n'));
    } finally {
      cleanup(dir);
    }
  });

  it('has no colour under NO_COLOR, and colour otherwise', async () => {
    const u = await uwsgi({ workers: 1, threads: 1 });
    const t = new Term();
    t.top([u.stats], 'env NO_COLOR=1');
    await t.waitFor('top', (s) => rowsOf(s, u.stats)?.length === 1);
    expect(t.screen(true)).to.not.include('\x1b[');
    t.keys('q');
    await t.waitFor('the prompt', (s) => !s.includes('wsgistat top'));
    t.top([u.stats]);
    await t.waitFor('top', (s) => rowsOf(s, u.stats)?.length === 1);
    expect(t.screen(true)).to.include('\x1b[');
    t.keys('q');
  });

  it('shows an Emperor\'s vassals each as a server of its own, with the requests each was sent', async () => {
    const e = await startEmperor();
    stops.push(e.stop);
    const t = new Term(100, 30);
    t.top([e.stats]);
    const [a, b] = [`${e.stats} vassal a.ini`, `${e.stats} vassal b.ini`];
    const first = await t.waitFor('both vassals', (s) => s.includes(`${e.stats}  uwsgi Emperor`) && rowsOf(s, a)?.length === 2 && rowsOf(s, b)?.length === 2 && [rowsOf(s, a)!, rowsOf(s, b)!]);
    for (let i = 0; i < 4; i++) await get(e.ports[0]!, '/');
    for (let i = 0; i < 9; i++) await get(e.ports[1]!, '/');
    await t.waitFor('4 and 9 more requests', (s) => total(rowsOf(s, a) ?? []) === total(first[0]) + 4 && total(rowsOf(s, b) ?? []) === total(first[1]) + 9);
    const pids = await e.pids();
    expect(unwrapped(t.screen())).to.match(new RegExp(`vassal a\\.ini  uwsgi \\S+ pid ${pids[0]}`)).and.match(new RegExp(`vassal b\\.ini  uwsgi \\S+ pid ${pids[1]}`));
    t.keys('q');
  });

  it('with no source, watches what discovery finds: a server started later appears, and goes when it stops', async () => {
    const t = new Term(160, 120);
    t.top([]);
    await t.waitFor('the first frame', (s) => s.includes('wsgistat top'));
    const u = await startUwsgi({ workers: 2, threads: 1 });
    const title = `uwsgi pid ${u.proc.pid} ${u.stats}`;
    try {
      await t.waitFor('the new server', (s) => rowsOf(s, title)?.length === 2, 20000);
    } finally {
      await u.stop();
    }
    await t.waitFor('the server gone', (s) => !s.includes(`uwsgi pid ${u.proc.pid} `), 20000);
    t.keys('q');
  });

  it('says in one line that it needs a terminal, and exits 2, when stdout is not one', async () => {
    const run = await wsgistat(['top', 'unix:///run/none.stats']);
    expect(run.code).to.equal(2);
    expect(run.stdout).to.equal('');
    expect(run.stderr).to.equal('wsgistat: error [config] top: needs a terminal on stdin and stdout (stdout is not one); for records, run wsgistat --interval 1s SOURCE... instead\n');
  });
});



describe('the top screen, at every size', () => {
  const worker = (id: number): WorkerRow => ({ id, pid: 1000 + id, status: id % 3 ? 'idle' : 'busy', busyMs: id % 3 ? undefined : 1500, rps: id, meanRtUs: 2500, requests: 100 * id, exceptions: 0, respawns: 1, rss: 11 << 20, cores: [{ id: 0, requests: 50 * id }, { id: 1, busyMs: id % 3 ? undefined : 1500, requests: 50 * id }] });
  const server = (n: number, workers: number): ServerView => ({
    key: `=unix:///run/app${n}.stats`, name: `unix:///run/app${n}.stats`, server: 'uwsgi', version: '2.0.21', pid: n, stalled: n === 2,
    workers: { total: workers, busy: 1, idle: workers - 1, stuck: 0 }, listenQueue: 0, queueMax: 100, rps: 12, meanRtUs: 2500, eps: 0, rateInterval: 1,
    rows: Array.from({ length: workers }, (_, i) => worker(i + 1)),
  });
  const views = [server(1, 10), server(2, 4), server(3, 10)];

  it('has exactly the terminal\'s rows, none wider than its columns, the keys last, and counts every worker it leaves out', () => {
    for (const cores of [false, true]) {
      for (let cols = 20; cols <= 200; cols += 9) {
        for (let rows = 3; rows <= 70; rows += 1) {
          const lines = render(views, { sort: 'rps', cores, intervalMs: 1000 }, { cols, rows, colour: false });
          const at = `${cols}x${rows} cores ${cores}`;
          expect(lines, at).to.have.length(rows);
          expect(lines.filter((l) => l.length > cols), at).to.deep.equal([]);
          expect(lines[rows - 1], at).to.equal(KEYS.padEnd(cols).slice(0, cols));
          const screen = lines.join('\n');
          const shownServers = views.filter((v) => screen.includes(v.name.slice(0, cols - 10)));
          const more = /\+(\d+) more servers?/.exec(screen);
          if (cols >= 60) expect(shownServers.length + Number(more?.[1] ?? 0), at).to.equal(views.length);
          if (cols < 80) continue;
          // Each shown server: its rows on screen and its "+N more workers" add up to its workers.
          const blocks = screen.split('\n\n');
          for (const v of shownServers) {
            const block = blocks.find((b) => b.includes(v.name) || b.includes(` STALLED  ${v.name}`));
            if (!block || !block.includes('WID')) continue;
            const rowsShown = block.split('\n').filter((l) => /^\s+\d+\s+10\d\d /.test(l)).length;
            const hidden = Number(/\+(\d+) more workers?/.exec(block)?.[1] ?? 0);
            if (rowsShown + hidden > 0) expect(rowsShown + hidden, `${at} ${v.name}`).to.equal(v.rows.length);
          }
        }
      }
    }
  });

  it('sorts the rows by requests/s, largest first', () => {
    const lines = render([server(1, 5)], { sort: 'rps', cores: false, intervalMs: 1000 }, { cols: 80, rows: 24, colour: false });
    expect(lines.filter((l) => /^\s+\d+\s+10\d\d /.test(l)).map((l) => Number(l.trim().split(/\s+/)[0]))).to.deep.equal([5, 4, 3, 2, 1]);
  });
});

describe('the top keys', () => {
  const start: Settings = { sort: 'id', cores: false, intervalMs: 1000 };
  /** Presses keys in turn: a character, or a named key (escape, backspace, return). */
  const press = (s: Settings, ...keys: string[]) => keys.reduce<{ s: Settings; said: string[]; quit: boolean }>((acc, k) => {
    if (acc.quit) return acc;
    const named = ['escape', 'backspace', 'return'].includes(k);
    const a = onKey(acc.s, named ? undefined : k, named ? { name: k } : { name: k, sequence: k });
    return 'quit' in a ? { ...acc, quit: true } : { s: a.set, said: a.say ? [...acc.said, a.say] : acc.said, quit: false };
  }, { s, said: [], quit: false });

  it('sorts, shows cores, steps the interval, and quits', () => {
    expect(press(start, 'r').s.sort).to.equal('rps');
    expect(press(start, 'b', 'm').s.sort).to.equal('rss');
    expect(press(start, 'r', 'i').s.sort).to.equal('id');
    expect(press(start, 'c').s.cores).to.equal(true);
    expect(press(start, 'c', 'c').s.cores).to.equal(false);
    expect(press(start, '+', '+').s.intervalMs).to.equal(5000);
    expect(press({ ...start, intervalMs: 1500 }, '-').s.intervalMs).to.equal(1000);
    expect(press(start, '-', '-', '-').s.intervalMs).to.equal(200);
    expect(press({ ...start, intervalMs: 60_000 }, '+', '+').s.intervalMs).to.equal(3_600_000);
    expect(press(start, 'q').quit).to.equal(true);
    expect(onKey(start, undefined, { name: 'c', ctrl: true })).to.deep.equal({ quit: true });
  });

  it('takes an interval typed after d, and keeps the old one on Esc or on something that is not a number', () => {
    expect(press(start, 'd', '2', '.', '5', 'return')).to.deep.equal({ s: { ...start, intervalMs: 2500, prompt: undefined }, said: [], quit: false });
    expect(press(start, 'd', '7', 'x', 'backspace', '3', 'return').s.intervalMs).to.equal(3000);
    expect(press(start, 'd', '5', 'escape').s).to.deep.equal({ ...start, prompt: undefined });
    expect(press(start, 'd', 'return')).to.deep.equal({ s: { ...start, prompt: undefined }, said: ['not a number of seconds: ""'], quit: false });
    expect(press(start, 'd', '0', 'return').said).to.deep.equal(['not a number of seconds: "0"']);
    expect(press(start, 'd', '.', '0', '1', 'return').s.intervalMs).to.equal(200);
    // q while typing is not quit
    expect(press(start, 'd', 'q').quit).to.equal(false);
  });

  it('says what the keys are when one is not', () => {
    expect(press(start, 'z').said).to.deep.equal(['no key "z": q quits, + - d set the interval, r b m i sort, c shows cores']);
  });
});
