// The gunicorn status file source: the mackerel-plugin-gunicorn format, read without locks.

import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SourceError } from '../../lib/errors.js';
import { parseAddress } from '../../lib/sources/address.js';
import { gunicornSource, readStatusFile } from '../../lib/sources/gunicorn/index.js';
import { shapeGunicorn } from '../../lib/sources/gunicorn/shape.js';
import { createSource } from '../../lib/sources/index.js';
import type { VarsPolicy } from '../../lib/sources/types.js';
import { wsgistat } from '../helpers/run.js';
import { cleanup, tempDir } from '../helpers/servers.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../../spec/fixtures/gunicorn/${name}`, import.meta.url));
const DRIFTED = JSON.parse(readFileSync(fixture('drifted.json'), 'utf8'));
const ALIVE = new Set([101, 102, 103]);
const shape = (vars: VarsPolicy = { kind: 'none' }) =>
  shapeGunicorn(DRIFTED, { records: new Set(['summary', 'worker']), vars, alive: (pid) => ALIVE.has(pid) });

/** A pid that surely belongs to no process: a child that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}

describe('gunicorn status files', () => {
  it('counts busy and idle from the entries of live workers, and keeps the drifting counters apart', () => {
    expect(shape()).to.deep.equal([
      {
        type: 'summary', workers: 3, workers_busy: 1, workers_idle: 1, workers_other: 1, stale_entries: 2,
        requests: 120, file_total_accesses: 120, file_busy_workers: 9, file_idle_workers: -8,
      },
      { type: 'worker', worker_id: 101, pid: 101, status: 'busy', request_method: 'GET', request_path: '/slow' },
      { type: 'worker', worker_id: 102, pid: 102, status: 'idle' },
      { type: 'worker', worker_id: 103, pid: 103, status: 'SIGINT' },
    ]);
  });

  it('gives the query string and Host only when asked, as they can hold secrets', () => {
    expect(JSON.stringify(shape())).to.not.include('SECRET');
    expect(shape({ kind: 'some', names: new Set(['QUERY_STRING', 'HTTP_HOST']) })[1]).to.deep.equal({
      type: 'worker', worker_id: 101, pid: 101, status: 'busy', request_method: 'GET', request_path: '/slow',
      var_QUERY_STRING: 'token=SECRET-T', var_HTTP_HOST: 'shop.example',
    });
  });

  it('rejects JSON that is not a status file', () => {
    expect(() => shapeGunicorn({ workers: [] }, { records: new Set(['summary']), vars: { kind: 'none' }, alive: () => true }))
      .to.throw('not a gunicorn status file').with.property('code', 'not_stats');
  });

  describe('reading without a lock', () => {
    let dir: string;
    beforeEach(() => (dir = tempDir()));
    afterEach(() => cleanup(dir));

    it('never reports the empty or half-written file that a rewriting hook leaves', async () => {
      const path = join(dir, 'status.json');
      writeFileSync(path, JSON.stringify(DRIFTED));
      // Like the hooks: truncate, pause, write; over and over. The pause widens the empty window.
      const writer = spawn(process.execPath, ['-e', `
        const fs = require('fs'); const doc = process.argv[1]; const fd = fs.openSync(process.argv[2], 'r+');
        const pause = new Int32Array(new SharedArrayBuffer(4)); const end = Date.now() + 15000;
        process.stdout.write('ready\\n');
        while (Date.now() < end) { fs.ftruncateSync(fd, 0); Atomics.wait(pause, 0, 0, 2); fs.writeSync(fd, doc, 0); Atomics.wait(pause, 0, 0, 1); }
      `, JSON.stringify(DRIFTED), path], { stdio: ['ignore', 'pipe', 'ignore'] });
      try {
        await new Promise((r) => writer.stdout!.once('data', r));
        let retried = 0;
        for (let i = 0; i < 40; i++) {
          await new Promise((r) => setTimeout(r, 3));
          const { value, tries } = await readStatusFile(path, { timeoutMs: 3000, maxBytes: 1 << 20 }, 'x');
          expect(value).to.deep.equal(DRIFTED);
          if (tries > 1) retried++;
        }
        expect(retried, 'the writer did make the reader read again').to.be.above(0);
      } finally {
        writer.kill('SIGKILL');
      }
    });

    it('calls a file that stays empty empty, saying how often it was read', async () => {
      const e = await readStatusFile(fixture('empty.json'), { timeoutMs: 200, maxBytes: 1 << 20 }, `status file ${fixture('empty.json')}`).catch((x) => x);
      expect(e).to.be.instanceOf(SourceError);
      expect(e.code).to.equal('empty');
      expect(e.message).to.match(/^status file .*empty\.json is empty; still so after \d+ reads in 0\.2s \(the hooks that keep it may be broken/);
    });

    it('calls a file that stays torn truncated', async () => {
      const e = await readStatusFile(fixture('torn.json'), { timeoutMs: 100, maxBytes: 1 << 20 }, 'x').catch((x) => x);
      expect(e.code).to.equal('truncated');
    });

    it('names a missing file', async () => {
      const source = createSource({ address: parseAddress(`gunicorn://${dir}/none.json`), timeoutMs: 100, maxBytes: 1000 }, { records: new Set(['summary']), vars: { kind: 'none' } });
      const e = await source.collect().catch((x) => x);
      expect([e.code, e.message]).to.deep.equal(['not_found', `status file ${dir}/none.json does not exist (is the server running, and is this the path it was given? wsgistat discover lists the servers running here)`]);
    });

    it('checks entries against the pids alive on this host', async () => {
      const path = join(dir, 'status.json');
      const dead = deadPid();
      writeFileSync(path, JSON.stringify({ TotalAccesses: '3', IdleWorkers: '1', BusyWorkers: '1', stats: [
        { pid: process.pid, host: 'h', method: 'GET', uri: '/', status: 'A' },
        { pid: dead, host: 'h', method: 'GET', uri: '/x', status: 'A' },
      ] }));
      const source = gunicornSource({ address: parseAddress(`gunicorn://${path}`), timeoutMs: 1000, maxBytes: 1 << 20 }, { records: new Set(['summary']), vars: { kind: 'none' } });
      const sample = await source.collect();
      expect(sample.server).to.equal('gunicorn');
      expect(sample.bodies[0]).to.include({ workers: 1, workers_busy: 1, stale_entries: 1 });
    });

    it('is recognised in a file:// document too, and gives request rates across one-shot runs', async () => {
      const path = join(dir, 'status.json');
      const write = (total: number) => writeFileSync(path, JSON.stringify({ TotalAccesses: String(total), IdleWorkers: '1', BusyWorkers: '0', stats: [
        { pid: process.pid, host: '', method: '', uri: '', status: '_' },
      ] }));
      const env = { XDG_STATE_HOME: dir };
      write(10);
      const first = await wsgistat([`file://${path}`], { env });
      expect(first.records[0]).to.include({ server: 'gunicorn', type: 'summary', requests: 10, workers_idle: 1 });
      write(25);
      const second = await wsgistat([`gunicorn://${path}`], { env });
      // Another address is another source: no rates yet. The same address twice gives them.
      expect(second.records[0]).to.not.have.property('requests_delta');
      write(31);
      const third = await wsgistat([`gunicorn://${path}`], { env });
      expect(third.records[0]).to.include({ server: 'gunicorn', requests: 31, requests_delta: 6 });
      expect(third.code).to.equal(0);
    });
  });
});
