// Property specs for the command line, the config file and addresses: whatever is typed, the
// answer is a configuration or a ConfigError that names what was wrong; never an internal error.

import { expect } from 'chai';
import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPTIONS, parseArgv, resolveConfig } from '../lib/config.js';
import { ConfigError } from '../lib/errors.js';
import { parseAddress } from '../lib/sources/address.js';
import { cleanup, tempDir } from './helpers/servers.js';

const FLAGS = OPTIONS.flatMap((o) => [o.flag, ...(o.short ? [o.short] : [])]).filter((f) => !['--help', '--version', '--config'].includes(f));
const VALUES = fc.oneof(
  fc.constantFrom('10s', '0', '-1', '1e999', 'NaN', '16MiB', '5 KiB', 'all', 'summary,worker', '', ' ', '=', 'unix:///x', 'http://[::1]:1/a', 'x'.repeat(300), '*/5 * * * * *', '99 99 * * *'),
  fc.string({ maxLength: 12 }),
  fc.integer().map(String),
);
const ARG = fc.oneof(fc.constantFrom(...FLAGS), fc.tuple(fc.constantFrom(...FLAGS), VALUES).map(([f, v]) => `${f}=${v}`), VALUES, fc.constantFrom('unix:///run/a.sock', 'file:/tmp/x.json', '@abs', '127.0.0.1:1717', '--'));

function settle(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    expect(e, String((e as Error)?.stack)).to.be.instanceOf(ConfigError);
    expect((e as Error).message).to.match(/^\S/);
    expect((e as Error).message.length).to.be.below(2000);
  }
}

describe('configuration, by property', () => {
  let dir: string;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => cleanup(dir));

  it('answers any command line with a configuration or a ConfigError', () => {
    fc.assert(fc.property(fc.array(ARG, { maxLength: 8 }), (argv) => {
      settle(() => resolveConfig(parseArgv(argv)));
    }), { numRuns: 3000 });
  });

  it('answers any config file with a configuration or a ConfigError naming the file', () => {
    const keys = OPTIONS.map((o) => o.key).filter((k): k is string => !!k);
    const file = fc.dictionary(fc.constantFrom(...keys, 'sources', 'outputs', 'nonsense'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 });
    fc.assert(fc.property(fc.oneof(file, fc.jsonValue({ maxDepth: 2 })), (obj) => {
      const path = join(dir, 'c.json');
      writeFileSync(path, JSON.stringify(obj));
      try {
        resolveConfig(parseArgv(['--config', path, 'unix:///run/a.sock']));
      } catch (e) {
        expect(e, String((e as Error)?.stack)).to.be.instanceOf(ConfigError);
        expect((e as Error).message).to.include(path);
      }
    }), { numRuns: 1500 });
  });

  it('parses any address to an address or a ConfigError that quotes it', () => {
    const scheme = fc.constantFrom('', 'unix://', 'unix:', 'tcp://', 'http://', 'http+unix://', 'file://', 'file:', 'gunicorn://', 'https://', '@');
    fc.assert(fc.property(scheme, fc.string({ maxLength: 40 }), (s, rest) => {
      const input = s + rest;
      try {
        const a = parseAddress(input);
        expect(a.text).to.be.a('string');
      } catch (e) {
        expect(e, String((e as Error)?.stack)).to.be.instanceOf(ConfigError);
        expect([JSON.stringify(input), JSON.stringify(input.trim())].some((q) => (e as Error).message.includes(`source ${q}`)), (e as Error).message).to.equal(true);
        expect((e as Error).message).to.not.match(/[\n\r]/);
      }
    }), { numRuns: 3000 });
  });
});
