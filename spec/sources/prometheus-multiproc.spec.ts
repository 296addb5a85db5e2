// prometheus_client's multiprocess directory, read by us and by MultiProcessCollector: Python forks
// processes that count, observe and set gauges of every mode in a fresh directory, the way the
// seed-001/002 gunicorn setups do, and both readers must give the same families. Then the files
// someone else may have left there: impossible headers, the newer 16-byte layout, symlinks, names
// prometheus_client does not write, too many or too large files.

import { expect } from 'chai';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SourceError } from '../../lib/errors.js';
import { parseExposition, type MetricFamily } from '../../lib/sources/prometheus/parse.js';
import { decodeMmap, floatToGoString, LayoutError, mergeMultiproc, readMultiprocDir, DEFAULT_LIMITS } from '../../lib/sources/prometheus/multiproc.js';
import { asPy, fromPy, needsOracle, python, PY_DUMP, type PyFamily } from '../helpers/prometheus.js';
import { cleanup, tempDir } from '../helpers/servers.js';

/** Python: N forked workers in PROMETHEUS_MULTIPROC_DIR, as a gunicorn with seed 002's monitoring
 *  would leave it; one worker marked dead (child_exit), one SIGKILLed and never marked. */
const PY_WORKERS = String.raw`
import os, sys, json, signal
from prometheus_client import Counter, Gauge, Histogram, Summary, CollectorRegistry, generate_latest
from prometheus_client import multiprocess
N = int(sys.argv[1]) if len(sys.argv) > 1 else 4
NASTY = ['/', 'a b', 'x:y/z=w,v}u', 'quote"back\\slash\nnewline', 'é中']
REQ = Counter('http_requests_total', 'Total Request Count', ['app_name', 'method', 'endpoint', 'http_status'])
LAT = Histogram('http_request_latency_seconds', 'Request latency', ['app_name', 'endpoint'])
INPROG = Gauge('http_requests_in_progress_total', 'Requests in progress', ['app_name', 'endpoint', 'method'], multiprocess_mode='livesum')
PEND = Gauge('gunicorn_pending_connections', 'The number of pending connections on all sockets. Linux only.', ['listener'])
MODES = {m: Gauge('g_' + m, 'mode ' + m, ['k'], multiprocess_mode=m) for m in ['all', 'liveall', 'min', 'livemin', 'max', 'livemax', 'sum', 'livesum']}
WORK = Summary('work_seconds', 'Work', ['kind'])
SIZES = Histogram('sizes_bytes', 'Sizes', buckets=[1, 10, 1e3, 1e6, 1e15, float('inf')])
PEND.labels('unix:/run/app.sock').set(3)   # in the master, before the fork: every worker gets a copy
pids = []
for i in range(N):
    pid = os.fork()
    if pid == 0:
        for j in range(i + 3):
            REQ.labels('app', 'GET', NASTY[j % len(NASTY)], str(200 + 100 * (j % 4))).inc()
        for v in [0.0625, 0.25, 0.5, 3, 12.5][: i + 1]:
            LAT.labels('app', NASTY[i % len(NASTY)]).observe(v)
        SIZES.observe(2 ** (i * 4))
        INPROG.labels('app', '/hold', 'GET').inc(i)
        for m, g in MODES.items():
            g.labels('a b').set(i * 1.5 - 1)
        WORK.labels('k').observe(0.25 * (i + 1))
        if i == N - 1:
            os.kill(os.getpid(), signal.SIGKILL)
        os._exit(0)
    pids.append(pid)
    os.waitpid(pid, 0)
multiprocess.mark_process_dead(pids[0])
registry = CollectorRegistry()
multiprocess.MultiProcessCollector(registry)
print(json.dumps({'pids': pids, 'master': os.getpid(), 'families': json.loads(dump(multiprocess.MultiProcessCollector(None).collect())),
                  'text': generate_latest(registry).decode()}))
`;

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const sampleKey = (s: { name: string; labels: Record<string, string> }) => `${s.name} ${JSON.stringify(Object.entries(s.labels).sort())}`;
/** Families and samples in one order: MultiProcessCollector's follows the directory listing. */
function sorted<T extends { name: string; samples: { name: string; labels: Record<string, string> }[] }>(fams: T[]): T[] {
  return [...fams].sort(byName).map((f) => ({ ...f, samples: [...f.samples].sort((a, b) => (sampleKey(a) < sampleKey(b) ? -1 : 1)) }));
}

