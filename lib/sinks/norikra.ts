// The Norikra output kind: norikra://host:port/target (norikra+https:// for TLS), its JSON API.

import { checkHttpOutput, describeHttpOutput, httpCreate, HTTP_OUTPUT_OPTIONS, parseHttpUrl, type HttpOutput } from './http-output.js';
import type { SinkKind } from './types.js';

/** Norikra's rule for target names (its Target class): a letter first, then letters, digits and
 *  underscores, not ending in an underscore. A name it refuses gets an HTTP 400. */
export const NORIKRA_TARGET = /^[a-zA-Z]([_a-zA-Z0-9]*[a-zA-Z0-9])?$/;

const norikraForms = 'norikra://host:port/target (norikra+https:// for TLS)';

export const norikraKind: SinkKind<HttpOutput> = {
  name: 'norikra',
  claims: (text) => /^norikra(\+https)?:/i.test(text),
  parse: (text) => parseHttpUrl(text, 'norikra', {
    forms: norikraForms,
    defaultPort: '26578',
    tagOf(path) {
      if (!NORIKRA_TARGET.test(path)) throw new Error(`${JSON.stringify(text)}: the path is the Norikra target, a letter then letters, digits and _ (not ending in _), e.g. norikra://127.0.0.1:26578/uwsgi_stats`);
      return path;
    },
  }),
  forms: norikraForms,
  docs: [{ output: '`norikra://host:port/target` (port 26578 by default), `norikra+https://...`', does: "Norikra's JSON API: the target is opened (with `auto_field`, see [conf/norikra-target.json](conf/norikra-target.json)), then each tick's records are sent as its events. Records are flat, so queries name fields directly: `select host, avg(listen_queue) from uwsgi_stats.win:time_batch(1 min) where type = 'summary' group by host`" }],
  options: HTTP_OUTPUT_OPTIONS,
  noun: 'HTTP output',
  delivers: true,
  check: checkHttpOutput,
  describe: describeHttpOutput,
  create: httpCreate('norikraTransport'),
};
