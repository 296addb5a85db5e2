// The source kinds wsgistat knows. A new kind is one folder and one line here.

import { fileKind } from './file.js';
import { gunicornKind } from './gunicorn/kind.js';
import { prometheusKind } from './prometheus/kind.js';
import type { SourceKind } from './types.js';
import { uwsgiKind } from './uwsgi/kind.js';

export const SOURCE_KINDS: readonly SourceKind[] = [uwsgiKind, fileKind, gunicornKind, prometheusKind];