interface Run { pids: number[]; master: number; families: PyFamily[]; text: string }

describe('the prometheus_client multiprocess directory against MultiProcessCollector', function () {
  this.timeout(60000);
  let dir: string;
  let run: Run;
  beforeEach(function () {
    needsOracle(this, 'python');
    dir = tempDir();
    run = JSON.parse(python(`${PY_DUMP}\n${PY_WORKERS}`, '', { PROMETHEUS_MULTIPROC_DIR: dir })) as Run;
  });
  afterEach(() => cleanup(dir));

  it('merges counters, histograms, summaries and gauges of every mode as MultiProcessCollector does', () => {
    const { files, problems } = readMultiprocDir(dir);
    expect(problems).to.deep.equal([]);
    const ours = mergeMultiproc(files);
    expect(ours.length).to.equal(14);
    expect(sorted(asPy(ours, 'prometheus') as PyFamily[])).to.deep.equal(sorted(fromPy(run.families) as PyFamily[]));
  });

  it('gives the families that parsing its /metrics gives (counter families named x_total)', () => {
    const ours = mergeMultiproc(readMultiprocDir(dir).files);
    expect(sorted(ours)).to.deep.equal(sorted(parseExposition(run.text)));
  });

  it('says which pid each file came from, so that a caller can drop the gauges of a pid that died unmarked', () => {
    const { files } = readMultiprocDir(dir);
    const [marked, ...rest] = run.pids;
    const killed = rest[rest.length - 1]!;
    const pidsOf = (kind: string, mode?: string) => files.filter((f) => f.kind === kind && f.mode === mode).map((f) => Number(f.pid)).sort();
    expect(pidsOf('counter')).to.deep.equal([...run.pids].sort());
    // mark_process_dead removed the live gauges of the first worker only; the master's 'all' file is there.
    expect(pidsOf('gauge', 'livesum')).to.deep.equal(rest.sort());
    expect(pidsOf('gauge', 'all')).to.deep.equal([...run.pids, run.master].sort());
    expect(marked).to.be.a('number');

    const dropped = mergeMultiproc(files.filter((f) => !(f.kind === 'gauge' && f.mode!.startsWith('live') && Number(f.pid) === killed)));
    const inprog = dropped.find((f) => f.name === 'http_requests_in_progress_total')!;
    // Workers 1..N-2 are alive in this story: in progress is the sum of their inc(i).
    const expected = rest.slice(0, -1).reduce((a, _, k) => a + k + 1, 0);
    expect(inprog.samples).to.deep.equal([{ name: 'http_requests_in_progress_total', labels: { app_name: 'app', endpoint: '/hold', method: 'GET' }, value: expected }]);
  });

  it('keeps every nasty label value and the le labels as prometheus_client writes them', () => {
    const ours = mergeMultiproc(readMultiprocDir(dir).files);
    const reqs = ours.find((f) => f.name === 'http_requests_total')!;
    expect(new Set(reqs.samples.map((s) => s.labels.endpoint))).to.deep.equal(new Set(['/', 'a b', 'x:y/z=w,v}u', 'quote"back\\slash\nnewline', 'é中']));
    const sizes = ours.find((f) => f.name === 'sizes_bytes')!;
    expect(sizes.samples.filter((s) => s.name === 'sizes_bytes_bucket').map((s) => s.labels.le)).to.deep.equal(['1.0', '10.0', '1000.0', '1e+06', '1e+015', '+Inf']);
  });
});

