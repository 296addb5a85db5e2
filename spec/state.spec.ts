import { expect } from 'chai';
import { chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultStatePath, loadStates, saveStates } from '../lib/state.js';
import type { RateState } from '../lib/records/rates.js';
import { cleanup, tempDir } from './helpers/servers.js';

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

