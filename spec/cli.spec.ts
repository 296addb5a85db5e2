// The command as users run it: exit statuses, stdout as data only, one line per problem on stderr.

import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { CLI, wsgistat } from './helpers/run.js';
import { OPTIONS } from '../lib/config.js';
import { fakeStats } from './helpers/fakes.js';
import { cleanup, tempDir } from './helpers/servers.js';

const BUSY = fileURLToPath(new URL('../../spec/fixtures/uwsgi/busy.json', import.meta.url));
const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8'));

describe('the wsgistat command', () => {
  it('prints the records of a saved document as JSON lines, common fields first, and exits 0', async () => {
    const run = await wsgistat([`file://${BUSY}`]);
    expect(run.code).to.equal(0);
    expect(run.stderr).to.equal('');
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).to.have.length(3);
    const time = run.records[0]!.time as number;
    expect(lines[0]).to.equal(
      `{"time":${time},"host":"${hostname()}","source":"file://${BUSY}","server":"uwsgi","type":"summary","version":"2.0.21-debian",` +
      '"pid":4191,"uid":0,"gid":0,"cwd":"/tmp/wsgistat-spec-RLOzUM","listen_queue":0,"listen_queue_errors":0,"signal_queue":0,"load":0,' +
      '"workers":2,"workers_busy":2,"workers_idle":0,"workers_cheap":0,"workers_pause":0,"workers_other":0,"workers_accepting":2,' +
      '"requests":3,"exceptions":0,"harakiri_count":0,"signals":0,"tx":144,"rss":22728704,"vsz":273039360,"running_time":400,"respawn_count":2,' +
      '"cores":4,"cores_busy":3,"sockets":1,"sockets_queue":0,"sockets_max_queue":0}');
    expect(run.records.map((r) => [r.type, r.worker_id, r.time])).to.deep.equal([['summary', undefined, time], ['worker', 1, time], ['worker', 2, time]]);
  });

  it('prints every record type with --records all, and no request variables', async () => {
    const run = await wsgistat(['--records', 'all', `file://${BUSY}`]);
    expect(run.records.map((r) => r.type)).to.deep.equal(['summary', 'worker', 'worker', 'core', 'core', 'core', 'core', 'app', 'app', 'socket']);
    expect(run.stdout).to.not.include('SECRET');
  });

  it('fails a missing source with exit 1, one stderr line, and an error record on stdout', async () => {
    const run = await wsgistat(['app=unix:///nonexistent/x.sock']);
    expect(run.code).to.equal(1);
    expect(run.stderr).to.equal('wsgistat: error [source app=unix:///nonexistent/x.sock] unix socket /nonexistent/x.sock does not exist (is the server running, and is this the path it was given? wsgistat discover lists the servers running here)\n');
    expect(run.records).to.deep.equal([{
      time: run.records[0]!.time, host: hostname(), source: 'unix:///nonexistent/x.sock', label: 'app', server: 'uwsgi', type: 'error',
      code: 'not_found', message: 'unix socket /nonexistent/x.sock does not exist (is the server running, and is this the path it was given? wsgistat discover lists the servers running here)',
    }]);
  });

  it('prints no error record with --no-error-records, but still says why on stderr', async () => {
    const run = await wsgistat(['--no-error-records', '/nonexistent/x.sock']);
    expect([run.code, run.stdout]).to.deep.equal([1, '']);
    expect(run.stderr.split('\n')).to.have.length(2);
  });

  it('never prints a stack trace for an expected failure', async () => {
    const fake = await fakeStats({ kind: 'raw', doc: '{"version":"2.0.21","workers":[{"id":1,' });
    try {
      const run = await wsgistat([fake.address(), 'file:///nonexistent.json', '127.0.0.1:1']);
      expect(run.code).to.equal(1);
      expect(run.stderr).to.not.match(/\n\s+at /);
      expect(run.stderr.trimEnd().split('\n').map((l) => l.replace(/\].*/, ']'))).to.deep.equal([
        `wsgistat: error [source ${fake.address()}]`,
        'wsgistat: error [source file:///nonexistent.json]',
        'wsgistat: error [source 127.0.0.1:1]',
      ]);
      expect(run.records.map((r) => r.code)).to.deep.equal(['truncated', 'not_found', 'connection_refused']);
    } finally {
      await fake.close();
    }
  });

  it('exits 2 on a usage error, before reading any source, with nothing on stdout', async () => {
    const fake = await fakeStats({ kind: 'raw', doc: '{}' });
    try {
      const run = await wsgistat([fake.address(), '--records', 'nope']);
      expect([run.code, run.stdout]).to.deep.equal([2, '']);
      expect(run.stderr).to.equal('wsgistat: error [config] --records: expected a list of record types (summary, worker, core, app, socket, emperor, vassal, metric, all), got "nope"\n');
      expect(fake.received, 'no source was read').to.deep.equal([]);
    } finally {
      await fake.close();
    }
  });

  it('exits 2 when no source is given', async () => {
    const run = await wsgistat([]);
    expect(run.code).to.equal(2);
    expect(run.stderr).to.equal('wsgistat: error [config] no source given, e.g. wsgistat unix:///run/uwsgi/app.stats (see wsgistat --help)\n');
  });

  it('prints help that lists every option, and the version', async () => {
    const help = await wsgistat(['--help']);
    expect(help.code).to.equal(0);
    for (const o of OPTIONS) expect(help.stdout, o.flag).to.include(o.flag);
    expect(help.stdout).to.include('Examples:');
    const v = await wsgistat(['-V']);
    expect(v.stdout).to.equal(`wsgistat ${pkg.version}\n`);
  });

  it('prints the resolved configuration with --check and reads nothing', async () => {
    const run = await wsgistat(['--check', '--timeout', '1s', '--state-file', '/var/lib/w/state.json', 'a=@stats', 'http://[::1]:1717']);
    expect(run.code).to.equal(0);
    expect(JSON.parse(run.stdout)).to.deep.equal({
      sources: [
        { address: '@stats', label: 'a', endpoint: { kind: 'unix', abstract: 'stats' }, mode: 'raw', timeout_ms: 1000, max_bytes: 16777216 },
        { address: 'http://[::1]:1717', endpoint: { kind: 'tcp', host: '::1', port: 1717 }, mode: 'http', timeout_ms: 1000, max_bytes: 16777216 },
      ],
      records: ['summary', 'worker'], vars: 'none', error_records: true, hostname: hostname(),
      schedule: 'once', state_file: '/var/lib/w/state.json', max_gap_ms: 600000, format: 'json', outputs: ['stdout'],
    });
  });

  it('exits quietly when its reader goes away early (wsgistat | head -1)', async () => {
    // Enough output to overflow a pipe, so that writing hits the closed reader: 120 sources (each
    // its own file: the same source twice is refused).
    const dir = tempDir();
    const sources = Array.from({ length: 120 }, (_, i) => {
      copyFileSync(BUSY, join(dir, `${i}.json`));
      return `s${i}=file://${join(dir, `${i}.json`)}`;
    });
    const child = spawn(process.execPath, [CLI, '--no-state', '--records', 'all', ...sources], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const first = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())));
    child.stdout.destroy();
    const code = await new Promise((resolve) => child.on('close', resolve));
    cleanup(dir);
    expect(first).to.match(/^\{"time":/);
    expect(stderr).to.equal('');
    expect(code).to.equal(0);
  });
});
