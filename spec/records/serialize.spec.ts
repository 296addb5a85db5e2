import { expect } from 'chai';
import { COMMON_FIELDS } from '../../lib/records/counters.js';
import { schemas } from '../../lib/records/schemas.js';
import { toJsonLine } from '../../lib/records/serialize.js';
import type { Rec } from '../../lib/records/types.js';

describe('record serialization', () => {
  const worker: Rec = { type: 'worker', worker_id: 2, status: 'idle', time: 1.5, source: '/s', host: 'h', requests: 9, new_field: 'x' };

  it('writes the common fields first, then the schema order, then fields it does not know', () => {
    expect(toJsonLine(worker)).to.equal('{"time":1.5,"host":"h","source":"/s","type":"worker","worker_id":2,"requests":9,"status":"idle","new_field":"x"}\n');
  });

  it('writes the same values JSON.parse gets back', () => {
    const line = toJsonLine({ ...worker, label: 'a"b\\c\u0001', server: 'uwsgi' });
    expect(JSON.parse(line)).to.deep.equal({ ...worker, label: 'a"b\\c\u0001', server: 'uwsgi' });
  });

  it('does not lose a record whose field has an unexpected type', () => {
    const odd = { ...worker, requests: 'many' } as unknown as Rec;
    expect(JSON.parse(toJsonLine(odd))).to.deep.equal(odd);
  });

  it('writes the common fields of each record, whatever the records before it had', () => {
    const a: Rec = { time: 1, host: 'h', source: 's1', server: 'uwsgi', type: 'core', worker_id: 1, core_id: 0, requests: 3 };
    const records: Rec[] = [
      a, { ...a, core_id: 1 }, { ...a, source: 's2' }, { ...a, label: 'app' }, { ...a }, { ...a, time: 2 }, { ...a, host: 'g' },
      { ...a, vassal: 'v.ini' }, { ...a, server: undefined }, { ...a, type: 'app', app_id: 0 }, { ...a, type: 'worker' },
      { type: 'summary', workers: 1 } as unknown as Rec, { ...a, time: 1e21 }, { ...a, host: 'a"b\\c\u2028\ud800' },
    ];
    for (const r of records) {
      const line = toJsonLine(r);
      const parsed = JSON.parse(line) as Record<string, unknown>;
      const defined = Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined));
      expect(parsed, line).to.deep.equal(defined);
      const common = COMMON_FIELDS.filter((k) => r[k] !== undefined);
      expect(Object.keys(parsed).slice(0, common.length), line).to.deep.equal(common);
      const inSchema = Object.keys(schemas[r.type as 'core'].properties);
      const rest = inSchema.filter((k) => !common.includes(k as never) && r[k] !== undefined);
      const extra = Object.keys(r).filter((k) => !inSchema.includes(k) && r[k] !== undefined);
      expect(line, line).to.equal(`${JSON.stringify(Object.fromEntries([...common, ...rest, ...extra].map((k) => [k, r[k]])))}\n`);
    }
  });

  it('writes a record whose common field is not of its type with the generic serializer, losing nothing', () => {
    for (const odd of [{ ...worker, host: 5 }, { ...worker, time: 'now' }, { ...worker, time: Number.NaN }]) {
      const line = toJsonLine(odd as unknown as Rec);
      expect(line).to.equal(`${JSON.stringify(odd)}\n`);
    }
  });

  it('has the common fields first in every schema, in the order the serializer writes them', () => {
    for (const [type, schema] of Object.entries(schemas)) expect(Object.keys(schema.properties).slice(0, COMMON_FIELDS.length), type).to.deep.equal([...COMMON_FIELDS]);
  });

  it('writes a record type without a schema with the generic serializer', () => {
    const other = { type: 'future', time: 1, host: 'h', source: 's' } as unknown as Rec;
    expect(toJsonLine(other)).to.equal('{"type":"future","time":1,"host":"h","source":"s"}\n');
  });
});
