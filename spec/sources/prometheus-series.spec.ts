// metric records from parsed families (series.ts): what is left out, how labels become fields,
// and the values JSON has no number for; and that they serialize as JSON lines.

import { expect } from 'chai';
import { parseExposition } from '../../lib/sources/prometheus/parse.js';
import { metricBodies } from '../../lib/sources/prometheus/series.js';
import { toJson } from '../../lib/records/serialize.js';

const TEXT = `# TYPE http_requests_total counter
http_requests_total{http_status="200"} 5
# TYPE jobs gauge
jobs{host="a",label_host="b",value="c",queue="x y",pid="4242"} +Inf 1700000000123
jobs{pid="4243"} -Inf
# TYPE t histogram
t_bucket{le="+Inf"} 2
t_sum 0.5
t_count 2
`;

describe('metric records (series.ts)', () => {
  const families = parseExposition(TEXT);

  it('gives every sample of an unmapped family, labels as fields, a label named like a field prefixed until free', () => {
    expect(metricBodies(families, new Set(['http_requests_total']))).to.deep.equal([
      { type: 'metric', name: 'jobs', metric_type: 'gauge', label_label_host: 'a', label_host: 'b', label_value: 'c', queue: 'x y', pid: '4242', value_text: '+Inf', sample_time: 1700000000.123 },
      { type: 'metric', name: 'jobs', metric_type: 'gauge', pid: '4243', value_text: '-Inf' },
      { type: 'metric', name: 't_bucket', metric_type: 'histogram', le: '+Inf', value: 2 },
      { type: 'metric', name: 't_sum', metric_type: 'histogram', value: 0.5 },
      { type: 'metric', name: 't_count', metric_type: 'histogram', value: 2 },
    ]);
  });

  it('leaves out the series of pids that are not alive', () => {
    const names = metricBodies(families, new Set(['http_requests_total', 't']), (pid) => pid === 4243).map((b) => b.pid);
    expect(names).to.deep.equal(['4243']);
  });

  it('serializes with the schema fields first and the labels after', () => {
    const [b] = metricBodies(families, new Set(['http_requests_total']));
    expect(toJson({ time: 1, host: 'h', source: 's', ...b!, type: 'metric' })).to.equal(
      '{"time":1,"host":"h","source":"s","type":"metric","name":"jobs","metric_type":"gauge","value_text":"+Inf","sample_time":1700000000.123,"label_label_host":"a","label_host":"b","label_value":"c","queue":"x y","pid":"4242"}',
    );
  });
});

describe('a very large /metrics', () => {
  it('gives a record for each of 200,000 series, and the summary (no spread of them as arguments)', async () => {
    const { sampleOf } = await import('../../lib/sources/prometheus/index.js');
    const { parseAddress } = await import('../../lib/sources/address.js');
    const n = 200_000;
    let text = '# TYPE app_items gauge\n';
    for (let i = 0; i < n; i++) text += `app_items{shard="${i}"} ${i}\n`;
    const spec = { address: parseAddress('prometheus+http://127.0.0.1:9/metrics'), timeoutMs: 1000, maxBytes: 1 << 24 };
    const sample = sampleOf(parseExposition(text), spec, { records: new Set(['summary', 'metric']), vars: { kind: 'none' } }, false);
    expect(sample.bodies.length).to.equal(n + 1);
    expect(sample.bodies[0]!.type).to.equal('summary');
    expect(sample.bodies[n]).to.include({ type: 'metric', shard: String(n - 1), value: n - 1 });
  });
});
