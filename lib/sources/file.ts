// A stats document saved in a file (file:///path.json), as written by tools such as wsgi_status
// or `curl` of a --stats-http server, or a gunicorn status file. The format is recognised from the
// content. Whatever the path turns out to be (a device, a FIFO, a symlink to either), the read is
// bounded by --max-bytes and --timeout as it happens (read.ts). (A gunicorn status file that is being rewritten is better read as gunicorn://, which
// reads it again until it is whole.)

import { afterScheme, describeEndpoint, fileEndpoint } from './endpoint.js';
import { SourceError } from '../errors.js';
import { readFileBounded } from '../read.js';
import { decodeJson, repairNotice } from './json.js';
import type { ShapeOptions, Sample, Source, SourceKind, SourceSpec } from './types.js';
import { isEmperorStats, shapeEmperor } from './uwsgi/emperor.js';
import { isUwsgiStats, shapeUwsgi } from './uwsgi/shape.js';
import { isGunicornStatus, shapeGunicorn } from './gunicorn/shape.js';
import { pidAlive } from '../proc.js';

export function fileSource(spec: SourceSpec, shape: ShapeOptions): Source {
  if (spec.address.endpoint.kind !== 'file') throw new Error('fileSource needs a file address');
  const path = spec.address.endpoint.path;
  const where = describeEndpoint(spec.address.endpoint);
  return {
    spec,
    async collect(): Promise<Sample> {
      const bytes = await readFileBounded(path, where, spec);
      const decoded = decodeJson(bytes, where);
      const value = decoded.value;
      const repaired = repairNotice(decoded);
      const notices = repaired ? [repaired] : [];
      if (isUwsgiStats(value)) return { server: 'uwsgi', bodies: shapeUwsgi(value, shape), notices };
      // An Emperor's document saved to a file: its own records; its vassals' servers are not read.
      if (isEmperorStats(value)) return { server: 'uwsgi', bodies: shapeEmperor(value, shape, new Map()), notices };
      if (isGunicornStatus(value)) return { server: 'gunicorn', bodies: shapeGunicorn(value, { ...shape, alive: pidAlive }), notices };
      throw new SourceError('not_stats', `${where} holds JSON but neither a uWSGI stats document (no "workers" list) nor a gunicorn status file (no "stats" list)`);
    },
  };
}

export const fileKind: SourceKind = {
  name: 'file',
  schemes: ['file'],
  parse: (text) => ({ text, kind: 'file', endpoint: fileEndpoint(afterScheme(text, 'file'), 'file path'), mode: 'file', httpPath: '/' }),
  forms: ['file:///path.json'],
  help: [['file:///var/tmp/stats.json', 'a uWSGI stats document saved in a file']],
  docs: [{ forms: '`file:///var/tmp/stats.json`, `file:stats.json`', reads: 'a uWSGI stats document saved in a file (by `curl`, wsgi_status, `uwsgi --connect-and-read`), or a gunicorn status file' }],
  create: fileSource,
};
