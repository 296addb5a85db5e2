// Property specs for the lenient decoder: generated documents, every truncation, byte noise.
// Whatever comes back, decoding ends in a value or a SourceError, and no diagnostic quotes a
// secret that a request in flight put in the document.

import { expect } from 'chai';
import fc from 'fast-check';
import { SourceError } from '../../lib/errors.js';
import { decodeJson } from '../../lib/sources/json.js';

const SECRET = 'Bearer s3cr3t-T0KEN-9f8e7d6c5b4a';

/** A uWSGI-shaped document whose in-flight request carries the secret in its vars. */
const documents = fc.record({
  workers: fc.array(fc.record({ id: fc.nat(64), requests: fc.nat(), status: fc.constantFrom('idle', 'busy', 'cheap') }), { maxLength: 4 }),
  extra: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }),
}).map(({ workers, extra }) => JSON.stringify({ version: '2.0.21', ...extra, workers: [...workers, { id: 9, cores: [{ vars: [`HTTP_AUTHORIZATION=${SECRET}`, 'HTTP_COOKIE=session=' + SECRET, ''] }] }] }, null, '\t'));

function outcome(bytes: Buffer): SourceError | undefined {
  try {
    decodeJson(bytes, 'unix socket /s');
    return undefined;
  } catch (e) {
    expect(e, String(e)).to.be.instanceOf(SourceError);
    return e as SourceError;
  }
}

function quotesNoSecret(e: SourceError | undefined): void {
  if (!e) return;
  for (let i = 0; i + 6 <= SECRET.length; i++) expect(e.message).to.not.include(SECRET.slice(i, i + 6));
  expect(e.message).to.not.include('session=');
}

describe('lenient JSON decoding, by property', () => {
  it('calls every cut of a generated document truncated, and never quotes it', () => {
    fc.assert(fc.property(documents, fc.double({ min: 0, max: 1, noNaN: true }), (doc, f) => {
      const cut = Math.floor(f * (doc.length - 1));
      const e = outcome(Buffer.from(doc.slice(0, cut)));
      expect(e?.code).to.be.oneOf(['truncated', 'empty']);
      quotesNoSecret(e);
    }), { numRuns: 1500 });
  });

  it('reads a whole generated document with control and non-UTF-8 bytes in its vars', () => {
    fc.assert(fc.property(documents, fc.uint8Array({ minLength: 1, maxLength: 8 }), (doc, noise) => {
      // A function, not a string: a replacement string reads `$\`` and `$&` in the noise as patterns.
      const dirty = doc.replace('HTTP_COOKIE=', () => `HTTP_COOKIE=${Buffer.from(noise).toString('latin1').replace(/["\\\\]/g, '')}`);
      const e = outcome(Buffer.from(dirty, 'latin1'));
      expect(e).to.equal(undefined);
    }), { numRuns: 300 });
  });

  it('ends in a value or a SourceError for any bytes at all, and quotes no secret in them', () => {
    fc.assert(fc.property(documents, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), (doc, flips) => {
      const bytes = Buffer.from(doc);
      for (const [at, b] of flips) bytes[at % bytes.length] = b;
      quotesNoSecret(outcome(bytes));
    }), { numRuns: 400 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (raw) => {
      outcome(Buffer.from(raw));
    }), { numRuns: 400 });
  });

  it('refuses a document nested deeper than any stats document, without overflowing the stack', () => {
    for (const depth of [600, 100_000]) {
      const e = outcome(Buffer.from('{"a":' + '['.repeat(depth) + ']'.repeat(depth) + ',"x":"\u0001"}'));
      expect(e?.code, String(depth)).to.equal('invalid_json');
    }
  });
});
