// One tick in process, with a source and a sink of the spec's own: what the sources gave is what
// the sinks get, however many records that is.

import { expect } from 'chai';
import { tick } from '../lib/pipeline.js';
import type { Rec } from '../lib/records/types.js';
import { parseAddress } from '../lib/sources/address.js';
import type { Source } from '../lib/sources/types.js';

describe('a tick', () => {
  it('hands every record of a very large sample to the sinks (no spread of 200,000 arguments)', async () => {
    const n = 200_000;
    const source: Source = {
      spec: { address: parseAddress('unix:///run/big.stats'), timeoutMs: 1000, maxBytes: 1 << 24 },
      server: 'uwsgi',
      collect: async () => ({ server: 'uwsgi', notices: [], bodies: Array.from({ length: n }, (_, i) => ({ type: 'core' as const, worker_id: (i >> 4) + 1, core_id: i % 16 })) }),
    };
    const got: Rec[][] = [];
    const sink = { name: 'spec', write: async (records: Rec[]) => void got.push(records), close: async () => 0 };
    const r = await tick([source], [sink], { hostname: 'h', errorRecords: true, records: new Set(['core']), now: () => 1_000_500 });
    expect([r.failed, r.records.length, got.length, got[0]!.length]).to.deep.equal([0, n, 1, n]);
    expect(got[0]![n - 1]).to.deep.equal({ type: 'core', worker_id: n / 16, core_id: 15, time: 1000.5, host: 'h', source: 'unix:///run/big.stats', server: 'uwsgi' });
  });
});
