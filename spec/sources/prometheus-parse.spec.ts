// The Prometheus text parser against prometheus_client's own parsers on what prometheus_client
// writes (nasty label values, NaN/±Inf, timestamps, every metric type, both formats), and on
// hand-written texts whose expected families are written out whole.

import { expect } from 'chai';
import { parseExposition, ParseError, formatOf, type MetricFamily } from '../../lib/sources/prometheus/parse.js';
import { asPy, fromPy, needsOracle, promtoolCheck, pyParse, python, PY_GENERATE, type PyFamily } from '../helpers/prometheus.js';

const parse = (text: string, format: 'prometheus' | 'openmetrics' = 'prometheus') => parseExposition(text, format);

function failure(text: string, format: 'prometheus' | 'openmetrics' = 'prometheus'): ParseError {
  try {
    parse(text, format);
  } catch (e) {
    expect(e).to.be.instanceOf(ParseError);
    return e as ParseError;
  }
  throw new Error('the text was accepted');
}

describe('the Prometheus text parser against prometheus_client', function () {
  this.timeout(60000);
  let texts: { prometheus: string; openmetrics: string };
  beforeEach(function () {
    needsOracle(this, 'python');
    texts ??= JSON.parse(python(PY_GENERATE)) as typeof texts;
  });

  for (const format of ['prometheus', 'openmetrics'] as const) {
    it(`reads generate_latest's ${format} text family for family as prometheus_client's parser does`, () => {
      const ours = parse(texts[format], format);
      const theirs = pyParse(texts[format], format) as PyFamily[];
      expect(theirs).to.be.an('array').with.length.above(9);
      expect(asPy(ours, format)).to.deep.equal(fromPy(theirs));
    });
  }

  it('finds every nasty label value intact in both formats', () => {
    for (const format of ['prometheus', 'openmetrics'] as const) {
      const fam = parse(texts[format], format).find((f) => f.name === (format === 'prometheus' ? 'http_requests_total' : 'http_requests'))!;
      expect(fam.samples.map((s) => s.labels.endpoint)).to.include.members(['quote"back\\slash\nnewline', ' # {a="b"} 1', 'x:y/z=w,v}u', 'ends with backslash\\', '\\"', 'le="+Inf"}', '']);
    }
  });

  it('reads a histogram whose _sum and _count come before its buckets as prometheus_client does', () => {
    const lines = texts.prometheus.split('\n');
    const mine = lines.filter((l) => l.startsWith('sizes_bytes') && !l.startsWith('sizes_bytes_created'));
    const moved = [...mine.filter((l) => !l.startsWith('sizes_bytes_bucket')), ...mine.filter((l) => l.startsWith('sizes_bytes_bucket'))];
    const text = ['# HELP sizes_bytes Sizes', '# TYPE sizes_bytes histogram', ...moved, ''].join('\n');
    const ours = parse(text);
    expect(ours[0]!.samples.map((s) => s.name).slice(0, 2)).to.deep.equal(['sizes_bytes_count', 'sizes_bytes_sum']);
    expect(asPy(ours, 'prometheus')).to.deep.equal(fromPy(pyParse(text, 'prometheus') as PyFamily[]));
  });

  it('rejects an OpenMetrics text cut short where prometheus_client does, and reads the 0.0.4 one up to the cut', () => {
    const om = texts.openmetrics;
    const cut = om.slice(0, om.indexOf('# TYPE work_seconds'));
    expect(failure(cut, 'openmetrics').description).to.equal('no "# EOF" at the end: the OpenMetrics text was cut short');
    expect(pyParse(cut, 'openmetrics')).to.deep.equal({ error: 'ValueError' });
  });

  it('reads what a Python-side custom collector wrote with odd HELP escapes the way prometheus_client does', () => {
    const text = '# HELP odd a \\t tab escape, a \\" quote escape, a trailing backslash \\\n# TYPE odd gauge\nodd{a="\\t"} 1\n';
    for (const format of ['prometheus', 'openmetrics'] as const) {
      const t = format === 'openmetrics' ? `${text}# EOF\n` : text;
      expect(asPy(parse(t, format), format)).to.deep.equal(fromPy(pyParse(t, format) as PyFamily[]));
    }
  });
});

