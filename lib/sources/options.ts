// The options every source has, whatever its kind: given once for all sources (a flag, or a key at
// the top of the config file), or per source in its object in the config file ("sources").

import type { Option } from '../options/engine.js';
import { bad, duration, size, type ValueType } from '../options/values.js';
import { parseListen } from './backlog.js';

export type Listen = { host: string; port: number } | 'none';

const listen: ValueType<Listen> = {
  parse(v, origin) {
    if (v === 'none') return 'none';
    const l = typeof v === 'string' ? parseListen(v) : undefined;
    return l ?? bad(origin, 'a TCP listener as HOST:PORT, such as "127.0.0.1:8000", or "none"', v);
  },
  show: (v) => (v === 'none' ? 'none' : `${v.host}:${v.port}`),
};

/** `each`: a flag sets every source's default; `one`: a flag is for the one source there is. */
export type SourceOption<T> = Option<T> & { key: string; scope: 'each' | 'one' };

export const TIMEOUT: SourceOption<number> = { flag: '--timeout', short: '-t', key: 'timeout', scope: 'each', arg: 'DURATION', type: duration, default: 3000, doc: 'time allowed for each source to answer in full (500ms, 3s; a bare number is seconds)' };
export const MAX_BYTES: SourceOption<number> = { flag: '--max-bytes', key: 'max_bytes', scope: 'each', arg: 'SIZE', type: size, default: 16 * 1024 * 1024, doc: 'size cap for one stats document (bytes, or with K/KiB, M/MiB)' };
export const LISTEN: SourceOption<Listen> = {
  flag: '--listen', key: 'listen', scope: 'one', arg: 'HOST:PORT', type: listen,
  defaultDoc: 'none (gunicorn with the wsgistat hooks: found from its master)',
  doc: "read the accept backlog of this TCP listener from /proc/net/tcp; none: do not look for one (one source only; per source: \"listen\" in the config file)",
};

export const SOURCE_OPTIONS: readonly SourceOption<any>[] = [TIMEOUT, MAX_BYTES, LISTEN];
