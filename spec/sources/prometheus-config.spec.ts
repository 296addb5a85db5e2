// The prometheus source's own config key, "metrics": a key of a source's object in the config file
// and nothing else (no flag), checked with the rest of the configuration.

import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALL_OPTIONS, parseArgv, resolveConfig } from '../../lib/config.js';
import { ConfigError } from '../../lib/errors.js';
import { SOURCE_KINDS } from '../../lib/sources/index.js';
import { cleanup, tempDir } from '../helpers/servers.js';

describe('the prometheus source\'s "metrics" key', () => {
  const dir = tempDir();
  after(() => cleanup(dir));
  const withFile = (sources: unknown[]) => {
    const path = join(dir, 'wsgistat.json');
    writeFileSync(path, JSON.stringify({ sources }), { mode: 0o600 });
    return () => resolveConfig(parseArgv(['--config', path]));
  };
  const error = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      expect(e).to.be.instanceOf(ConfigError);
      return (e as Error).message;
    }
    throw new Error('accepted');
  };

  it('names the families of one source, in its object', () => {
    const c = withFile([{ address: 'prometheus+http://127.0.0.1:8001/metrics', metrics: { requests: 'app_requests_total', status_label: 'code' } }, 'prometheus+http://127.0.0.1:8002/metrics'])();
    expect(c.sources.map((s) => s.own)).to.deep.equal([{ metrics: { requests: 'app_requests_total', status_label: 'code' } }, undefined]);
  });

  it('is refused with the role it does not know, or on a source of another kind', () => {
    expect(error(withFile([{ address: 'prometheus+http://127.0.0.1:8001/metrics', metrics: { request: 'x_total' } }]))).to.include('"sources"[0].metrics.request: expected one of the roles requests, latency');
    expect(error(withFile([{ address: 'unix:///run/app.stats', metrics: { requests: 'x_total' } }]))).to.include('unknown key "metrics"');
  });

  it('has no flag: no option of the command line, --help, man page or completions is a kind\'s own', () => {
    const own = SOURCE_KINDS.flatMap((k) => k.options ?? []);
    expect(own.map((o) => o.key)).to.include('metrics');
    for (const o of own) expect(o).to.not.have.property('flag');
    expect(ALL_OPTIONS.filter((o) => own.some((k) => k.key === o.key))).to.deep.equal([]);
    expect(error(() => parseArgv(['--metrics-names', '{}', 'prometheus+http://127.0.0.1:8001/metrics']))).to.include('unknown option --metrics-names');
  });
});
