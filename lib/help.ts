// The --help text, written from the option table so that it cannot drift from what is parsed.

import { OPTIONS } from './config.js';

export function helpText(): string {
  const rows = OPTIONS.map((o) => {
    const names = [o.short, `${o.flag}${o.arg ? ` ${o.arg}` : ''}`].filter(Boolean).join(', ');
    const dflt = o.default && o.default !== 'off' ? ` (default: ${o.default})` : '';
    return `  ${names.padEnd(26)} ${o.doc}${dflt}`;
  });
  return `Usage: wsgistat [options] SOURCE...

Reads the live state of uWSGI and gunicorn servers and prints it as flat JSON records, one per
line: a summary per server and, as asked, one record per worker, core, app or socket, with
counters turned into rates since the previous sample.

Sources (label them as NAME=ADDRESS; several are read at once):
  unix:///run/uwsgi/app.stats, /run/uwsgi/app.stats   uWSGI stats on a unix socket
  @name, unix:@name                                   ... on an abstract unix socket
  tcp://127.0.0.1:1717, 127.0.0.1:1717                ... on TCP
  http://127.0.0.1:1717                               ... a server started with --stats-http
  http+unix:///run/uwsgi/app.stats                    ... --stats-http on a unix socket
  file:///var/tmp/stats.json                          a uWSGI stats document saved in a file
  gunicorn:///dev/shm/gunicorn_status.json            a gunicorn status file kept by config hooks

Options:
${rows.join('\n')}

Exit status: 0 every source was read; 1 a source failed; 2 a usage or config error.

Examples:
  wsgistat unix:///run/uwsgi/app.stats
  wsgistat --records all app1=/run/uwsgi/app1.stats app2=127.0.0.1:1717 | jq .
  wsgistat --config /etc/wsgistat.json --timeout 1s
  wsgistat --interval 10s unix:///run/uwsgi/app.stats      # stay up, sample at :00, :10, ...
  wsgistat gunicorn:///dev/shm/gunicorn_status.json
`;
}
