// The output kinds wsgistat knows. A new kind is one file and one line here.

import { fluentdKind } from './fluentd.js';
import { forwardKind } from './forward.js';
import { norikraKind } from './norikra.js';
import { prometheusKind } from './prometheus.js';
import { stdoutKind } from './stdout.js';
import type { SinkKind } from './types.js';

export const SINK_KINDS: readonly SinkKind[] = [stdoutKind, fluentdKind, norikraKind, forwardKind, prometheusKind];
