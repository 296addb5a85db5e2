// A number JSON allows but a double cannot hold is left out of the records, never printed as null.

import { expect } from 'chai';
import { decodeJson } from '../../../lib/sources/json.js';
import { shapeUwsgi } from '../../../lib/sources/uwsgi/shape.js';

describe('uWSGI numbers out of range', () => {
  it('leaves out a counter that overflows a double, and keeps the others', () => {
    const doc = decodeJson(Buffer.from(`{"version":"2.0.21","workers":[{"id":1,"requests":${'9'.repeat(400)},"exceptions":2,"status":"idle"}]}`), 'x').value;
    const [, worker] = shapeUwsgi(doc, { records: new Set(['summary', 'worker']), vars: { kind: 'none' } });
    expect(worker).to.not.have.property('requests');
    expect(worker).to.include({ type: 'worker', worker_id: 1, exceptions: 2, status: 'idle' });
  });
});