/** A 0.16 file holding these entries, written as mmap_dict.py writes it; `payload` 16 gives the
 *  0.17+ layout (a timestamp after each value). */
function mmapFile(entries: [string, number][], payload = 8, capacity = 65536): Buffer {
  const buf = Buffer.alloc(capacity);
  let pos = 8;
  for (const [key, value] of entries) {
    const k = Buffer.from(key, 'utf8');
    const padded = k.length + (8 - ((k.length + 4) % 8));
    buf.writeInt32LE(k.length, pos);
    k.copy(buf, pos + 4);
    buf.fill(' ', pos + 4 + k.length, pos + 4 + padded);
    buf.writeDoubleLE(value, pos + 4 + padded);
    if (payload === 16) buf.writeDoubleLE(1700000000.5, pos + 4 + padded + 8);
    pos += 4 + padded + payload;
  }
  buf.writeInt32LE(pos, 0);
  return buf;
}
const key = (metric: string, sample: string, labels: Record<string, string>, help = 'h') => JSON.stringify([metric, sample, labels, help]);

describe('the prometheus_client multiprocess directory as someone else may have left it', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => cleanup(dir));

  const layoutError = (buf: Buffer): string => {
    try {
      decodeMmap(buf);
    } catch (e) {
      expect(e).to.be.instanceOf(LayoutError);
      return (e as Error).message;
    }
    throw new Error('decoded');
  };

  it('decodes the layout mmap_dict.py writes, and an empty or unused file as no entries', () => {
    const buf = mmapFile([[key('c', 'c_total', { a: 'x' }), 3], [key('c', 'c_total', { a: 'a "b"\n' }), 0.5]]);
    expect(decodeMmap(buf)).to.deep.equal([
      { metric: 'c', sample: 'c_total', labels: { a: 'x' }, help: 'h', value: 3 },
      { metric: 'c', sample: 'c_total', labels: { a: 'a "b"\n' }, help: 'h', value: 0.5 },
    ]);
    expect(decodeMmap(Buffer.alloc(0))).to.deep.equal([]);
    expect(decodeMmap(Buffer.alloc(65536))).to.deep.equal([]);
  });

  it('names what is impossible in a header or an entry, never the bytes of a key', () => {
    const good = mmapFile([[key('c', 'c_total', { token: 'hunter2' }), 1]]);
    const withUsed = (used: number, b = good) => {
      const c = Buffer.from(b);
      c.writeInt32LE(used, 0);
      return c;
    };
    expect(layoutError(Buffer.alloc(5))).to.equal('5 bytes, shorter than the 8-byte header');
    expect(layoutError(withUsed(-8))).to.equal('the header says -8 bytes are used, which no entry layout gives (8 or more, a multiple of 8)');
    expect(layoutError(withUsed(12))).to.equal('the header says 12 bytes are used, which no entry layout gives (8 or more, a multiple of 8)');
    expect(layoutError(withUsed(1 << 20))).to.equal('the header says 1048576 bytes are used, but the file holds 65536');
    const longKey = Buffer.from(good);
    longKey.writeInt32LE(4000, 8);
    expect(layoutError(longKey)).to.equal('the entry at offset 8 has an impossible key length 4000 for the used size 64');
    const notJson = Buffer.from(good);
    notJson.write('{', 12);
    expect(layoutError(notJson)).to.equal('the key of the entry at offset 8 (39 bytes) is not UTF-8 JSON');
    const notKey = mmapFile([[JSON.stringify({ token: 'hunter2' }), 1]]);
    expect(layoutError(notKey)).to.equal('the key of the entry at offset 8 is not prometheus_client\'s [metric, sample, labels, help]');
  });

  it('recognises the 0.17+ layout (a timestamp after each value) and refuses it saying so', () => {
    const newer = mmapFile([[key('g', 'g', { a: 'x' }), 2], [key('g', 'g', { a: 'y' }), 3]], 16);
    expect(layoutError(newer)).to.equal('its entries hold a value and a timestamp (16 bytes): the layout of prometheus_client 0.17 or later, which this reader does not read (it reads 0.16\'s)');
  });

  it('leaves out, naming each, symlinks, damaged files, foreign names and newer gauge modes, and reads the rest', () => {
    const multi = join(dir, 'mp');
    mkdirSync(multi);
    writeFileSync(join(multi, 'counter_100.db'), mmapFile([[key('c', 'c_total', {}), 2]]));
    writeFileSync(join(multi, 'counter_101.db'), mmapFile([[key('c', 'c_total', {}), 5]]));
    writeFileSync(join(dir, 'elsewhere.db'), mmapFile([[key('c', 'c_total', {}), 1000]]));
    symlinkSync(join(dir, 'elsewhere.db'), join(multi, 'counter_102.db'));
    const broken = mmapFile([[key('c', 'c_total', { token: 'hunter2' }), 1]]);
    broken.writeInt32LE(12, 0);
    writeFileSync(join(multi, 'counter_103.db'), broken);
    writeFileSync(join(multi, 'gauge_mostrecent_104.db'), mmapFile([]));
    writeFileSync(join(multi, 'notes.db'), 'x');
    writeFileSync(join(multi, 'README'), 'ignored: not *.db');
    mkdirSync(join(multi, 'histogram_105.db'));
    const { files, problems } = readMultiprocDir(multi);
    expect(problems).to.deep.equal([
      { name: 'counter_102.db', reason: 'a symlink; not followed' },
      { name: 'counter_103.db', reason: 'the header says 12 bytes are used, which no entry layout gives (8 or more, a multiple of 8)' },
      { name: 'gauge_mostrecent_104.db', reason: 'gauge mode mostrecent is of prometheus_client 0.17 or later, whose layout this reader does not read' },
      { name: 'histogram_105.db', reason: 'is a directory, not a regular file; not read' },
      { name: 'notes.db', reason: 'not a name prometheus_client gives its files' },
    ]);
    expect(JSON.stringify(problems)).to.not.include('hunter2');
    expect(mergeMultiproc(files)).to.deep.equal([{ name: 'c_total', type: 'counter', help: 'h', samples: [{ name: 'c_total', labels: {}, value: 7 }] }] satisfies MetricFamily[]);
  });

  it('refuses a directory past its entry or byte cap, and one that is not there', () => {
    for (let i = 0; i < 5; i++) writeFileSync(join(dir, `counter_${i}.db`), mmapFile([[key('c', 'c_total', {}), 1]]));
    const err = (f: () => unknown): SourceError => {
      try {
        f();
      } catch (e) {
        expect(e).to.be.instanceOf(SourceError);
        return e as SourceError;
      }
      throw new Error('read');
    };
    expect(err(() => readMultiprocDir(dir, { ...DEFAULT_LIMITS, maxFiles: 4 })).code).to.equal('too_large');
    expect(err(() => readMultiprocDir(dir, { ...DEFAULT_LIMITS, maxDirBytes: 4 * 65536 })).code).to.equal('too_large');
    const small = readMultiprocDir(dir, { ...DEFAULT_LIMITS, maxFileBytes: 1000 });
    expect(small.files).to.deep.equal([]);
    expect(small.problems.map((p) => p.reason)).to.deep.equal(new Array(5).fill('holds more than the size cap of 1000 bytes (raise --max-bytes)'));
    expect(err(() => readMultiprocDir(join(dir, 'missing'))).code).to.equal('not_found');
  });

  it('writes le labels with prometheus_client\'s floatToGoString, quirks included', () => {
    const cases: [number, string][] = [[0.005, '0.005'], [1, '1.0'], [10, '10.0'], [123456, '123456.0'], [1234567, '1.234567e+06'], [1e15, '1e+015'], [1e16, '1e+16'], [1e-5, '1e-05'], [Infinity, '+Inf']];
    expect(cases.map(([v]) => [v, floatToGoString(v)])).to.deep.equal(cases);
  });
});
