// The --help text, written from the option declarations and the source kinds, so that it cannot
// drift from what is parsed.

import { OPTIONS } from './config.js';
import { SOURCE_KINDS } from './sources/index.js';

export function helpText(): string {
  const rows = OPTIONS.map((o) => {
    const names = [o.short, `${o.flag}${o.arg ? ` ${o.arg}` : ''}`].filter(Boolean).join(', ');
    const dflt = o.default && o.default !== 'off' ? ` (default: ${o.default})` : '';
    return `  ${names.padEnd(26)} ${o.doc}${dflt}`;
  });
  const sources = SOURCE_KINDS.flatMap((k) => k.help).map(([example, doc]) => `  ${example.padEnd(51)} ${doc}`);
  return `Usage: wsgistat [options] SOURCE...
       wsgistat discover [--format text|json]    list the servers on this host (see discover --help)
       wsgistat top [-i DURATION] [SOURCE...]    watch them live in the terminal (see top --help)

Reads the live state of uWSGI and gunicorn servers and prints it as flat JSON records, one per
line: a summary per server and, as asked, one record per worker, core, app or socket, with
counters turned into rates since the previous sample.

Sources (label them as NAME=ADDRESS; several are read at once):
${sources.join('\n')}

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
