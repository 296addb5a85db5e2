// The man page, the completions and the package, checked against the option declarations they are
// written from and against the tools that read them (groff, bash, zsh, npm); and the README's jq
// lines, run by Debian's jq on real wsgistat output.

import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OPTIONS } from '../lib/config.js';
import { roff } from '../lib/docs/man.js';
import { RECORD_TYPES } from '../lib/records/types.js';
import { FORMATS } from '../lib/sinks/formats.js';
import { SOURCE_KINDS } from '../lib/sources/kinds.js';
import { fakeFluentd } from './helpers/receivers.js';
import { CLI, wsgistat } from './helpers/run.js';
import { cleanup, needs, tempDir } from './helpers/servers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIST = join(ROOT, 'dist');
const read = (rel: string) => readFileSync(join(DIST, rel), 'utf8');
const FIXTURE = join(ROOT, 'spec/fixtures/uwsgi/busy.json');
const FLAGS = OPTIONS.flatMap((o) => [o.short, o.flag].filter((n): n is string => !!n)).sort();

/** Runs a tool without a shell, bounded. */
const run = (cmd: string, args: string[], input?: string) =>
  spawnSync(cmd, args, { encoding: 'utf8', timeout: 20000, maxBuffer: 1 << 24, ...(input !== undefined ? { input } : {}) });

