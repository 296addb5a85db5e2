import { expect } from 'chai';
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

  it('writes a record type without a schema with the generic serializer', () => {
    const other = { type: 'future', time: 1, host: 'h', source: 's' } as unknown as Rec;
    expect(toJsonLine(other)).to.equal('{"type":"future","time":1,"host":"h","source":"s"}\n');
  });
});
