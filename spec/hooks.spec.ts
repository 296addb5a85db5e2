// The gunicorn hooks' own unit tests (spec/hooks/test_gunicorn_wsgistat.py), run with the Debian
// python3 that gunicorn uses, and the layout and bucket rule the hooks and wsgistat's reader must
// share, checked against each other.

import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { W, HEADER_WORDS, BUCKETS, SLOT_WORDS, MAGIC } from '../lib/sources/gunicorn/record.js';
import { bucketOf } from '../lib/records/latency.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PYTHON = '/usr/bin/python3';

function needPython(ctx: Mocha.Context): void {
  const ok = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import gunicorn'], { encoding: 'utf8' }).status === 0;
  if (ok) return;
  if (process.env.CI) throw new Error(`${PYTHON} with gunicorn is not installed, and CI must run the hooks' tests (.ci/run installs gunicorn)`);
  ctx.skip();
}

const py = (code: string) => {
  const r = spawnSync(PYTHON, ['-c', `import sys, json; sys.path.insert(0, "conf"); import gunicorn_wsgistat as h\n${code}`], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
};

describe('the gunicorn hooks (Python)', function () {
  this.timeout(20000);

  it('pass their own unit tests under the python3 gunicorn runs on', function () {
    needPython(this);
    const r = spawnSync(PYTHON, ['-m', 'unittest', '-v', 'spec/hooks/test_gunicorn_wsgistat.py'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stderr, r.stderr).to.match(/\nOK\n?$/);
    expect(r.status).to.equal(0);
    expect(r.stderr.match(/ \.\.\. ok$/gm)?.length).to.be.at.least(14);
  });

  it('share the record layout with the reader', function () {
    needPython(this);
    const layout = py(`print(json.dumps({"magic": h.MAGIC.to_bytes(8, "little").decode(), "header": h.HEADER_WORDS, "buckets": h.BUCKETS, "slot": h.SLOT_WORDS,
      "w": {"version": h.W_VERSION, "seq": h.W_SEQ, "ident": h.W_IDENT, "pid": h.W_PID, "master": h.W_MASTER, "bootedUs": h.W_BOOTED_US, "slots": h.W_SLOTS,
            "buckets": h.W_BUCKETS, "flags": h.W_FLAGS, "timeUs": h.W_TIME_US, "exceptions": h.W_EXCEPTIONS, "status": h.W_STATUS,
            "statusOther": h.W_STATUS_OTHER, "inFlight": h.W_IN_FLIGHT, "taken": h.W_TAKEN, "settled": h.W_SETTLED, "conns": h.W_CONNS, "aborted": h.W_ABORTED}}))`);
    expect(layout).to.deep.equal({ magic: MAGIC.toString('latin1'), header: HEADER_WORDS, buckets: BUCKETS, slot: SLOT_WORDS, w: { ...W } });
  });

  it('put a request time in the bucket the reader assumes, at every bucket edge', function () {
    needPython(this);
    const times: number[] = [0, 1, 15, 16, 1e3, 1e6, 6e7, 1e12];
    for (let k = 1; k < BUCKETS; k++) {
      const lower = 2 ** ((k + 19) / 5);
      times.push(lower * 0.999999, lower * 1.000001, Math.floor(lower), Math.ceil(lower));
    }
    const theirs = py(`print(json.dumps([h.bucket_of(t) for t in ${JSON.stringify(times)}]))`);
    expect(theirs).to.deep.equal(times.map(bucketOf));
  });
});
