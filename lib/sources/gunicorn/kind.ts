// The gunicorn source kind: the directory conf/gunicorn_wsgistat.py keeps, or the status file of
// the older hooks mackerel-plugin-gunicorn documents.

import { afterScheme, fileEndpoint } from '../endpoint.js';
import type { SourceKind } from '../types.js';
import { gunicornSource } from './index.js';

export const gunicornKind: SourceKind = {
  name: 'gunicorn',
  schemes: ['gunicorn'],
  parse: (text) => ({ text, kind: 'gunicorn', endpoint: fileEndpoint(afterScheme(text, 'gunicorn'), 'status file path'), mode: 'gunicorn', httpPath: '/' }),
  forms: ['gunicorn:///path.json'],
  help: [['gunicorn:///dev/shm/gunicorn_status.json', 'a gunicorn status file kept by config hooks']],
  docs: [{ forms: '`gunicorn:///dev/shm/gunicorn_status.json`', reads: 'a gunicorn status file, as kept by the config hooks that mackerel-plugin-gunicorn documents (see [gunicorn](#gunicorn))' }],
  // The hooks record the master's pid and bind addresses: the backlog step finds the listener.
  findsListener: true,
  create: gunicornSource,
};
