import { expect } from 'chai';
import { resolve } from 'node:path';
import { parseAddress } from '../../lib/sources/address.js';

describe('source addresses', () => {
  const cases: [string, object][] = [
    ['unix:///run/uwsgi/app.stats', { endpoint: { kind: 'unix', path: '/run/uwsgi/app.stats' }, mode: 'raw' }],
    ['unix:/run/uwsgi/app.stats', { endpoint: { kind: 'unix', path: '/run/uwsgi/app.stats' }, mode: 'raw' }],
    ['/run/uwsgi/app.stats', { endpoint: { kind: 'unix', path: '/run/uwsgi/app.stats' }, mode: 'raw' }],
    ['./app.stats', { endpoint: { kind: 'unix', path: resolve('app.stats') }, mode: 'raw' }],
    ['@uwsgi-stats', { endpoint: { kind: 'unix', path: '\0uwsgi-stats' }, mode: 'raw' }],
    ['unix:@uwsgi-stats', { endpoint: { kind: 'unix', path: '\0uwsgi-stats' }, mode: 'raw' }],
    ['unix://@uwsgi-stats', { endpoint: { kind: 'unix', path: '\0uwsgi-stats' }, mode: 'raw' }],
    ['tcp://127.0.0.1:1717', { endpoint: { kind: 'tcp', host: '127.0.0.1', port: 1717 }, mode: 'raw' }],
    ['127.0.0.1:1717', { endpoint: { kind: 'tcp', host: '127.0.0.1', port: 1717 }, mode: 'raw' }],
    ['localhost:1717', { endpoint: { kind: 'tcp', host: 'localhost', port: 1717 }, mode: 'raw' }],
    [':1717', { endpoint: { kind: 'tcp', host: '127.0.0.1', port: 1717 }, mode: 'raw' }],
    ['0.0.0.0:1717', { endpoint: { kind: 'tcp', host: '127.0.0.1', port: 1717 }, mode: 'raw' }],
    ['[::1]:1717', { endpoint: { kind: 'tcp', host: '::1', port: 1717 }, mode: 'raw' }],
    ['http://127.0.0.1:1717', { endpoint: { kind: 'tcp', host: '127.0.0.1', port: 1717 }, mode: 'http', httpPath: '/' }],
    ['http://[::1]:1717/stats', { endpoint: { kind: 'tcp', host: '::1', port: 1717 }, mode: 'http', httpPath: '/stats' }],
    ['http+unix:///run/uwsgi/app.stats', { endpoint: { kind: 'unix', path: '/run/uwsgi/app.stats' }, mode: 'http' }],
    ['http+unix://@uwsgi-stats', { endpoint: { kind: 'unix', path: '\0uwsgi-stats' }, mode: 'http' }],
    ['file:///var/tmp/stats.json', { endpoint: { kind: 'file', path: '/var/tmp/stats.json' }, mode: 'file' }],
    ['file:stats.json', { endpoint: { kind: 'file', path: resolve('stats.json') }, mode: 'file' }],
  ];
  for (const [text, expected] of cases) {
    it(`reads ${text}`, () => {
      expect(parseAddress(text)).to.deep.include({ text, ...expected });
    });
  }

  const bad: [string, RegExp][] = [
    ['', /empty address/],
    ['https://127.0.0.1:1717', /does not speak TLS/],
    ['127.0.0.1:70000', /port 70000 is out of range/],
    ['ftp://x:1', /unknown scheme "ftp:"/],
    ['app.stats', /cannot tell what kind of address/],
    ['@', /needs a name/],
    ['tcp://127.0.0.1', /expected host:port/],
  ];
  for (const [text, why] of bad) {
    it(`rejects ${JSON.stringify(text)}, naming it and the forms an address may take`, () => {
      expect(() => parseAddress(text)).to.throw(why).with.property('message').that.includes(`source "${text}"`).and.includes('unix:///path, /path, @name');
    });
  }
});
