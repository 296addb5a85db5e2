// The pure mapping, from documents captured from real uWSGI 2.0.21 (spec/fixtures/uwsgi) to whole
// expected records. The expected values were read off the fixtures by hand.

import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeJson } from '../../../lib/sources/json.js';
import { shapeUwsgi } from '../../../lib/sources/uwsgi/shape.js';
import type { VarsPolicy } from '../../../lib/sources/types.js';
import { unwrap } from '../../../lib/sources/uwsgi/transport.js';
import { RECORD_TYPES, type RecordType } from '../../../lib/records/types.js';

const doc = (name: string): any => decodeJson(readFileSync(fileURLToPath(new URL(`../../../../spec/fixtures/uwsgi/${name}`, import.meta.url))), name).value;
const shape = (d: unknown, records: RecordType[] = [...RECORD_TYPES], vars: VarsPolicy = { kind: 'none' }) =>
  shapeUwsgi(d, { records: new Set(records), vars });

const idleCore = { static_requests: 0, routed_requests: 0, offloaded_requests: 0, write_errors: 0, read_errors: 0 };
const app0 = { type: 'app', app_id: 0, modifier1: 0, mountpoint: '', startup_time: 0, exceptions: 0, chdir: '' };

describe('uWSGI records from captured documents', () => {
  it('shapes a busy server (2 workers x 2 threads, 3 requests in flight) into every record type', () => {
    expect(shape(doc('busy.json'))).to.deep.equal([
      {
        type: 'summary', version: '2.0.21-debian', pid: 4191, uid: 0, gid: 0, cwd: '/tmp/wsgistat-spec-RLOzUM',
        listen_queue: 0, listen_queue_errors: 0, signal_queue: 0, load: 0,
        workers: 2, workers_busy: 2, workers_idle: 0, workers_cheap: 0, workers_pause: 0, workers_other: 0, workers_accepting: 2,
        requests: 3, exceptions: 0, harakiri_count: 0, signals: 0, tx: 144, rss: 22728704, vsz: 273039360, running_time: 400, respawn_count: 2,
        cores: 4, cores_busy: 3, sockets: 1, sockets_queue: 0, sockets_max_queue: 0,
      },
      {
        type: 'worker', worker_id: 1, pid: 4192, accepting: 1, requests: 1, delta_requests: 1, exceptions: 0, harakiri_count: 0,
        signals: 0, signal_queue: 0, status: 'busy', rss: 11313152, vsz: 136519680, running_time: 147, last_spawn: 1795298952,
        respawn_count: 1, tx: 48, avg_rt: 73, cores: 2, cores_busy: 1, apps: 1,
      },
      {
        type: 'worker', worker_id: 2, pid: 4193, accepting: 1, requests: 2, delta_requests: 2, exceptions: 0, harakiri_count: 0,
        signals: 0, signal_queue: 0, status: 'busy', rss: 11415552, vsz: 136519680, running_time: 253, last_spawn: 1795298952,
        respawn_count: 1, tx: 96, avg_rt: 85, cores: 2, cores_busy: 2, apps: 1,
      },
      { type: 'core', worker_id: 1, core_id: 0, requests: 1, ...idleCore, in_request: 0 },
      { type: 'core', worker_id: 1, core_id: 1, requests: 0, ...idleCore, in_request: 1, request_start: 1795298952 },
      { type: 'core', worker_id: 2, core_id: 0, requests: 1, ...idleCore, in_request: 1, request_start: 1795298952 },
      { type: 'core', worker_id: 2, core_id: 1, requests: 1, ...idleCore, in_request: 1, request_start: 1795298952 },
      { ...app0, worker_id: 1, requests: 2 },
      { ...app0, worker_id: 2, requests: 4 },
      { type: 'socket', name: '127.0.0.1:43159', proto: 'http', queue: 0, max_queue: 0, shared: 0, can_offload: 0 },
    ]);
  });

  it('prints only summary and worker records by default selection', () => {
    expect(shape(doc('idle.json'), ['summary', 'worker']).map((r) => r.type)).to.deep.equal(['summary', 'worker', 'worker']);
  });

  it('counts an idle server with an exception behind it', () => {
    const [summary, w1, w2] = shape(doc('idle.json'), ['summary', 'worker']);
    expect(summary).to.deep.equal({
      type: 'summary', version: '2.0.21-debian', pid: 4186, uid: 0, gid: 0, cwd: '/tmp/wsgistat-spec-9Q7npU',
      listen_queue: 0, listen_queue_errors: 0, signal_queue: 0, load: 0,
      workers: 2, workers_busy: 0, workers_idle: 2, workers_cheap: 0, workers_pause: 0, workers_other: 0, workers_accepting: 2,
      requests: 5, exceptions: 1, harakiri_count: 0, signals: 0, tx: 192, rss: 0, vsz: 0, running_time: 674, respawn_count: 2,
      cores: 4, cores_busy: 0, sockets: 1, sockets_queue: 0, sockets_max_queue: 0,
    });
    expect(w1).to.include({ worker_id: 1, status: 'idle', requests: 2, exceptions: 0, cores: 2, cores_busy: 0 });
    expect(w2).to.include({ worker_id: 2, status: 'idle', requests: 3, exceptions: 1, cores: 2, cores_busy: 0 });
  });

  it('keeps per-slot counters across respawns (harakiri, then SIGKILL)', () => {
    expect(shape(doc('respawned.json'), ['summary', 'worker'])).to.deep.equal([
      {
        type: 'summary', version: '2.0.21-debian', pid: 4201, uid: 0, gid: 0, cwd: '/tmp/wsgistat-spec-1Rpmv7',
        listen_queue: 0, listen_queue_errors: 0, signal_queue: 0, load: 0,
        workers: 1, workers_busy: 0, workers_idle: 1, workers_cheap: 0, workers_pause: 0, workers_other: 0, workers_accepting: 1,
        requests: 5, exceptions: 0, harakiri_count: 1, signals: 0, tx: 240, rss: 0, vsz: 0, running_time: 636, respawn_count: 3,
        cores: 1, cores_busy: 0, sockets: 1, sockets_queue: 0, sockets_max_queue: 100,
      },
      {
        type: 'worker', worker_id: 1, pid: 4204, accepting: 1, requests: 5, delta_requests: 1, exceptions: 0, harakiri_count: 1,
        signals: 0, signal_queue: 0, status: 'idle', rss: 0, vsz: 0, running_time: 636, last_spawn: 1795298958,
        respawn_count: 3, tx: 240, avg_rt: 131, cores: 1, cores_busy: 0, apps: 1,
      },
    ]);
  });

  it('gives one app record per mounted app, with its mountpoint', () => {
    expect(shape(doc('multi-app.json'), ['app'])).to.deep.equal([
      { ...app0, worker_id: 1, app_id: 0, mountpoint: '', requests: 1 },
      { ...app0, worker_id: 1, app_id: 1, mountpoint: '/a', requests: 1 },
      { ...app0, worker_id: 1, app_id: 2, mountpoint: '/b', requests: 2 },
    ]);
  });

  it('leaves out core counts, rather than reporting 0, under --stats-no-cores', () => {
    const records = shape(doc('no-cores.json'));
    expect(records.map((r) => r.type)).to.deep.equal(['summary', 'worker', 'worker', 'app', 'app', 'socket']);
    expect(records[0]).to.not.have.any.keys('cores', 'cores_busy');
    expect(records[2]).to.deep.equal({
      type: 'worker', worker_id: 2, pid: 4209, accepting: 1, requests: 2, delta_requests: 2, exceptions: 0, harakiri_count: 0,
      signals: 0, signal_queue: 0, status: 'idle', rss: 0, vsz: 0, running_time: 214, last_spawn: 1795298960,
      respawn_count: 1, tx: 96, avg_rt: 83, apps: 1,
    });
  });

  it('reads --stats-minified documents the same way', () => {
    expect(shape(doc('minified.json'), ['worker', 'core'])).to.deep.equal([
      {
        type: 'worker', worker_id: 1, pid: 4206, accepting: 1, requests: 2, delta_requests: 2, exceptions: 0, harakiri_count: 0,
        signals: 0, signal_queue: 0, status: 'idle', rss: 0, vsz: 0, running_time: 368, last_spawn: 1795298959,
        respawn_count: 1, tx: 96, avg_rt: 102, cores: 1, cores_busy: 0, apps: 1,
      },
      { type: 'core', worker_id: 1, core_id: 0, requests: 2, ...idleCore, in_request: 0 },
    ]);
  });

  it('reads the answer of a --stats-http server, headers and all', () => {
    const raw = readFileSync(fileURLToPath(new URL('../../../../spec/fixtures/uwsgi/stats-http.raw', import.meta.url)));
    const { payload, served } = unwrap(raw, 'x');
    expect(served).to.equal('http');
    expect(payload.subarray(0, 2).toString()).to.equal('{\n');
    const records = shape(decodeJson(payload, 'x').value, ['summary', 'worker']);
    expect(records[1]).to.deep.equal({
      type: 'worker', worker_id: 1, pid: 4211, accepting: 1, requests: 2, delta_requests: 2, exceptions: 0, harakiri_count: 0,
      signals: 0, signal_queue: 0, status: 'idle', rss: 0, vsz: 0, running_time: 197, last_spawn: 1795298961,
      respawn_count: 1, tx: 96, avg_rt: 66, cores: 1, cores_busy: 0, apps: 1,
    });
    expect(records[0]).to.include({ type: 'summary', pid: 4210, workers: 1, workers_idle: 1, requests: 2, cores: 1 });
  });

  describe('request variables (vars)', () => {
    const everything = (records: object[]) => JSON.stringify(records);

    it('never emits them by default: no cookie, token or Authorization header reaches the output', () => {
      const out = everything(shape(doc('busy.json')));
      expect(out).to.not.match(/SECRET|HTTP_COOKIE|HTTP_AUTHORIZATION|var_/);
    });

    it('emits only the named ones when asked', () => {
      const cores = shape(doc('busy.json'), ['core'], { kind: 'some', names: new Set(['REQUEST_METHOD', 'PATH_INFO']) });
      expect(cores[2]).to.deep.equal({
        type: 'core', worker_id: 2, core_id: 0, requests: 1, ...idleCore, in_request: 1, request_start: 1795298952,
        var_REQUEST_METHOD: 'GET', var_PATH_INFO: '/hold',
      });
      expect(everything(cores)).to.not.include('SECRET');
    });

    it('emits all of them, secrets included, only with "all"', () => {
      const core = shape(doc('busy.json'), ['core'], { kind: 'all' })[2]!;
      expect(core).to.include({ var_HTTP_COOKIE: 'session=SECRET-COOKIE', var_HTTP_AUTHORIZATION: 'Bearer SECRET-BEARER', var_QUERY_STRING: 'token=SECRET-TOKEN' });
    });

    it('carries control and non-UTF-8 bytes of a real request through as JSON-safe text', () => {
      const core = shape(doc('invalid-bytes.json'), ['core'], { kind: 'some', names: new Set(['HTTP_X_CTL', 'HTTP_X_LATIN']) })
        .find((c) => c.in_request === 1)!;
      expect(core).to.include({ var_HTTP_X_CTL: 'a\x01\x1bb', var_HTTP_X_LATIN: 'caf\ufffd\ufffd' });
    });
  });

  describe('documented quirks that a running server cannot be made to show on demand', () => {
    it('does not count never-spawned slots (id 0) as workers', () => {
      const d = doc('idle.json');
      d.workers.push({ ...d.workers[0], id: 0, pid: 0, status: 'idle', requests: 99 });
      const records = shape(d, ['summary', 'worker']);
      expect(records[0]).to.include({ workers: 2, requests: 5 });
      expect(records.filter((r) => r.type === 'worker').map((r) => r.worker_id)).to.deep.equal([1, 2]);
    });

    it('reports a socket listed twice once', () => {
      const d = doc('idle.json');
      d.sockets.push({ ...d.sockets[0] }, { ...d.sockets[0], name: '127.0.0.1:9999', queue: 3, max_queue: 100 });
      const records = shape(d, ['summary', 'socket']);
      expect(records[0]).to.include({ sockets: 2, sockets_queue: 3, sockets_max_queue: 100 });
      expect(records.slice(1).map((r) => r.name)).to.deep.equal(['127.0.0.1:44825', '127.0.0.1:9999']);
    });

    it('counts workers in cheap, pause and sig<N> states apart', () => {
      const d = doc('idle.json');
      d.workers.push({ ...d.workers[0], id: 3, status: 'cheap', pid: 0, accepting: 0 }, { ...d.workers[0], id: 4, status: 'pause' }, { ...d.workers[0], id: 5, status: 'sig9' });
      expect(shape(d, ['summary'])[0]).to.include({ workers: 5, workers_idle: 2, workers_cheap: 1, workers_pause: 1, workers_other: 1, workers_accepting: 4 });
    });

    it('keeps a scalar field a newer uWSGI adds', () => {
      const d = doc('idle.json');
      d.workers[0].new_counter = 7;
      d.new_top = 'x';
      const [summary, worker] = shape(d, ['summary', 'worker']);
      expect(summary).to.include({ new_top: 'x' });
      expect(worker).to.include({ new_counter: 7 });
    });

    it('rejects JSON that is not a stats document', () => {
      expect(() => shape({ TotalAccesses: '1', stats: [] })).to.throw('not a uWSGI stats document').with.property('code', 'not_stats');
    });
  });
});
