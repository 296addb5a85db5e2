// How a receiver's refusal is named on stderr and in the dead-letter file: its words, never the
// records it may echo back.

import { expect } from 'chai';
import { short } from '../../lib/sinks/http.js';

describe("a receiver's answer in diagnostics", () => {
  it('keeps the status line and reason of Fluentd, leaving out what it quotes', () => {
    expect(short('400 Bad Request\nunexpected character: \'Bearer s3cr3t\' at line 1\n')).to.equal("400 Bad Request unexpected character: '…' at line 1");
  });

  it('only describes a body that looks like data, or holds bytes that are not printable', () => {
    expect(short('{"records":[{"var_HTTP_AUTHORIZATION":"Bearer s3cr3t"}]}')).to.equal('(56 bytes of JSON-like text, printable ASCII only)');
    expect(short('bad \u0001 s3cr3t')).to.match(/^\(\d+ bytes of text, with control bytes\)$/);
  });

  it("gives Norikra's error as words, and an empty body as such", () => {
    expect(short('{"error":"Norikra::ClientError","message":"target name is invalid"}')).to.equal('Norikra::ClientError: target name is invalid');
    expect(short('')).to.equal('(empty body)');
  });
});
