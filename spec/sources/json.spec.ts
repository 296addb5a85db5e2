import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeJson } from '../../lib/sources/json.js';
import { SourceError } from '../../lib/errors.js';

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`../../../spec/fixtures/uwsgi/${name}`, import.meta.url)));

function failure(bytes: Buffer): SourceError {
  try {
    decodeJson(bytes, 'unix socket /s');
  } catch (e) {
    expect(e).to.be.instanceOf(SourceError);
    return e as SourceError;
  }
  throw new Error('decodeJson accepted the document');
}

describe('lenient JSON decoding', () => {
  it('reads a valid document with JSON.parse and reports no repair', () => {
    const bytes = fixture('idle.json');
    expect(decodeJson(bytes, 'x')).to.deep.equal({ value: JSON.parse(bytes.toString()), repairs: [] });
  });

  it('reads the document a request with control and non-UTF-8 header bytes made invalid', () => {
    const bytes = fixture('invalid-bytes.json');
    expect(() => JSON.parse(bytes.toString())).to.throw(SyntaxError);
    const { value, repairs } = decodeJson(bytes, 'x');
    expect(repairs).to.deep.equal(['control character in a string']);
    const vars = (value as any).workers[0].cores.flatMap((c: any) => c.vars);
    expect(vars).to.include('HTTP_X_CTL=a\x01\x1bb');
    expect(vars).to.include('HTTP_X_LATIN=caf\ufffd\ufffd');
  });

  it('keeps an unescaped quote that is not followed by , : } or ] as part of the string', () => {
    const { value, repairs } = decodeJson(Buffer.from('{"cwd":"/srv/a"b","pid":1}'), 'x');
    expect(value).to.deep.equal({ cwd: '/srv/a"b', pid: 1 });
    expect(repairs).to.deep.equal(['unescaped quote in a string']);
  });

  it('keeps an unknown escape as written', () => {
    expect(decodeJson(Buffer.from('{"chdir":"C:\\app"}'), 'x')).to.deep.equal({ value: { chdir: 'C:\\app' }, repairs: ['unknown escape in a string'] });
  });

  it('restores a missing opening brace when the rest is a whole object', () => {
    expect(decodeJson(Buffer.from('"version":"2.0.21","workers":[]}'), 'x'))
      .to.deep.equal({ value: { version: '2.0.21', workers: [] }, repairs: ['missing opening brace'] });
  });

  it('calls every cut of a document truncated, never accepts it', () => {
    const whole = fixture('minified.json');
    for (let n = 1; n < whole.length; n++) {
      if (whole.subarray(0, n).toString().trim() === whole.toString().trim()) continue;
      const e = failure(whole.subarray(0, n));
      expect(e.code, `cut at ${n}`).to.equal('truncated');
    }
  });

  it('says how much came back and where it stops when it is truncated, quoting none of it', () => {
    const e = failure(Buffer.from('{"version":"2.0.21","workers":[{"id":1,'));
    expect(e.message).to.equal('the document from unix socket /s stops in the middle (39 bytes of JSON-like text, printable ASCII only; it ends inside an object or array, 3 levels deep)');
  });

  it('names the source, the place and the kind of bytes of a non-JSON answer', () => {
    const e = failure(Buffer.from('uwsgi: stats server disabled\n'));
    expect(e.code).to.equal('invalid_json');
    expect(e.message).to.equal('the document from unix socket /s is not JSON at character 0: unexpected "u" (29 bytes of text, printable ASCII only)');
  });

  it('rejects trailing garbage after the document', () => {
    expect(failure(Buffer.from('{"a":1} x')).code).to.equal('invalid_json');
  });

  it('calls an empty or blank document empty', () => {
    expect(failure(Buffer.alloc(0)).code).to.equal('empty');
    expect(failure(Buffer.from(' \n\t')).code).to.equal('empty');
  });
});
