// The forward output's secrets (shared_key, password) against a real Fluentd 1.15.3 with <security>
// and a <user>: given as env:NAME or file:PATH they work, and their values are nowhere wsgistat
// writes: not in --check, not on stderr of a refused run, not in the records or error records on
// stdout, not in any file under its state directory (the spool, its batches, the lock, the state
// file). Given as is, on the command line, in the config file or in the URL, they are refused
// before anything runs, in one line that does not repeat them.

import { expect } from 'chai';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { conserve } from '../helpers/conservation.js';
import { needsFluentd, startForwardFluentd, type RealFluentd } from '../helpers/fluentd.js';
import { wsgistat, type Run } from '../helpers/run.js';
import { cleanup, tempDir, until } from '../helpers/servers.js';

const FIXTURE = fileURLToPath(new URL('../../../spec/fixtures/uwsgi/busy.json', import.meta.url));
// Values that occur nowhere else, so that finding one anywhere is a leak.
const KEY = 'sk-7c1e0b5d-the-shared-key';
const WRONG_KEY = 'sk-93fa22c4-a-wrong-key';
const PASSWORD = 'pw-5b8d61aa-the-password';
const WRONG_PASSWORD = 'pw-0e47c9f3-a-wrong-password';
const SECRETS = [KEY, WRONG_KEY, PASSWORD, WRONG_PASSWORD];

/** Every file under `dir`, with its text. */
function filesUnder(dir: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push({ path: p, text: readFileSync(p, 'latin1') });
  }
  return out;
}

/** Where a secret shows: "stderr", "stdout", or a file's path; [] when nowhere. */
function leaks(run: Run, stateDir: string): string[] {
  const places = [{ path: 'stdout', text: run.stdout }, { path: 'stderr', text: run.stderr }, ...filesUnder(stateDir)];
  return places.flatMap((p) => SECRETS.filter((s) => p.text.includes(s)).map((s) => `${s} in ${p.path}`));
}

describe('the forward output\'s secrets', function () {
  this.timeout(60000);
  let dir: string;
  let state: string;
  let f: RealFluentd;
  beforeEach(async function () {
    needsFluentd(this);
    dir = tempDir();
    state = tempDir();
    f = await startForwardFluentd({ security: { sharedKey: KEY, users: [{ username: 'ws', password: PASSWORD }] } });
  });
  afterEach(async () => {
    await f?.dispose();
    cleanup(dir);
    cleanup(state);
  });
  /** A new file each time: a run must read the value it was given. */
  let files = 0;
  const secretFile = (name: string, value: string) => {
    const p = join(dir, `${name}-${++files}`);
    writeFileSync(p, `${value}\n`, { mode: 0o600 });
    return p;
  };
  const run = (args: string[], env: NodeJS.ProcessEnv) => wsgistat(args, { env: { XDG_STATE_HOME: state, ...env } });
  const spool = () => join(state, 'wsgistat', 'spool');

  for (const form of ['key from a file, password from the environment', 'key from the environment, password from a file'] as const) {
    it(`shows neither value anywhere, refused or delivered (${form})`, async () => {
      const url = `forward://127.0.0.1:${f.port}/t`;
      const keyFirst = form.startsWith('key from a file');
      const secretArgs = (key: string, password: string) => keyFirst
        ? { args: ['--shared-key', `file:${secretFile('key', key)}`, '--forward-username', 'ws', '--forward-password', 'env:FWD_PASSWORD'], env: { FWD_PASSWORD: password } }
        : { args: ['--shared-key', 'env:FWD_KEY', '--forward-username', 'ws', '--forward-password', `file:${secretFile('password', password)}`], env: { FWD_KEY: key } };
      // A source that fails as well: its error record goes to stdout and to the output.
      const sources = [`file://${FIXTURE}`, `file://${join(dir, 'missing.json')}`];
      const right = secretArgs(KEY, PASSWORD);

      const check = await run(['--check', '-o', url, ...right.args, ...sources], right.env);
      expect(check.code, check.stderr).to.equal(0);
      const described = JSON.parse(check.stdout).outputs[0];
      expect([described.shared_key, described.password]).to.deep.equal(keyFirst
        ? [`from file ${right.args[1]!.slice(5)}`, 'from environment variable FWD_PASSWORD']
        : ['from environment variable FWD_KEY', `from file ${right.args.at(-1)!.slice(5)}`]);
      expect(leaks(check, state)).to.deep.equal([]);

      for (const [key, password, reason] of [[WRONG_KEY, PASSWORD, 'shared_key mismatch'], [KEY, WRONG_PASSWORD, 'username/password mismatch']] as const) {
        const wrong = secretArgs(key, password);
        const refused = await run(['-o', 'stdout', '-o', url, ...wrong.args, '--retry-for', '300ms', ...sources], wrong.env);
        expect(refused.code).to.equal(1);
        expect(refused.stderr, refused.stderr).to.include(`server 127.0.0.1:${f.port} refused the handshake: ${reason}`);
        expect(refused.records.map((r) => r.type)).to.deep.equal(['summary', 'worker', 'worker', 'error']);
        expect(readdirSync(spool()).length, 'the records wait in a spool').to.equal(1);
        expect(leaks(refused, state)).to.deep.equal([]);
      }
      expect(f.stored()).to.deep.equal([]);

      const delivered = await run(['-o', 'stdout', '-o', url, ...right.args, ...sources], right.env);
      expect(delivered.code, delivered.stderr).to.equal(1); // the missing source
      expect(delivered.stderr, delivered.stderr).to.not.include('refused');
      await until('Fluentd to store the three runs', () => (f.stored().length >= 12 ? true : undefined));
      expect(leaks(delivered, state)).to.deep.equal([]);
      expect(f.stored().filter((s) => SECRETS.some((x) => s.raw.includes(x)))).to.deep.equal([]);
      expect(conserve(delivered.records, f.stored().map((s) => s.record), spool(), delivered.stderr)).to.include({ waiting: 0, deadLettered: 0 });
    });
  }
});

