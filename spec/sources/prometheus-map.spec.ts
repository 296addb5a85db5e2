// The latency histogram of a Prometheus source as the summary's figures (map.ts), on hand-written
// texts: series summed bucket by bucket whatever order their buckets come in, and no percentiles
// from series whose buckets differ.

import { expect } from 'chai';
import { mapFamilies } from '../../lib/sources/prometheus/map.js';
import { parseExposition } from '../../lib/sources/prometheus/parse.js';

const text = (second: string) => `# TYPE http_request_latency_seconds histogram
http_request_latency_seconds_sum{endpoint="a"} 0.5
http_request_latency_seconds_bucket{endpoint="a",le="0.1"} 1
http_request_latency_seconds_bucket{endpoint="a",le="1.0"} 3
http_request_latency_seconds_bucket{endpoint="a",le="+Inf"} 4
http_request_latency_seconds_count{endpoint="a"} 4
${second}`;

describe('the latency histogram of a Prometheus source (map.ts)', () => {
  it('sums the series bucket by bucket, buckets given out of order included, with the sum and count', () => {
    const m = mapFamilies(parseExposition(text(`http_request_latency_seconds_bucket{le="+Inf",endpoint="b"} 2
http_request_latency_seconds_bucket{endpoint="b",le="1.0"} 2
http_request_latency_seconds_bucket{le="0.1",endpoint="b"} 0
http_request_latency_seconds_sum{endpoint="b"} 1.25
http_request_latency_seconds_count{endpoint="b"} 2
`)));
    expect(m.histogram).to.deep.equal([1, 4, 1]);
    expect(m.bounds).to.deep.equal([100000, 1000000, Infinity]);
    expect(m.bodies[0]).to.include({ requests: 6, running_time: 1750000 });
    expect(m.notices).to.deep.equal([]);
    expect([...m.mapped]).to.deep.equal(['http_request_latency_seconds']);
  });

  it('gives no percentiles, and says why, when the series have different buckets', () => {
    const m = mapFamilies(parseExposition(text(`http_request_latency_seconds_bucket{endpoint="b",le="0.5"} 2
http_request_latency_seconds_bucket{endpoint="b",le="+Inf"} 2
`)));
    expect(m.histogram).to.equal(undefined);
    expect(m.notices).to.deep.equal(['the series of http_request_latency_seconds have different buckets: no percentiles']);
  });
});
