// stdout is written by file descriptor (lib/fdout.ts), without process.stdout's set-up. These
// check what that must keep: every record reaches a reader that is slow on a non-blocking pipe
// (the writes meet EAGAIN and go on through the stream), in order; and stderr's lines too.

import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI, wsgistat } from './helpers/run.js';
import { cleanup, needs, tempDir } from './helpers/servers.js';

const FIXTURE = fileURLToPath(new URL('../../spec/fixtures/uwsgi/busy.json', import.meta.url));
const FULL_PIPE = fileURLToPath(new URL('../../spec/fixtures/stdout/full_pipe.py', import.meta.url));
const withoutTime = (text: string) => text.trimEnd().split('\n').map((l) => {
  const { time, ...rest } = JSON.parse(l) as Record<string, unknown>;
  expect(time).to.be.a('number');
  return rest;
});

describe('stdout by file descriptor', () => {
  // 40 copies of a document of 10 records: about 128 KiB, twice a pipe's 64 KiB.
  const dir = tempDir();
  const sources = Array.from({ length: 40 }, (_, i) => {
    copyFileSync(FIXTURE, join(dir, `${i}.json`));
    return `s${i}=file:${join(dir, `${i}.json`)}`;
  });
  after(() => cleanup(dir));

  it('gives a reader that lets a non-blocking pipe fill every record, in order, exit 0', async function () {
    needs(this, '/usr/bin/python3');
    const expected = await wsgistat(['--no-state', '--records', 'all', ...sources]);
    expect([expected.code, expected.stderr]).to.deep.equal([0, '']);
    expect(expected.stdout.length).to.be.above(2 * 65536);
    const r = spawnSync('/usr/bin/python3', [FULL_PIPE, process.execPath, CLI, '--no-state', '--records', 'all', ...sources], { encoding: 'utf8', timeout: 30000, maxBuffer: 1 << 24 });
    expect([r.status, r.stderr]).to.deep.equal([0, 'pipe full: yes\n']);
    expect(withoutTime(r.stdout)).to.deep.equal(withoutTime(expected.stdout));
  });

  it('writes warnings and errors to stderr as whole lines, after which stdout still has every record', async () => {
    const r = await wsgistat(['--no-state', `ok=file:${FIXTURE}`, 'gone=file:/nonexistent/stats.json']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/^wsgistat: error \[source gone=file:\/nonexistent\/stats\.json\] [^\n]+\n$/);
    expect(r.records.map((x) => [x.label, x.type])).to.deep.equal([['ok', 'summary'], ['ok', 'worker'], ['ok', 'worker'], ['gone', 'error']]);
  });
});