describe('a forward secret given as is', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => cleanup(dir));
  const config = (output: object) => {
    const p = join(dir, 'wsgistat.json');
    writeFileSync(p, JSON.stringify({ sources: [`file://${FIXTURE}`], outputs: [output] }), { mode: 0o600 });
    return p;
  };
  const url = 'forward://127.0.0.1:24224/t';

  const cases: [string, () => string[], RegExp][] = [
    ['--shared-key VALUE', () => ['-o', url, '--shared-key', KEY, FIXTURE], /^wsgistat: error \[config\] --shared-key: expected the shared key as env:VARIABLE or file:PATH \(never as is: .*\), got "\(a value without env: or file:\)"\n$/],
    ['--forward-password VALUE', () => ['-o', url, '--shared-key', 'env:K', '--forward-username', 'ws', '--forward-password', PASSWORD, FIXTURE], /^wsgistat: error \[config\] --forward-password: expected the password as env:VARIABLE or file:PATH \(never as is: .*\)/],
    ['"shared_key" in the config file', () => ['-c', config({ url, shared_key: KEY })], /^wsgistat: error \[config\] config file .*: "outputs"\[0\]\.shared_key: expected the shared key as env:VARIABLE or file:PATH/],
    ['"password" in the config file', () => ['-c', config({ url, shared_key: 'env:K', username: 'ws', password: PASSWORD })], /^wsgistat: error \[config\] config file .*: "outputs"\[0\]\.password: expected the password as env:VARIABLE or file:PATH/],
    ['user:password in the URL', () => ['-o', `forward://ws:${PASSWORD}@127.0.0.1:24224/t`, FIXTURE], /^wsgistat: error \[config\] --output: a forward:\/\/ URL takes no credentials \(user:password@\): give "username", and "password" as env:VARIABLE or file:PATH, per output\n$/],
  ];
  for (const [what, args, message] of cases) {
    it(`refuses ${what} before anything runs, in one line that does not repeat it`, async () => {
      const state = join(dir, 'state');
      const r = await wsgistat(args(), { env: { XDG_STATE_HOME: state, K: KEY } });
      expect([r.code, r.stdout]).to.deep.equal([2, '']);
      expect(r.stderr).to.match(message);
      expect(r.stderr.split('\n')).to.have.length(2);
      expect(SECRETS.filter((s) => r.stderr.includes(s))).to.deep.equal([]);
      expect(readdirSync(dir)).to.not.include('state'); // nothing read, nothing spooled
    });
  }
});
