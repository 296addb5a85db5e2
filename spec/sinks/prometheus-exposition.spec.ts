// The 0.0.4 exposition writer: promtool check metrics accepts what it writes, prometheus_client's
// parser reads back the families it was given (nasty label values, NaN/±Inf, timestamps, every
// type, OpenMetrics shapes), and hand-written families come out as exact text.

import { expect } from 'chai';
import { formatValue, writeExposition, ExpositionError } from '../../lib/sinks/prometheus/exposition.js';
import { parseExposition, type MetricFamily } from '../../lib/sources/prometheus/parse.js';
import { fromPy, needsOracle, promtoolCheck, pyParse, python, PY_GENERATE, type PyFamily } from '../helpers/prometheus.js';

describe('the Prometheus exposition writer against promtool and prometheus_client', function () {
  this.timeout(60000);
  let texts: { prometheus: string; openmetrics: string };
  beforeEach(function () {
    needsOracle(this, 'python');
    texts ??= JSON.parse(python(PY_GENERATE)) as typeof texts;
  });

  it('writes back what it read from generate_latest so that prometheus_client reads the same families', () => {
    const written = writeExposition(parseExposition(texts.prometheus));
    expect(fromPy(pyParse(written, 'prometheus') as PyFamily[])).to.deep.equal(fromPy(pyParse(texts.prometheus, 'prometheus') as PyFamily[]));
  });

  it('writes OpenMetrics families (counter without _total, _created, info, stateset, unknown) as generate_latest writes them in 0.0.4', () => {
    const written = writeExposition(parseExposition(texts.openmetrics, 'openmetrics'));
    // generate_latest truncates a float timestamp to milliseconds the same way: compare whole families.
    expect(fromPy(pyParse(written, 'prometheus') as PyFamily[])).to.deep.equal(fromPy(pyParse(texts.prometheus, 'prometheus') as PyFamily[]));
  });

  it('writes text that promtool check metrics accepts without a parse error or a lint problem', function () {
    needsOracle(this, 'promtool');
    // legacy_total has no HELP on purpose (promtool lints that): leave it out here.
    const families = parseExposition(texts.prometheus).filter((f) => f.help !== '');
    const written = writeExposition(families);
    expect(promtoolCheck(written)).to.deep.equal({ status: 0, output: '' });
  });

  it('writes text promtool refuses nothing of, even with NaN, ±Inf, -0, timestamps and escapes everywhere', function () {
    needsOracle(this, 'promtool');
    const written = writeExposition(HAND);
    expect(promtoolCheck(written)).to.deep.equal({ status: 0, output: '' });
  });
});

const HAND: MetricFamily[] = [
  {
    name: 'uwsgi_worker_requests_total', type: 'counter', help: 'Requests served.\nBy worker \\ id.',
    samples: [
      { name: 'uwsgi_worker_requests_total', labels: { worker: '2', main: 'a "quoted"\nline\\' }, value: 1234567 },
      { name: 'uwsgi_worker_requests_total', labels: { worker: '1', main: 'x=y,z}' }, value: 0, timestamp: 1700000000123 },
    ],
  },
  {
    name: 'gunicorn_backlog', type: 'gauge', help: 'Pending connections.',
    samples: [
      { name: 'gunicorn_backlog', labels: { listener: 'unix:/run/a b.sock' }, value: NaN },
      { name: 'gunicorn_backlog', labels: { listener: '127.0.0.1:8000' }, value: Infinity },
      { name: 'gunicorn_backlog', labels: { listener: '[::1]:8000' }, value: -Infinity },
      { name: 'gunicorn_backlog', labels: { listener: 'z' }, value: -0 },
      { name: 'gunicorn_backlog', labels: {}, value: 0.1 },
    ],
  },
  {
    name: 'rt_seconds', type: 'histogram', help: 'Latency.',
    samples: [
      { name: 'rt_seconds_sum', labels: {}, value: 0.30000000000000004 },
      { name: 'rt_seconds_count', labels: {}, value: 3 },
      { name: 'rt_seconds_bucket', labels: { le: '0.1' }, value: 1 },
      { name: 'rt_seconds_bucket', labels: { le: '+Inf' }, value: 3 },
    ],
  },
];

describe('the Prometheus exposition writer on hand-written families', () => {
  it('writes HELP, TYPE, escapes and labels in the order given, numbers as Go writes them', () => {
    expect(writeExposition(HAND)).to.equal([
      '# HELP uwsgi_worker_requests_total Requests served.\\nBy worker \\\\ id.',
      '# TYPE uwsgi_worker_requests_total counter',
      'uwsgi_worker_requests_total{worker="2",main="a \\"quoted\\"\\nline\\\\"} 1.234567e+06',
      'uwsgi_worker_requests_total{worker="1",main="x=y,z}"} 0 1700000000123',
      '# HELP gunicorn_backlog Pending connections.',
      '# TYPE gunicorn_backlog gauge',
      'gunicorn_backlog{listener="unix:/run/a b.sock"} NaN',
      'gunicorn_backlog{listener="127.0.0.1:8000"} +Inf',
      'gunicorn_backlog{listener="[::1]:8000"} -Inf',
      'gunicorn_backlog{listener="z"} -0',
      'gunicorn_backlog 0.1',
      '# HELP rt_seconds Latency.',
      '# TYPE rt_seconds histogram',
      'rt_seconds_sum 0.30000000000000004',
      'rt_seconds_count 3',
      'rt_seconds_bucket{le="0.1"} 1',
      'rt_seconds_bucket{le="+Inf"} 3',
      '',
    ].join('\n'));
  });

  it('formats numbers as strconv.FormatFloat(v, \'g\', -1, 64): %e from an exponent of 6 or below -4', () => {
    const cases: [number, string][] = [
      [42, '42'], [-2.5, '-2.5'], [123456, '123456'], [1e6, '1e+06'], [1234567, '1.234567e+06'],
      [0.0001, '0.0001'], [0.00001, '1e-05'], [0.000123, '0.000123'], [1.5e300, '1.5e+300'], [5e-324, '5e-324'],
      [2 ** 53, '9.007199254740992e+15'], [-1e21, '-1e+21'], [0.1 + 0.2, '0.30000000000000004'], [999999, '999999'],
    ];
    expect(cases.map(([v]) => [v, formatValue(v)])).to.deep.equal(cases);
  });

  it('writes a family without help without a HELP line, as client_golang does', () => {
    expect(writeExposition([{ name: 'x', type: 'untyped', help: '', samples: [{ name: 'x', labels: {}, value: 1 }] }])).to.equal('# TYPE x untyped\nx 1\n');
  });

  it('refuses a metric or label name the format cannot hold, without quoting the label value', () => {
    const bad = (labels: Record<string, string>, name = 'x') => () => writeExposition([{ name, type: 'gauge', help: 'h', samples: [{ name, labels, value: 1 }] }]);
    expect(bad({ 'a-b': 'secret' })).to.throw(ExpositionError, 'label name of a sample of x is not a valid label name');
    expect(bad({}, 'a b')).to.throw(ExpositionError, '"a b" is not a valid metric name');
  });
});