/** The words of a command line as a shell splits it, for single quotes only (what the docs use). */
const words = (line: string) => [...line.matchAll(/'[^']*'|\S+/g)].map((m) => m[0].replace(/^'|'$/g, ''));

describe('man page', () => {
  const page = read('man/wsgistat.1');

  it('has every option, with its argument, doc and default, every address form and every format', () => {
    for (const o of OPTIONS) {
      expect(page, o.flag).to.include(`\\fB${roff(o.flag)}\\fR${o.arg ? ` \\fI${roff(o.arg)}\\fR` : ''}`);
      expect(page, o.flag).to.include(roff(o.doc.slice(1)));
      if (o.default && o.default !== 'off') expect(page, o.flag).to.include(roff(`Default: ${o.default}.`));
      if (o.short) expect(page, o.flag).to.include(`\\fB${roff(o.short)}\\fR, \\fB${roff(o.flag)}\\fR`);
    }
    for (const [forms, doc] of SOURCE_KINDS.flatMap((k) => k.help)) expect(page).to.include(`\\fB${roff(forms)}\\fR\n${roff(doc)}`);
    for (const f of FORMATS) expect(page).to.include(`\\fB${f.name}\\fR\n${roff(f.doc)}`);
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    expect(page.split('\n')[0]).to.equal(`.TH WSGISTAT 1 "" "wsgistat ${version}" "User Commands"`);
  });

  it('renders without a warning, and the rendered OPTIONS section names exactly the declared flags', function () {
    needs(this, 'groff');
    const r = run('groff', ['-man', '-Tascii', '-ww', '-P-cbou', join(DIST, 'man/wsgistat.1')]);
    expect([r.status, r.stderr]).to.deep.equal([0, '']);
    const options = r.stdout.slice(r.stdout.indexOf('\nOPTIONS\n'), r.stdout.indexOf('\nFORMATS\n'));
    const heads = options.split('\n').filter((l) => /^ {7}-/.test(l));
    const named = heads.flatMap((l) => l.trim().split(/,\s*|\s+/).filter((w) => /^-{1,2}[a-zA-Z]/.test(w))).sort();
    expect(named).to.deep.equal(FLAGS);
  });
});

describe('bash completion', () => {
  const file = join(DIST, 'completions/wsgistat.bash');
  /** COMPREPLY for a command line, the last word being completed. */
  const complete = (...line: string[]) => {
    const script = `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _wsgistat; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const r = run('bash', ['-c', script, 'complete', file, ...line]);
    expect([r.status, r.stderr]).to.deep.equal([0, '']);
    return r.stdout.split('\n').filter(Boolean).sort();
  };

  it('is valid bash that registers itself for wsgistat', () => {
    expect(run('bash', ['-n', file]).status).to.equal(0);
    const r = run('bash', ['-c', 'source "$1"; complete -p wsgistat', 'check', file]);
    expect(r.stdout.trim()).to.equal('complete -o nospace -F _wsgistat wsgistat');
  });

  it('completes every declared flag, and only those', () => {
    expect(complete('wsgistat', '-')).to.deep.equal(FLAGS);
    expect(complete('wsgistat', '--st')).to.deep.equal(['--state-file']);
  });

  it('completes the values the declarations know: formats, record types, nothing for a duration', () => {
    expect(complete('wsgistat', '--format', '')).to.deep.equal(FORMATS.map((f) => f.name).sort());
    expect(complete('wsgistat', '-r', '')).to.deep.equal([...RECORD_TYPES, 'all'].sort());
    expect(complete('wsgistat', '--interval', '')).to.deep.equal([]);
    expect(complete('wsgistat', 'gun')).to.deep.equal(['gunicorn://']);
  });

  it('completes the discover command, its flags and its formats', () => {
    expect(complete('wsgistat', 'disc')).to.deep.equal(['discover']);
    expect(complete('wsgistat', 'discover', '-')).to.deep.equal(['--format', '--help', '--proc']);
    expect(complete('wsgistat', 'discover', '--format', '')).to.deep.equal(['json', 'text']);
    expect(complete('wsgistat', 'file:x', 'disc')).to.deep.equal([]);
  });

  it('completes the top command and exactly the flags its --help lists', async () => {
    expect(complete('wsgistat', 'to')).to.deep.equal(['top']);
    const help = (await wsgistat(['top', '--help'])).stdout;
    const listed = [...help.slice(help.indexOf('\nOptions:\n')).matchAll(/^ {2}(-\w)?(?:, )?(--[\w-]+)/gm)].flatMap((m) => [m[1], m[2]]).filter((f): f is string => !!f).sort();
    expect(listed).to.include.members(['--interval', '--help']);
    expect(complete('wsgistat', 'top', '-')).to.deep.equal(listed);
    expect(complete('wsgistat', 'top', '--interval', '')).to.deep.equal([]);
    expect(complete('wsgistat', 'top', 'gun')).to.deep.equal(['gunicorn://']);
  });
});

describe('zsh completion', () => {
  const file = join(DIST, 'completions/_wsgistat');
  const text = read('completions/_wsgistat');

  it('is valid zsh, a #compdef for wsgistat', function () {
    needs(this, 'zsh');
    const r = run('zsh', ['-n', file]);
    expect([r.status, r.stderr]).to.deep.equal([0, '']);
    expect(text.split('\n')[0]).to.equal('#compdef wsgistat');
  });

  it('has one _arguments spec per declared option, with its flags and its doc', () => {
    const specs = text.split('\n').filter((l) => /^ {2}'[(*-]/.test(l) && !l.startsWith("  '*:"));
    const named = specs.flatMap((l) => {
      const both = /^ {2}'[^']*'\{([^}]+)\}'/.exec(l);
      return both ? both[1]!.split(',') : [/^ {2}'\*?(-[^'[]+)'/.exec(l)![1]!];
    }).sort();
    expect(named).to.deep.equal(FLAGS);
    for (const o of OPTIONS) expect(text, o.flag).to.include(o.doc.replaceAll("'", "'\\''").replaceAll('[', '(').replaceAll(']', ')'));
  });
});

describe('the package', () => {
  it('runs from its tarball installed with --omit=dev: fast-json-stringify and got are needed at build time only, and an HTTP output works', async function () {
    this.timeout(240000);
    const bundle = readFileSync(CLI, 'utf8');
    expect(bundle, 'the bundle inlines the serializer').to.not.match(/require\(["']fast-json-stringify/);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    for (const name of ['fast-json-stringify', 'got']) expect(Object.keys(pkg.dependencies), name).to.not.include(name);
    const dir = tempDir();
    try {
      // --ignore-scripts: pack the dist/ these specs run from, without rebuilding it under them.
      const pack = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8', timeout: 60000 });
      expect(pack.status, pack.stderr).to.equal(0);
      const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
      const files = info!.files.map((f) => f.path);
      for (const f of ['dist/bin/wsgistat.cjs', 'dist/bin/got.bundle.cjs', 'dist/bin/got.bundle.LICENSES.txt', 'dist/bin/wsgistat.bundle.LICENSES.txt', 'dist/man/wsgistat.1', 'dist/completions/wsgistat.bash', 'dist/completions/_wsgistat', 'LICENSE', 'README.md', 'package.json']) {
        expect(files, f).to.include(f);
      }
      expect(files.filter((f) => /^dist\/(lib|spec|bench)\//.test(f)), 'no build step, specs or benches').to.deep.equal([]);
      const prefix = join(dir, 'prefix');
      // --omit=optional: abstract-socket would compile a native addon, which this proof does not need.
      const install = spawnSync('npm', ['install', '-g', '--prefix', prefix, '--omit=dev', '--omit=optional', '--prefer-offline', '--no-audit', '--no-fund', join(dir, info!.filename)], {
        encoding: 'utf8', timeout: 200000,
      });
      expect(install.status, install.stderr).to.equal(0);
      const installed = readdirSync(join(prefix, 'lib/node_modules/wsgistat/node_modules'));
      expect(installed).to.include.members(['node-cron']);
      for (const name of ['fast-json-stringify', 'got']) expect(installed, name).to.not.include(name);
      const bin = join(prefix, 'bin/wsgistat');
      const env = { ...process.env, XDG_STATE_HOME: dir };
      const got = spawnSync(bin, ['--no-state', '--hostname', 'h', '--records', 'all', `file:${FIXTURE}`], { encoding: 'utf8', timeout: 20000, env });
      const want = await wsgistat(['--no-state', '--hostname', 'h', '--records', 'all', `file:${FIXTURE}`]);
      expect([got.status, got.stderr]).to.deep.equal([0, '']);
      const untimed = (out: string) => out.split('\n').filter(Boolean).map((l) => ({ ...JSON.parse(l), time: 0 }));
      expect(untimed(got.stdout)).to.deep.equal(untimed(want.stdout));
      expect(untimed(got.stdout).map((r) => r.type)).to.include.members(['summary', 'worker', 'core']);
      expect(existsSync(join(prefix, 'lib/node_modules/wsgistat/dist/man/wsgistat.1'))).to.equal(true);
      // got from its bundle: the records of a run reach an in_http receiver.
      const f = await fakeFluentd();
      try {
        // Not spawnSync: the receiver runs in this process.
        const posted = await wsgistat(['--no-state', '--hostname', 'h', '--output', `${f.url}/pkg.test`, `file:${FIXTURE}`], { env, command: bin });
        expect([posted.code, posted.stderr]).to.deep.equal([0, '']);
        expect(f.stored.map((x) => x.record)).to.deep.equal(untimed(want.stdout).filter((r) => r.type === 'summary' || r.type === 'worker').map(({ time, ...r }) => r));
        expect(f.stored.map((x) => x.tag)).to.deep.equal(f.stored.map(() => 'pkg.test'));
      } finally {
        await f.stop();
      }
    } finally {
      cleanup(dir);
    }
  });
});

describe("the README's jq lines", () => {
  const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const bullet = README.slice(README.indexOf('- **jq**:'));
  const block = bullet.slice(bullet.indexOf('```sh\n') + 6, bullet.indexOf('```', bullet.indexOf('```sh\n') + 6));
  const lines = block.split('\n').map((l) => l.trim()).filter(Boolean);

  type Rec = Record<string, unknown>;
  const workers = (rs: Rec[]) => rs.filter((r) => r.type === 'worker');
  /** What each documented program must print, from the records themselves. */
  const EXPECTED: Record<string, (rs: Rec[]) => string> = {
    "-c select(.type == \"summary\") | {\"label\": .label, workers_busy, listen_queue}": (rs) =>
      rs.filter((r) => r.type === 'summary').map((r) => JSON.stringify({ label: r.label, workers_busy: r.workers_busy, listen_queue: r.listen_queue }) + '\n').join(''),
    '-r select(.type == "worker") | [.["label"], .worker_id, .status] | @tsv': (rs) =>
      workers(rs).map((r) => `${r.label}\t${r.worker_id}\t${r.status}\n`).join(''),
    '-c select(.type == "worker") | {worker_id, delta_requests, requests_delta}': (rs) =>
      workers(rs).map((r) => JSON.stringify({ worker_id: r.worker_id, delta_requests: r.delta_requests, requests_delta: r.requests_delta }) + '\n').join(''),
    '-s map(select(.type == "worker") | .requests_delta) | add': (rs) => `${workers(rs).reduce((n, r) => n + (r.requests_delta as number), 0)}\n`,
  };

  it('are the lines this spec checks', () => {
    expect(lines.map((l) => words(l.slice(l.indexOf('| jq ') + 5)).join(' '))).to.deep.equal(Object.keys(EXPECTED));
  });

  it('print what they say from real output; requests_delta counts the interval, delta_requests does not', async function () {
    needs(this, 'jq');
    const dir = tempDir();
    try {
      const doc = join(dir, 'stats.json');
      writeFileSync(doc, readFileSync(FIXTURE), { mode: 0o600 });
      const state = join(dir, 'jq.json');
      for (const line of lines) {
        const args = words(line.slice(0, line.indexOf(' | jq '))).slice(1)
          .map((a) => (a === '/tmp/jq.json' ? state : a.replace('/run/uwsgi/app.stats', `file:${doc}`)));
        // A sample before, then five more requests for each worker, as the state-file lines need.
        writeFileSync(doc, readFileSync(FIXTURE), { mode: 0o600 });
        await wsgistat(args, { env: { XDG_STATE_HOME: dir } });
        const bumped = JSON.parse(readFileSync(FIXTURE, 'utf8'));
        for (const w of bumped.workers) w.requests += 5;
        writeFileSync(doc, JSON.stringify(bumped), { mode: 0o600 });
        const out = await wsgistat(args, { env: { XDG_STATE_HOME: dir } });
        expect([out.code, out.stderr], line).to.deep.equal([0, '']);
        const program = words(line.slice(line.indexOf('| jq ') + 5));
        const jq = run('jq', program, out.stdout);
        expect([jq.status, jq.stderr], line).to.deep.equal([0, '']);
        expect(jq.stdout, line).to.equal(EXPECTED[program.join(' ')]!(out.records));
        if (args.includes(state)) {
          expect(workers(out.records).map((r) => [r.requests_delta, r.delta_requests]), line).to.deep.equal(
            workers(JSON.parse(readFileSync(FIXTURE, 'utf8')).workers.filter((w: { id: number }) => w.id !== 0).map((w: { delta_requests: number }) => ({ type: 'worker', requests_delta: 5, delta_requests: w.delta_requests }))).map((r) => [r.requests_delta, r.delta_requests]),
          );
        } else {
          expect(workers(out.records).every((r) => r.label === 'web'), line).to.equal(true);
        }
      }
    } finally {
      cleanup(dir);
    }
  });

  it('are needed: the shorthand {label} is a syntax error in jq 1.6', function () {
    needs(this, 'jq');
    const version = run('jq', ['--version']).stdout.trim();
    if (version !== 'jq-1.6') this.skip(); // later jq may accept it; Debian 12's is 1.6
    const r = run('jq', ['-c', '{label}'], '{"label":"web"}\n');
    expect(r.status).to.not.equal(0);
    expect(r.stderr).to.match(/syntax error/);
  });
});
