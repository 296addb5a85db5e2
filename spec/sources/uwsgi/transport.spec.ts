// Reading a stats server over sockets, against in-process fakes for the failures a real uWSGI
// cannot be made to show on demand. The real-server cases are in spec/integration.

import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAddress } from '../../../lib/sources/address.js';
import { createSource } from '../../../lib/sources/index.js';
import { SourceError } from '../../../lib/errors.js';
import { fakeStats, type Fake } from '../../helpers/fakes.js';
import { cleanup, freePort, tempDir } from '../../helpers/servers.js';

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`../../../../spec/fixtures/uwsgi/${name}`, import.meta.url)));
const IDLE = fixture('idle.json');

function source(address: string, limits: { timeoutMs?: number; maxBytes?: number } = {}) {
  return createSource(
    { address: parseAddress(address), timeoutMs: limits.timeoutMs ?? 2000, maxBytes: limits.maxBytes ?? 1 << 20 },
    { records: new Set(['summary']), vars: { kind: 'none' } },
  );
}

async function failure(address: string, limits?: { timeoutMs?: number; maxBytes?: number }): Promise<SourceError> {
  try {
    await source(address, limits).collect();
  } catch (e) {
    expect(e).to.be.instanceOf(SourceError);
    return e as SourceError;
  }
  throw new Error('the read succeeded');
}

