// The Emperor's stats document (--emperor-stats), captured from real uWSGI 2.0.21 with two
// vassals, to whole expected records; and the same document read from a file by the CLI. The
// expected values were read off the fixture by hand.

import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RECORD_TYPES, type RecordType } from '../../../lib/records/types.js';
import { decodeJson } from '../../../lib/sources/json.js';
import { isEmperorStats, shapeEmperor } from '../../../lib/sources/uwsgi/emperor.js';
import { wsgistat } from '../../helpers/run.js';

const FIXTURE = fileURLToPath(new URL('../../../../spec/fixtures/uwsgi/emperor.json', import.meta.url));
const fixture = (name: string): unknown => decodeJson(readFileSync(FIXTURE.replace('emperor.json', name)), name).value;
const doc = fixture('emperor.json') as Record<string, unknown>;
const shape = (records: RecordType[], addresses = new Map<string, string | null>()) =>
  shapeEmperor(doc, { records: new Set(records), vars: { kind: 'none' } }, addresses);

const vassal = (id: string, pid: number, born: number, run: number) => ({
  type: 'vassal', vassal: id, born, last_mod: born, last_heartbeat: 0, loyal: 0, ready: 1, accepting: 1, last_loyal: 0,
  last_ready: run, last_accepting: run, first_run: run, last_run: run, cursed: 0, zerg: 0, on_demand: '',
  uid: 0, gid: 0, monitor: '/tmp/lead/emp/vassals', respawns: 0, pid,
});

describe('uWSGI Emperor records from a captured document', () => {
  it('tells the Emperor\'s document from a server\'s', () => {
    expect(isEmperorStats(doc)).to.equal(true);
    expect(isEmperorStats(fixture('idle.json'))).to.equal(false);
    expect(isEmperorStats({ vassals: [] })).to.equal(false);
  });

  it('gives one emperor record and one vassal record per vassal, with the stats addresses found', () => {
    const bodies = shape([...RECORD_TYPES], new Map([['a.ini', 'unix:///tmp/lead/emp/a.stats'], ['b.ini', null]]));
    expect(bodies).to.deep.equal([
      {
        type: 'emperor', version: '2.0.21-debian', pid: 12782, uid: 0, gid: 0, cwd: '/tmp/lead/emp/vassals',
        emperor_tyrant: 0, throttle_level: 0, monitors: '/tmp/lead/emp/vassals', vassals: 2, vassals_ready: 2,
        vassals_accepting: 2, vassals_loyal: 0, vassals_cursed: 0, vassals_respawns: 0, blacklist: 0,
      },
      { ...vassal('a.ini', 12784, 1796394518, 1796394744), stats_address: 'unix:///tmp/lead/emp/a.stats' },
      vassal('b.ini', 12785, 1796394519, 1796394744),
    ]);
  });

  it('gives only the record types asked for', () => {
    expect(shape(['summary', 'worker'])).to.deep.equal([]);
    expect(shape(['vassal']).map((b) => b.vassal)).to.deep.equal(['a.ini', 'b.ini']);
    expect(shape(['emperor']).map((b) => b.type)).to.deep.equal(['emperor']);
  });

  it('is read from a file by the CLI (the vassals\' servers are not: a file names no live process)', async () => {
    const run = await wsgistat(['--no-state', '--records', 'emperor,vassal', `file:${FIXTURE}`]);
    expect([run.code, run.stderr]).to.deep.equal([0, '']);
    expect(run.records.map((r) => [r.type, r.vassal, r.pid, r.stats_address])).to.deep.equal([
      ['emperor', undefined, 12782, undefined], ['vassal', 'a.ini', 12784, undefined], ['vassal', 'b.ini', 12785, undefined],
    ]);
  });
});
