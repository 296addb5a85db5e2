// The Fluentd in_http output kind: http(s)://host:port/tag, one POST of a JSON array per batch.

import { checkHttpOutput, describeHttpOutput, httpCreate, HTTP_OUTPUT_OPTIONS, parseHttpUrl, type HttpOutput } from './http-output.js';
import type { SinkKind } from './types.js';

const fluentdForms = 'http(s)://host:port/tag (Fluentd in_http)';

export const fluentdKind: SinkKind<HttpOutput> = {
  name: 'fluentd',
  claims: (text) => /^https?:/i.test(text),
  parse: (text) => parseHttpUrl(text, 'fluentd', {
    forms: fluentdForms,
    // in_http: POST /a/b emits with tag a.b.
    tagOf(path) {
      const tag = path.split('/').filter(Boolean).join('.');
      if (!/^[A-Za-z0-9_.-]+$/.test(tag)) throw new Error(`${JSON.stringify(text)}: the path is the Fluentd tag, e.g. http://127.0.0.1:9880/uwsgi.stats`);
      return tag;
    },
  }),
  forms: fluentdForms,
  docs: [{ output: '`http://host:port/tag`, `https://...`', does: 'Fluentd `in_http`: one POST per tick of a JSON array to `/tag` (`/a/b` is tag `a.b`). `time` is a number, so in_http makes it the event time and takes it out of the record. See [conf/fluentd-http.conf](conf/fluentd-http.conf)' }],
  options: HTTP_OUTPUT_OPTIONS,
  noun: 'HTTP output',
  delivers: true,
  check: checkHttpOutput,
  describe: describeHttpOutput,
  create: httpCreate('fluentdTransport'),
};