describe('reading a stats server', () => {
  let fake: Fake | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  describe('mode mix-ups', () => {
    it('reads a raw server over a unix socket, sending it nothing', async () => {
      fake = await fakeStats({ kind: 'raw', doc: IDLE });
      const sample = await source(fake.address()).collect();
      expect(sample.bodies[0]).to.include({ type: 'summary', pid: 4186, requests: 5 });
      expect(sample.notices).to.deep.equal([]);
      expect(fake.received).to.deep.equal([Buffer.alloc(0)]);
    });

    it('closes a silent server named as raw after the probe window, sending it nothing, and names both address forms', async () => {
      fake = await fakeStats({ kind: 'http', doc: IDLE }, 'tcp');
      const e = await failure(fake.address('raw'), { timeoutMs: 1500 });
      expect(e.code).to.equal('not_stats');
      // The fake is this process's socket: /proc shows a holder that is not uWSGI, which may relay either.
      const where = fake.address('raw').replace('tcp://', '');
      expect(e.message).to.equal(`${where} sent nothing within 0.25s and nothing was sent to it: a raw uWSGI stats server writes at once, ` +
        `so this is either a stats server started with --stats-http (then use ${fake.address('http')}) or an application socket ` +
        `(socket= or http-socket=; then use the address of uWSGI's stats option); it is held by pid ${process.pid} (node), not by uWSGI, which may relay either`);
      expect(fake.received).to.deep.equal([Buffer.alloc(0)]);
    });

    it('sends an HTTP request at once to an http:// address', async () => {
      fake = await fakeStats({ kind: 'http', doc: IDLE, waitMs: 100 }, 'tcp');
      const sample = await source(fake.address('http')).collect();
      expect(sample.notices).to.deep.equal([]);
      expect(fake.received[0]!.toString()).to.match(/^GET \/ HTTP\/1\.0\r\nHost: 127\.0\.0\.1:\d+\r\n/);
    });

    it('keeps the document of a raw server named as http+unix://, and says which mode it is in', async () => {
      fake = await fakeStats({ kind: 'raw', doc: IDLE });
      const sample = await source(fake.address('http')).collect();
      expect(sample.bodies[0]).to.include({ type: 'summary', pid: 4186 });
      expect(sample.notices).to.deep.equal([
        `the server is in raw mode (no --stats-http) and sent its document without reading the request; use ${fake.address('raw')}`,
      ]);
    });

    it('calls an HTTP answer nobody asked for the application, not a stats server in HTTP mode', async () => {
      // No uWSGI stats server writes HTTP before it reads a request; nothing real does on demand.
      fake = await fakeStats({ kind: 'raw', doc: 'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{}' });
      const e = await failure(fake.address());
      expect(e.code).to.equal('not_stats');
      expect(e.message).to.match(/^unix socket \/.*fake\.sock answered HTTP without being asked: this looks like the application, not uWSGI's stats server: use the address of uWSGI's stats option/);
      expect(fake.received).to.deep.equal([Buffer.alloc(0)]);
    });

    it('reports an HTTP status other than 200 with the first line of its body', async () => {
      fake = await fakeStats({ kind: 'http', doc: 'stats unavailable\nmore', status: '500 Internal Server Error' }, 'tcp');
      const e = await failure(fake.address('http'));
      expect(e.code).to.equal('http_error');
      // uWSGI's stats server answers every request with 200: anything else is another server.
      expect(e.message).to.match(/^127\.0\.0\.1:\d+ answered HTTP 500 Internal Server Error: stats unavailable: this looks like the application, not uWSGI's stats server: use the address of uWSGI's stats option \(http:\/\/HOST:PORT of it with --stats-http\)$/);
    });
  });

  describe('failures', () => {
    it('names a missing socket file', async () => {
      const e = await failure('unix:///nonexistent/wsgistat/stats.sock');
      expect(e.code).to.equal('not_found');
      expect(e.message).to.equal('unix socket /nonexistent/wsgistat/stats.sock does not exist (is the server running, and is this the path it was given? wsgistat discover lists the servers running here)');
    });

    it('names a missing abstract socket as refused', async () => {
      const e = await failure(`@wsgistat-none-${process.pid}`);
      expect(e.code).to.equal('connection_refused');
      expect(e.message).to.equal(`connection refused: nothing is listening on abstract socket @wsgistat-none-${process.pid}`);
    });

    it('names a refused TCP port', async () => {
      const port = await freePort();
      const e = await failure(`127.0.0.1:${port}`);
      expect(e.code).to.equal('connection_refused');
      expect(e.message).to.equal(`connection refused: nothing is listening on 127.0.0.1:${port}`);
    });

    it('gives up on a server that accepts and never writes after the probe window, having sent it nothing', async () => {
      fake = await fakeStats({ kind: 'silent' });
      const e = await failure(fake.address(), { timeoutMs: 600 });
      expect(e.code).to.equal('not_stats');
      expect(e.message).to.match(/^unix socket \/.*fake\.sock sent nothing within 0\.2s and nothing was sent to it: /);
      expect(fake.received).to.deep.equal([Buffer.alloc(0)]);
    });

    it('reports how much arrived from a server that stops writing midway', async () => {
      fake = await fakeStats({ kind: 'partial', bytes: IDLE.subarray(0, 100), then: 'hang' });
      const e = await failure(fake.address(), { timeoutMs: 600 });
      expect(e.code).to.equal('timeout');
      expect(e.message).to.match(/sent 100 bytes but did not finish within 0\.6s \(100 bytes of JSON-like text, printable ASCII only\)$/);
    });

    it('calls a document cut short by the server truncated', async () => {
      fake = await fakeStats({ kind: 'partial', bytes: IDLE.subarray(0, 1000), then: 'end' });
      const e = await failure(fake.address());
      expect(e.code).to.equal('truncated');
      expect(e.message).to.match(/^the document from unix socket \/.*fake\.sock stops in the middle \(1000 bytes of JSON-like text, printable ASCII only; it ends inside a string, 3 levels deep\)$/);
    });

    it('calls a connection reset midway truncated, not a success', async () => {
      fake = await fakeStats({ kind: 'partial', bytes: IDLE.subarray(0, 1000), then: 'reset' }, 'tcp');
      const e = await failure(fake.address());
      expect(e.code).to.equal('truncated');
    });

    it('calls a connection closed with nothing sent empty', async () => {
      fake = await fakeStats({ kind: 'partial', bytes: '', then: 'end' });
      const e = await failure(fake.address());
      expect(e.code).to.equal('empty');
      expect(e.message).to.match(/closed the connection without sending anything$/);
    });

    it('stops reading a document that grows past the size cap', async () => {
      fake = await fakeStats({ kind: 'endless' });
      const e = await failure(fake.address(), { maxBytes: 256 * 1024 });
      expect(e.code).to.equal('too_large');
      expect(e.message).to.match(/sent more than the size cap of 262144 bytes \(raise --max-bytes/);
    });

    it('reads a document with control and non-UTF-8 bytes, with a notice', async () => {
      fake = await fakeStats({ kind: 'raw', doc: fixture('invalid-bytes.json') });
      const sample = await source(fake.address()).collect();
      expect(sample.bodies[0]).to.include({ type: 'summary', workers: 1, cores_busy: 1 });
      expect(sample.notices).to.deep.equal(['read an invalid document leniently (control character in a string)']);
    });

    it('names a non-JSON answer and what kind of bytes it holds', async () => {
      fake = await fakeStats({ kind: 'raw', doc: 'not json at all' });
      const e = await failure(fake.address());
      expect(e.code).to.equal('invalid_json');
      expect(e.message).to.match(/is not JSON at character 0: unexpected "n" \(15 bytes of text, printable ASCII only\)$/);
    });
  });

  describe('files', () => {
    it('reads a saved uWSGI document', async () => {
      const sample = await source(`file://${fileURLToPath(new URL('../../../../spec/fixtures/uwsgi/busy.json', import.meta.url))}`).collect();
      expect(sample.server).to.equal('uwsgi');
      expect(sample.bodies[0]).to.include({ type: 'summary', workers_busy: 2, cores_busy: 3 });
    });

    it('names an empty, a missing and an oversized file', async () => {
      const dir = tempDir();
      try {
        writeFileSync(join(dir, 'empty.json'), '');
        writeFileSync(join(dir, 'big.json'), IDLE);
        expect((await failure(`file://${dir}/empty.json`)).message).to.equal(`file ${dir}/empty.json is empty`);
        expect((await failure(`file://${dir}/none.json`)).code).to.equal('not_found');
        const big = await failure(`file://${dir}/big.json`, { maxBytes: 100 });
        expect(big.code).to.equal('too_large');
        expect(big.message).to.equal(`file ${dir}/big.json holds more than the size cap of 100 bytes (raise --max-bytes)`);
      } finally {
        cleanup(dir);
      }
    });
  });
});
