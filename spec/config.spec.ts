import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseArgv, resolveConfig, parseDuration, parseSize, OPTIONS } from '../lib/config.js';
import { ConfigError } from '../lib/errors.js';
import { cleanup, tempDir } from './helpers/servers.js';

const resolve = (argv: string[]) => resolveConfig(parseArgv(argv));
function configError(argv: string[]): string {
  try {
    resolve(argv);
  } catch (e) {
    expect(e).to.be.instanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('the configuration was accepted');
}

describe('configuration', () => {
  let dir: string;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => cleanup(dir));
  const file = (obj: unknown) => {
    const path = join(dir, 'wsgistat.json');
    writeFileSync(path, typeof obj === 'string' ? obj : JSON.stringify(obj));
    return path;
  };

  it('has the documented defaults', () => {
    const c = resolve(['/run/a.stats']);
    expect(c.sources.map((s) => [s.address.text, s.label, s.timeoutMs, s.maxBytes])).to.deep.equal([['/run/a.stats', undefined, 3000, 16 * 1024 * 1024]]);
    expect([...c.records]).to.deep.equal(['summary', 'worker']);
    expect(c.vars).to.deep.equal({ kind: 'none' });
    expect(c.errorRecords).to.equal(true);
    expect(c.hostname).to.equal(hostname());
    expect(c.check).to.equal(false);
    expect(c.format).to.equal('json');
    expect(c.formatOptions).to.deep.equal({});
  });

  it('takes outputs from flags or per output from the config file, credentials never in the name', () => {
    const c = resolve(['-o', 'stdout', '-o', 'http://user:pw@127.0.0.1:9880/uwsgi/stats', '-o', 'norikra+https://nk:26578/uwsgi_stats', '/s']);
    expect(c.outputs.map((o) => [o.kind, o.name, 'tag' in o ? o.tag : '', 'origin' in o ? o.origin : ''])).to.deep.equal([
      ['stdout', 'stdout', '', ''],
      ['fluentd', 'http://127.0.0.1:9880/uwsgi/stats', 'uwsgi.stats', 'http://127.0.0.1:9880'],
      ['norikra', 'norikra+https://nk:26578/uwsgi_stats', 'uwsgi_stats', 'https://nk:26578'],
    ]);
    const path = file({ sources: ['/s'], outputs: [{ url: 'https://f:9880/t', headers: { Authorization: 'file:/etc/hostname', 'X-Env': 'prod' }, ca_file: '/etc/hostname' }] });
    const f = resolve(['-c', path]);
    expect(f.outputs[0]).to.deep.include({ headers: { Authorization: { file: '/etc/hostname' }, 'X-Env': { literal: 'prod' } }, tls: { ca: '/etc/hostname' } });
    expect(resolve(['/s']).outputs).to.deep.equal([{ kind: 'stdout', name: 'stdout' }]);
  });

  it('gives a mackerel job its own default state file, apart from a JSON job on the same sources', () => {
    const json = resolve(['/run/a.stats']);
    const mackerel = resolve(['--format', 'mackerel', '--metric-prefix', 'web.uWSGI', '/run/a.stats']);
    expect(mackerel).to.deep.include({ format: 'mackerel', formatOptions: { metric_prefix: 'web.uWSGI' } });
    expect(mackerel.stateFile).to.match(/state-[0-9a-f]{16}\.json$/).and.not.equal(json.stateFile);
  });

  it('reads flags in --flag value, --flag=value and short forms', () => {
    const c = resolve(['-r', 'all', '--timeout=500ms', '--max-bytes', '512K', '--vars', 'PATH_INFO,REQUEST_METHOD', '--no-error-records', '--hostname', 'web1', 'app=@stats']);
    expect([...c.records]).to.deep.equal(['summary', 'worker', 'core', 'app', 'socket', 'emperor', 'vassal', 'metric']);
    expect(c.sources[0]).to.deep.include({ label: 'app', timeoutMs: 500, maxBytes: 512 * 1024 });
    expect(c.vars).to.deep.equal({ kind: 'some', names: new Set(['PATH_INFO', 'REQUEST_METHOD']) });
    expect(c.errorRecords).to.equal(false);
    expect(c.hostname).to.equal('web1');
  });

  it('takes everything from a config file, with per-source timeouts and labels', () => {
    const path = file({
      sources: ['unix:///run/a.stats', { address: '127.0.0.1:1717', label: 'b', timeout: '1s', max_bytes: 1000 }],
      records: ['summary', 'socket'], timeout: 2, max_bytes: '1MiB', vars: 'all', error_records: false, hostname: 'h',
    });
    const c = resolve(['--config', path]);
    expect(c.sources.map((s) => [s.address.text, s.label, s.timeoutMs, s.maxBytes])).to.deep.equal([
      ['unix:///run/a.stats', undefined, 2000, 1024 * 1024],
      ['127.0.0.1:1717', 'b', 1000, 1000],
    ]);
    expect([...c.records]).to.deep.equal(['summary', 'socket']);
    expect(c).to.deep.include({ vars: { kind: 'all' }, errorRecords: false, hostname: 'h' });
  });

  it('lets flags override the file, and command-line sources replace the file\'s', () => {
    const path = file({ sources: ['/run/a.stats'], timeout: '2s', records: 'summary' });
    const c = resolve(['-c', path, '--timeout', '1s', '/run/b.stats']);
    expect(c.sources.map((s) => [s.address.text, s.timeoutMs])).to.deep.equal([['/run/b.stats', 1000]]);
    expect([...c.records]).to.deep.equal(['summary']);
  });

  describe('names the bad key, what was expected and what was given', () => {
    const cases: [string, () => string, string][] = [
      ['a bad duration flag', () => configError(['--timeout', 'fast', '/s']), '--timeout: expected a duration such as "3s", "500ms" or a number of seconds, got "fast"'],
      ['a bad record type', () => configError(['--records', 'summary,workers', '/s']), '--records: expected a list of record types (summary, worker, core, app, socket, emperor, vassal, metric, all), got "workers"'],
      ['an unknown flag', () => configError(['--timout', '1s']), 'unknown option --timout (did you mean --timeout?) (see wsgistat --help)'],
      ['a flag without its value', () => configError(['/s', '--records']), '--records needs a value: LIST (see wsgistat --help)'],
      ['a bad label', () => configError(['1app=/s']), 'source 1: source "1app=/s": cannot tell what kind of address this is (address forms: unix:///path, /path, @name, unix:@name, tcp://host:port, host:port, http://host:port, http+unix:///path, file:///path.json, gunicorn:///path.json, prometheus+http://host:port/metrics, prometheus+unix:///path, prometheus-multiproc:///dir)'],
      ['--listen with several sources', () => configError(['--listen', '127.0.0.1:8000', '/a', '/b']), '--listen names one listener, but there are 2 sources: give each its own "listen" in the config file'],
      ['a bad --listen', () => configError(['--listen', '8000', '/a']), '--listen: expected a TCP listener as HOST:PORT, such as "127.0.0.1:8000", or "none", got "8000"'],
      ['a duplicate label', () => configError(['a=/s', 'a=/t']), 'label "a" is given to more than one source'],
      ['an unknown format', () => configError(['-f', 'influx', '/s']), '--format: expected one of json, mackerel, prometheus, got "influx"'],
      ['--format mackerel on a schedule', () => configError(['-f', 'mackerel', '-i', '1m', '/s']), '--format mackerel is for one-shot runs, which mackerel-agent starts every minute; drop --interval'],
      ['a metric prefix mackerel would refuse', () => configError(['-f', 'mackerel', '--metric-prefix', 'my app', '/s']), '--metric-prefix: expected a metric name prefix such as "uwsgi" or "web.uWSGI": letters, digits, _ and -, with dots between parts, got "my app"'],
      ['an output wsgistat cannot send to', () => configError(['-o', 'kafka://k:9092/t', '/s']), '--output: expected stdout, http(s)://host:port/tag (Fluentd in_http), norikra://host:port/target (norikra+https:// for TLS), forward://host:port[,host:port...]/tag (Fluentd in_forward; forward+tls:// for TLS) or prometheus://host:port/path (serve /metrics), got "kafka://k:9092/t"'],
      ['a Norikra target Norikra would refuse', () => configError(['-o', 'norikra://127.0.0.1/uwsgi.stats', '/s']), '--output: "norikra://127.0.0.1/uwsgi.stats": the path is the Norikra target, a letter then letters, digits and _ (not ending in _), e.g. norikra://127.0.0.1:26578/uwsgi_stats'],
      ['--header with two HTTP outputs', () => configError(['-o', 'http://127.0.0.1:9880/a', '-o', 'norikra://127.0.0.1/b', '--header', 'X-Token=env:T', '/s']), '--header is for the one HTTP output, but there are 2: give each output its own "headers" in the config file ("outputs": [{"url": ..., "headers": ...}])'],
      ['a header from an unset variable', () => configError(['-o', 'http://127.0.0.1:9880/a', '--header', 'Authorization=env:WSGISTAT_SPEC_UNSET', '/s']), 'output http://127.0.0.1:9880/a: header Authorization: environment variable WSGISTAT_SPEC_UNSET is not set'],
      ['a client certificate without its key', () => configError(['-o', 'https://127.0.0.1:9880/a', '--cert-file', '/etc/hostname', '/s']), 'output https://127.0.0.1:9880/a: a client certificate needs both --cert-file and --key-file'],
      ['a CA file for plain http', () => configError(['-o', 'http://127.0.0.1:9880/a', '--ca-file', '/etc/hostname', '/s']), 'output http://127.0.0.1:9880/a: --ca-file, --cert-file and --key-file are for https outputs'],
      ['an output given twice', () => configError(['-o', 'http://127.0.0.1:9880/a', '-o', 'http://127.0.0.1:9880/a', '/s']), 'output http://127.0.0.1:9880/a is given twice'],
      ['--output with --format mackerel', () => configError(['-f', 'mackerel', '-o', 'http://127.0.0.1:9880/a', '/s']), '--format mackerel writes to stdout for mackerel-agent; drop --output'],
      ['a metric prefix without the mackerel format', () => configError(['--metric-prefix', 'uWSGI', '/s']), '--metric-prefix only applies to --format mackerel'],
    ];
    for (const [what, run, message] of cases) it(what, () => expect(run()).to.equal(message));

    it('an unknown key in the file, with a suggestion', () => {
      const path = file({ sources: ['/s'], timout: '1s' });
      expect(configError(['-c', path])).to.equal(`config file ${path}: unknown key "timout" (did you mean "timeout"?); known keys: sources, records, timeout, max_bytes, vars, error_records, hostname, interval, cron, state_file, state, listen, max_gap, outputs, headers, ca_file, cert_file, key_file, servers, shared_key, self_hostname, username, password, ack_timeout, send_timeout, retry_for, spool_dir, spool_max, format, metric_prefix`);
    });

    it("an output's key that belongs to another kind of output, never ignored", () => {
      const keyed = (output: Record<string, unknown>) => configError(['-c', file({ sources: ['/s'], outputs: [output] })]);
      const at = (path: string) => `config file ${path}: "outputs"[0]`;
      let path = file({ sources: ['/s'], outputs: [{ url: 'http://127.0.0.1:9880/a', shared_key: 'env:K' }] });
      expect(configError(['-c', path])).to.equal(`${at(path)}.shared_key: "shared_key" is for forward outputs, not for http://127.0.0.1:9880/a, which takes headers, ca_file, cert_file, key_file`);
      path = file({ sources: ['/s'], outputs: [{ url: 'stdout', ack_timeout: '5s' }] });
      expect(configError(['-c', path])).to.equal(`${at(path)}.ack_timeout: "ack_timeout" is for forward outputs, not for stdout, which takes no options`);
      path = file({ sources: ['/s'], outputs: [{ url: 'forward://127.0.0.1:24224/a', headers: { 'X-A': 'b' } }] });
      expect(configError(['-c', path])).to.equal(`${at(path)}.headers: "headers" is for HTTP outputs, not for forward://127.0.0.1:24224/a, which takes servers, shared_key, self_hostname, username, password, ack_timeout, ca_file, cert_file, key_file`);
      // A key two kinds share is for both.
      expect(keyed({ url: 'stdout', ca_file: '/etc/hostname' })).to.match(/"ca_file" is for HTTP outputs and forward outputs, not for stdout, which takes no options$/);
    });

    it('a value of the wrong type in the file', () => {
      const path = file({ sources: ['/s'], max_bytes: -1 });
      expect(configError(['-c', path])).to.equal(`config file ${path}: "max_bytes": expected a size such as "16MiB", "512K" or a number of bytes, got -1`);
    });

    it('a bad source entry in the file, by index', () => {
      const path = file({ sources: ['/s', { address: '/t', lable: 'x' }] });
      expect(configError(['-c', path])).to.equal(`config file ${path}: "sources"[1].lable: unknown key "lable" (did you mean "label"?); known keys: address, label, timeout, max_bytes, listen`);
    });

    it('a file that is not JSON, or missing', () => {
      expect(configError(['-c', file('{"sources": [')])).to.match(/^config file .*wsgistat\.json: not valid JSON( at character \d+)? \(/);
      expect(configError(['-c', join(dir, 'none.json')])).to.equal(`config file ${join(dir, 'none.json')}: no such file`);
    });
  });

  it('parses durations and sizes in the documented forms', () => {
    expect([parseDuration('3s', 'x'), parseDuration('500ms', 'x'), parseDuration('1.5', 'x'), parseDuration(2, 'x'), parseDuration('1m', 'x')]).to.deep.equal([3000, 500, 1500, 2000, 60000]);
    expect([parseSize('16MiB', 'x'), parseSize('512K', 'x'), parseSize('1mb', 'x'), parseSize(100, 'x'), parseSize('2G', 'x')]).to.deep.equal([16777216, 524288, 1048576, 100, 2147483648]);
    expect(() => parseDuration(0, 'x')).to.throw(ConfigError);
    expect(() => parseSize('1.5x', 'x')).to.throw(ConfigError);
  });

  it('documents every option with a default', () => {
    for (const o of OPTIONS) expect(o.doc, o.flag).to.be.a('string').that.is.not.empty;
  });

  it('reads a config file, a CA file and a key bounded: a device is refused at once, a secret never quoted', () => {
    expect(configError(['--config', '/dev/zero', 'unix:///s'])).to.equal('config file /dev/zero is a character device, not a regular file; not read');
    const big = file('x'.repeat(1024 * 1024 + 1));
    expect(configError(['--config', big, 'unix:///s'])).to.equal(`config file ${big} holds more than the size cap of 1048576 bytes (raise --max-bytes)`);
    const secret = file('{"sources": ["unix:///s"], "token": Bearer-s3cr3t}');
    const msg = configError(['--config', secret]);
    expect(msg).to.match(/^config file .* not valid JSON( at character \d+)? \(\d+ bytes of JSON-like text, printable ASCII only\)$/);
    expect(msg).to.not.include('s3cr3t');
    expect(configError(['-o', 'https://127.0.0.1:1/t', '--ca-file', '/dev/urandom', 'unix:///s'])).to.equal('output https://127.0.0.1:1/t: cannot read the CA file /dev/urandom (not_a_file)');
  });
});

describe('a strict command line', () => {
  const resolve = (argv: string[]) => resolveConfig(parseArgv(argv));
  const refused = (argv: string[]) => {
    try {
      resolve(argv);
    } catch (e) {
      expect(e).to.be.instanceOf(ConfigError);
      return (e as Error).message;
    }
    return expect.fail(`accepted ${argv.join(' ')}`);
  };

  it('takes an option as a missing value, not as the value: --state-file --no-state is no file named --no-state', () => {
    expect(refused(['--state-file', '--no-state', '/run/uwsgi/app.stats'])).to.equal(
      '--state-file needs a value: PATH, but the next argument is --no-state; to give a value that starts with "-", write --state-file=--no-state (see wsgistat --help)');
    expect(resolve(['--state-file=-odd-name', '/run/uwsgi/app.stats']).stateFile).to.equal('-odd-name');
  });

  it('takes -r=all as -r all and --records=all', () => {
    const all = [...resolve(['--records', 'all', '/run/x.sock']).records];
    expect([...resolve(['-r=all', '/run/x.sock']).records]).to.deep.equal(all);
    expect([...resolve(['-r', 'all', '/run/x.sock']).records]).to.deep.equal(all);
  });

  it('refuses contradictory options, naming both', () => {
    expect(refused(['--no-state', '--state-file', '/tmp/s.json', '/run/x.sock'])).to.equal('--state-file and --no-state contradict each other: one names a state file, the other turns it off; give one');
    expect(refused(['--interval', '10s', '--cron', '* * * * *', '/run/x.sock'])).to.equal('--interval and --cron both set the schedule; give one');
  });

  it('refuses the same server given twice, however it is written', () => {
    expect(refused(['unix:///run/uwsgi/a.stats', 'b=/run/uwsgi/a.stats'])).to.equal('source 2 (/run/uwsgi/a.stats) and source 1 (unix:///run/uwsgi/a.stats) are the same server; give it once');
    expect(refused(['127.0.0.1:1717', 'tcp://127.0.0.1:1717'])).to.match(/^source 2 \(tcp:\/\/127\.0\.0\.1:1717\) and source 1 \(127\.0\.0\.1:1717\) are the same server/);
    expect(resolve(['127.0.0.1:1717', 'http://127.0.0.1:1717']).sources).to.have.length(2); // raw and HTTP: two ways, both valid
  });
});
