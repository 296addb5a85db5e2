// The delivery settings of the outputs with a receiver (SinkKind.delivers), declared once.

import type { Option } from '../options/engine.js';
import { duration, size, text } from '../options/values.js';
import { wsgistatDir } from '../state.js';
import { join } from 'node:path';
import type { DeliverySettings } from './types.js';

export const SEND_TIMEOUT: Option<number> = { flag: '--send-timeout', key: 'send_timeout', arg: 'DURATION', type: duration, default: 5000, doc: 'time allowed for one request to a receiver; then it counts as failed and is retried' };
export const RETRY_FOR: Option<number> = { flag: '--retry-for', key: 'retry_for', arg: 'DURATION', type: duration, default: 5000, doc: 'one-shot runs: how long to keep retrying a receiver that fails before leaving the records in the spool for the next run' };
export const SPOOL_DIR: Option<string> = { flag: '--spool-dir', key: 'spool_dir', arg: 'PATH', type: text('a directory path'), defaultDoc: '~/.local/state/wsgistat/spool', doc: 'where records wait while a receiver is away (a directory per output, owner-only)' };
export const SPOOL_MAX: Option<number> = { flag: '--spool-max', key: 'spool_max', arg: 'SIZE', type: size, default: 64 * 1024 * 1024, doc: 'spool size per output; when full, the oldest records are dropped, with an error' };

export const DELIVERY_OPTIONS: readonly Option<any>[] = [SEND_TIMEOUT, RETRY_FOR, SPOOL_DIR, SPOOL_MAX];

export function deliverySettings(value: <T>(o: Option<T>) => T | undefined): DeliverySettings {
  return {
    sendTimeoutMs: value(SEND_TIMEOUT)!,
    retryForMs: value(RETRY_FOR)!,
    spoolDir: value(SPOOL_DIR) ?? join(wsgistatDir(), 'spool'),
    spoolMaxBytes: value(SPOOL_MAX)!,
  };
}