/** The hand-written texts the parser refused, for promtool to judge. */
const refused: string[] = [];

describe('the Prometheus text parser on hand-written texts', () => {
  it('reads HELP, TYPE, labels with spaces and separators, NaN, ±Inf and timestamps', () => {
    const text = [
      '# HELP gunicorn_pending_connections The number of pending connections.\\nLinux only \\\\ really.',
      '# TYPE gunicorn_pending_connections gauge',
      'gunicorn_pending_connections{listener="unix:/run/a b.sock"} 3',
      'gunicorn_pending_connections{ listener = "127.0.0.1:8000" , } NaN 1700000000123',
      'gunicorn_pending_connections{listener="a=b,c}d\\"e\\\\f\\ng"}\t+Inf',
      'gunicorn_pending_connections{listener="neg"} -Inf -5',
      'gunicorn_pending_connections{listener="exp"} 1.5e-3',
      '',
      '# a comment that is not metadata',
      'lonely_total 12',
    ].join('\n');
    expect(parse(text)).to.deep.equal([
      {
        name: 'gunicorn_pending_connections', type: 'gauge', help: 'The number of pending connections.\nLinux only \\ really.',
        samples: [
          { name: 'gunicorn_pending_connections', labels: { listener: 'unix:/run/a b.sock' }, value: 3 },
          { name: 'gunicorn_pending_connections', labels: { listener: '127.0.0.1:8000' }, value: NaN, timestamp: 1700000000123 },
          { name: 'gunicorn_pending_connections', labels: { listener: 'a=b,c}d"e\\f\ng' }, value: Infinity },
          { name: 'gunicorn_pending_connections', labels: { listener: 'neg' }, value: -Infinity, timestamp: -5 },
          { name: 'gunicorn_pending_connections', labels: { listener: 'exp' }, value: 0.0015 },
        ],
      },
      { name: 'lonely_total', type: 'untyped', help: '', samples: [{ name: 'lonely_total', labels: {}, value: 12 }] },
    ] satisfies MetricFamily[]);
  });

  it('puts a summary\'s quantiles, _sum and _count in one family whatever their order', () => {
    const text = '# TYPE rt summary\nrt_sum{a="x"} 2.5\nrt_count{a="x"} 4\nrt{a="x",quantile="0.5"} 0.5\nrt{a="x",quantile="0.99"} 1\n';
    expect(parse(text)).to.deep.equal([{
      name: 'rt', type: 'summary', help: '',
      samples: [
        { name: 'rt_sum', labels: { a: 'x' }, value: 2.5 },
        { name: 'rt_count', labels: { a: 'x' }, value: 4 },
        { name: 'rt', labels: { a: 'x', quantile: '0.5' }, value: 0.5 },
        { name: 'rt', labels: { a: 'x', quantile: '0.99' }, value: 1 },
      ],
    }]);
  });

  it('merges a family that appears twice (two exporters in one text), keeping its first HELP', () => {
    const text = '# HELP up First.\n# TYPE up gauge\nup{job="a"} 1\n# TYPE other counter\nother 3\n# HELP up Second.\n# TYPE up gauge\nup{job="b"} 0\nup{job="c"} 1\n';
    expect(parse(text)).to.deep.equal([
      { name: 'up', type: 'gauge', help: 'First.', samples: [{ name: 'up', labels: { job: 'a' }, value: 1 }, { name: 'up', labels: { job: 'b' }, value: 0 }, { name: 'up', labels: { job: 'c' }, value: 1 }] },
      { name: 'other', type: 'counter', help: '', samples: [{ name: 'other', labels: {}, value: 3 }] },
    ]);
  });

  it('reports a family that comes back with another type, naming the line and both types', () => {
    const text = '# TYPE up gauge\nup 1\n# TYPE up counter\nup 2\n';
    const e = failure(text);
    refused.push(text);
    expect([e.line, e.description, e.code]).to.deep.equal([3, 'a second TYPE line for "up" gives another type (counter, was gauge)', 'invalid_exposition']);
  });

  it('reads OpenMetrics: UNIT, _total and _created in the counter family, info, stateset, exemplars, EOF', () => {
    const text = [
      '# TYPE http_requests counter',
      '# UNIT http_requests requests',
      '# HELP http_requests Requests \\"served\\".',
      'http_requests_total{code="200"} 10 # {trace_id="abc def"} 1 1700000000.5',
      'http_requests_created{code="200"} 1700000000.25',
      '# TYPE build info',
      'build_info{version="1.0"} 1',
      '# TYPE state stateset',
      'state{state="up"} 1',
      'state{state="down"} 0',
      '# TYPE lat histogram',
      'lat_bucket{le="0.1"} 1 # {id="x"} 0.05',
      'lat_bucket{le="+Inf"} 2',
      'lat_count 2',
      'lat_sum 0.3',
      'g 1.5 1700000000.001',
      '# EOF',
    ].join('\n');
    expect(parse(`${text}\n`, 'openmetrics')).to.deep.equal([
      {
        name: 'http_requests', type: 'counter', help: 'Requests "served".', unit: 'requests',
        samples: [
          { name: 'http_requests_total', labels: { code: '200' }, value: 10 },
          { name: 'http_requests_created', labels: { code: '200' }, value: 1700000000.25 },
        ],
      },
      { name: 'build', type: 'info', help: '', samples: [{ name: 'build_info', labels: { version: '1.0' }, value: 1 }] },
      { name: 'state', type: 'stateset', help: '', samples: [{ name: 'state', labels: { state: 'up' }, value: 1 }, { name: 'state', labels: { state: 'down' }, value: 0 }] },
      {
        name: 'lat', type: 'histogram', help: '',
        samples: [
          { name: 'lat_bucket', labels: { le: '0.1' }, value: 1 },
          { name: 'lat_bucket', labels: { le: '+Inf' }, value: 2 },
          { name: 'lat_count', labels: {}, value: 2 },
          { name: 'lat_sum', labels: {}, value: 0.3 },
        ],
      },
      { name: 'g', type: 'unknown', help: '', samples: [{ name: 'g', labels: {}, value: 1.5, timestamp: 1700000000001 }] },
    ]);
  });

  it('refuses text after # EOF and an OpenMetrics counter sample without its suffix', () => {
    expect(failure('# EOF\nx 1\n', 'openmetrics').line).to.equal(2);
    expect(failure('# TYPE c counter\nc 1\n# EOF\n', 'openmetrics').description).to.equal('a sample named "c" like its counter family, without the suffix the type needs');
  });

  it('keeps a label named __proto__ as a label', () => {
    const [f] = parse('x{__proto__="v",a="b"} 1\n');
    expect(Object.entries(f!.samples[0]!.labels)).to.deep.equal([['__proto__', 'v'], ['a', 'b']]);
  });

  it('describes a bad line by its line number and shape, never quoting a label value or a value', () => {
    const secret = 'hunter2';
    const cases: [string, string][] = [
      [`x{password="${secret}} 1`, 'the value of label "password" of a sample of "x" is not closed by a quote'],
      [`x{password="${secret}"} ${secret}`, 'the value of a sample of "x" is not a number (7 character(s))'],
      [`x{password="${secret}"} 1 ${secret}`, 'the timestamp of a sample of "x" is not an integer of milliseconds (7 character(s))'],
      [`x{password="${secret}"} 1 2 3`, 'more after the timestamp of a sample of "x"'],
      [`x{password="${secret}" extra="1"} 1`, 'after the value of label "password" of a sample of "x", neither "," nor "}"'],
      [`x{password="${secret}",password="${secret}"} 1`, 'label "password" appears twice in a sample of "x"'],
      [`x{pass-word="${secret}"} 1`, 'label "pass" of a sample of "x" is not followed by "="'],
      [`x{password=${secret}} 1`, 'the value of label "password" of a sample of "x" does not start with a quote'],
      ['x{="v"} 1', 'a label of a sample of "x" has no name, or one outside [a-zA-Z_][a-zA-Z0-9_]*'],
      [`x-${secret} 1`, 'the metric name "x" runs into a character outside [a-zA-Z0-9_:]'],
      ['x', 'the sample of "x" has no value'],
      ['{a="b"} 1', 'a line that does not start with a metric name, "#" or a blank'],
      ['# TYPE x gauges', 'TYPE of "x" is not a type of the 0.0.4 text format (6 character(s))'],
      ['# TYPE 9x gauge', 'a TYPE line whose metric name (2 character(s)) has characters outside [a-zA-Z0-9_:] or starts with a digit'],
      ['# HELP', 'a HELP line without a metric name'],
      [`x 1\n# TYPE x gauge`, 'the TYPE line of "x" comes after samples of that name'],
      [`x 0x10`, 'the value of a sample of "x" is not a number (4 character(s))'],
    ];
    for (const [line, description] of cases) {
      const e = failure(`# TYPE ok gauge\nok 1\n${line}\n`);
      refused.push(`# TYPE ok gauge\nok 1\n${line}\n`);
      expect([e.line, e.description], line).to.deep.equal([line.includes('\n') ? 4 : 3, description]);
      expect(e.message).to.not.include(secret);
    }
  });

  it('reads Go\'s value spellings and refuses what Go refuses', () => {
    const values = parse('a 1.\nb .5\nc +3\nd 1E3\ne nan\nf Inf\ng -inf\nh +Infinity\n').map((f) => f.samples[0]!.value);
    expect(values).to.deep.equal([1, 0.5, 3, 1000, NaN, Infinity, -Infinity, Infinity]);
    for (const v of ['1_000', '', '0x1p-2', 'one', '1e', '--1']) expect(failure(`a ${v}\n`).line, v).to.equal(1);
  });

  it('takes the format from the Content-Type', () => {
    expect(formatOf('application/openmetrics-text; version=1.0.0; charset=utf-8')).to.equal('openmetrics');
    expect(formatOf('text/plain; version=0.0.4; charset=utf-8')).to.equal('prometheus');
    expect(formatOf(undefined)).to.equal('prometheus');
  });

  it('parses text linearly: a 1 MB label value and 100,000 lines end in one pass', () => {
    // Not a timing assertion: a quadratic parser would not finish within mocha's timeout.
    const huge = `x{a="${'\\"'.repeat(500000)}"} 1\n`;
    expect(parse(huge)[0]!.samples[0]!.labels.a).to.have.length(500000);
    const many = Array.from({ length: 100000 }, (_, i) => `m{i="${i}"} ${i}`).join('\n');
    expect(parse(many)[0]!.samples).to.have.length(100000);
  });
});

describe('the Prometheus text parser against promtool', () => {
  it('refuses only texts that promtool check metrics refuses as unparsable too (a HELP without a name aside)', function () {
    needsOracle(this, 'promtool');
    expect(refused).to.have.length.above(10);
    const accepted = refused.filter((t) => !/parsing error/.test(promtoolCheck(t).output));
    expect(accepted).to.deep.equal(['# TYPE ok gauge\nok 1\n# HELP\n']);
  });

  it('accepts, as promtool does, a family that comes back later in the text, and merges it', function () {
    needsOracle(this, 'promtool');
    const text = '# HELP up Up.\n# TYPE up gauge\nup{job="a"} 1\n# HELP other Other.\n# TYPE other gauge\nother 1\nup{job="b"} 0\n';
    expect(promtoolCheck(text)).to.deep.equal({ status: 0, output: '' });
    expect(parse(text).map((f) => [f.name, f.samples.length])).to.deep.equal([['up', 2], ['other', 1]]);
  });
});
