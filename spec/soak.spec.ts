// The bounded soak: for a fixed short time, many one-shot runs at once and one continuous run share
// one spool and one state directory, sending to a real Fluentd that goes away and comes back, with
// a spool small enough to fill. Then one last run sends what waits, and the conservation check:
// every record produced was delivered, dead-lettered or reported dropped, by content; no run failed
// because another ran (exit 0 or 1, one line per problem, never an internal error).

import { expect } from 'chai';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { conserve } from './helpers/conservation.js';
import { needsFluentd, startFluentd, type RealFluentd } from './helpers/fluentd.js';
import { startWsgistat, wsgistat } from './helpers/run.js';
import { cleanup, sleep, tempDir } from './helpers/servers.js';

type R = Record<string, unknown>;
const FIXTURE = fileURLToPath(new URL('../../spec/fixtures/uwsgi/busy.json', import.meta.url));
const SOAK_MS = Number(process.env.WSGISTAT_SOAK_MS ?? 15000);
const LOOPERS = 4;

describe('soak: concurrent runs, one spool, a flapping real Fluentd, a spool that fills', function () {
  this.timeout(SOAK_MS + 90000);
  let dir: string;
  let fluentd: RealFluentd | undefined;
  afterEach(async () => {
    await fluentd?.dispose();
    cleanup(dir);
  });

  it('accounts for every record: delivered + dead-lettered + reported dropped, never less', async function () {
    needsFluentd(this);
    dir = tempDir();
    fluentd = await startFluentd();
    const url = `${fluentd.url}/soak`;
    const env = { XDG_STATE_HOME: dir };
    // A source file per writer, so that every record has a key of its own (README: Outputs).
    const source = (name: string) => {
      const path = join(dir, `${name}.json`);
      copyFileSync(FIXTURE, path);
      return `file://${path}`;
    };
    const common = ['-o', 'stdout', '-o', url, '--spool-max', '48KiB', '--send-timeout', '1s'];
    const produced: R[] = [];
    let stderr = '';
    const codes: (number | null)[] = [];
    const deadline = Date.now() + SOAK_MS;

    const continuous = startWsgistat(['--interval', '250ms', ...common, source('continuous')], env);
    const loopers = Array.from({ length: LOOPERS }, async (_, i) => {
      const src = source(`oneshot-${i}`);
      while (Date.now() < deadline) {
        const r = await wsgistat([...common, '--retry-for', '300ms', src], { env, timeoutMs: 20000 });
        codes.push(r.code);
        produced.push(...r.records);
        stderr += r.stderr;
      }
    });
    // The receiver flaps: down for a third of the time in the middle.
    await sleep(SOAK_MS / 3);
    await fluentd.stop();
    await sleep(SOAK_MS / 3);
    await fluentd.start();
    await Promise.all(loopers);
    const stopCode = await continuous.stop('SIGTERM');
    produced.push(...continuous.lines.map((l) => JSON.parse(l.text) as R));
    stderr += continuous.stderr();
    // What still waits goes with one last run.
    const last = await wsgistat(['-o', url, '--spool-max', '48KiB', source('drain')], { env, timeoutMs: 20000 });
    stderr += last.stderr;
    await sleep(1500); // out_file flushes at once; give it a moment for the last request
    const delivered = fluentd.stored().map((s) => ({ time: s.time, ...s.record }));

    expect(codes.filter((c) => c !== 0 && c !== 1), `exit statuses ${codes.join(',')}`).to.deep.equal([]);
    expect([stopCode, last.code]).to.satisfy(([a, b]: number[]) => [0, 1].includes(a!) && b === 0);
    expect(stderr).to.not.match(/internal error|at .*\.js:\d+/);
    const ledger = conserve(produced, delivered, join(dir, 'wsgistat', 'spool'), stderr);
    expect(ledger.waiting, 'the last run sent what waited').to.equal(0);
    expect(ledger.produced).to.be.greaterThan(100);
    // eslint-disable-next-line no-console
    console.log(`      soak ${SOAK_MS / 1000} s, ${codes.length + 2} runs: ${JSON.stringify(ledger)}`);
  });
});
