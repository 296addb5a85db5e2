// The installed command: a launcher that compiles the bundle with the V8 code cache the build made
// (lib/build/launcher.ts). A cache that is missing, damaged or from another build must cost only
// speed: the output is the same.

import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { routeImports } from '../lib/build/launcher.js';
import { cleanup, tempDir } from './helpers/servers.js';

const BIN = fileURLToPath(new URL('../bin', import.meta.url));
const BUSY = fileURLToPath(new URL('../../spec/fixtures/uwsgi/busy.json', import.meta.url));

/** Runs the launcher in `dir` as the shell would, and reports whether V8 took the cache. */
function run(dir: string) {
  const launcher = join(dir, 'wsgistat.cjs');
  const probe = `const load = require(${JSON.stringify(launcher)});
process.argv = [process.argv[0], ${JSON.stringify(launcher)}, '--no-state', '--records', 'all', ${JSON.stringify('file://' + BUSY)}];
const s = load(require('node:fs').existsSync(process.env.CACHE) ? require('node:fs').readFileSync(process.env.CACHE) : undefined);
process.on('exit', () => process.stderr.write('rejected=' + s.cachedDataRejected + '\\n'));`;
  const cache = readdirSync(dir).find((f) => f.endsWith('.v8cache'));
  const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', env: { ...process.env, CACHE: cache ? join(dir, cache) : '' } });
  const plain = spawnSync(process.execPath, [launcher, '--no-state', '--records', 'all', `file://${BUSY}`], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, plain };
}

/** The records without their sampling time, which differs between runs. */
const timeless = (out: string) => out.trimEnd().split('\n').map((l) => { const r = JSON.parse(l); delete r.time; return r; });

describe('the installed launcher and its code cache', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
    for (const f of readdirSync(BIN)) copyFileSync(join(BIN, f), join(dir, f));
  });
  afterEach(() => cleanup(dir));

  it('the build wrote a cache for this bundle that V8 accepts, and the run prints every record', () => {
    expect(readdirSync(dir).filter((f) => f.endsWith('.v8cache'))).to.have.length(1);
    const r = run(dir);
    expect(r.status).to.equal(0);
    expect(r.stderr).to.equal('rejected=false\n');
    expect(timeless(r.stdout).map((x) => x.type)).to.deep.equal(['summary', 'worker', 'worker', 'core', 'core', 'core', 'core', 'app', 'app', 'socket']);
    expect(r.plain.status).to.equal(0);
    expect(r.plain.stderr).to.equal('');
    expect(timeless(r.plain.stdout)).to.deep.equal(timeless(r.stdout));
  });

  it('a damaged cache is rejected by V8 and the output is the same, with nothing on stderr', () => {
    const good = run(dir);
    const cache = readdirSync(dir).find((f) => f.endsWith('.v8cache'))!;
    writeFileSync(join(dir, cache), Buffer.alloc(4096, 0x5a));
    const r = run(dir);
    expect(r.stderr).to.equal('rejected=true\n');
    expect(r.plain.status).to.equal(0);
    expect(r.plain.stderr).to.equal('');
    expect(timeless(r.plain.stdout)).to.deep.equal(timeless(good.stdout));
  });

  it('a missing cache costs only speed: same output, exit 0, nothing on stderr', () => {
    const good = run(dir);
    for (const f of readdirSync(dir)) if (f.endsWith('.v8cache')) rmSync(join(dir, f));
    const r = run(dir);
    expect(r.plain.status).to.equal(0);
    expect(r.plain.stderr).to.equal('');
    expect(timeless(r.plain.stdout)).to.deep.equal(timeless(good.stdout));
  });

  it('the build routes every await import( through the launcher and refuses any other import(', () => {
    expect(routeImports('const a = await import("got"); const b = await import(x);')).to.equal('const a = await __wsgistat_import("got"); const b = await __wsgistat_import(x);');
    expect(() => routeImports('const p = import("got");')).to.throw(/an import\( the launcher cannot route/);
    expect(() => routeImports('x.then(() => import("y"))')).to.throw(/cannot route/);
  });
});
