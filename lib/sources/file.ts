// A stats document saved in a file (file:///path.json), as written by tools such as wsgi_status
// or `curl` of a --stats-http server, or a gunicorn status file. The format is recognised from the
// content. (A gunicorn status file that is being rewritten is better read as gunicorn://, which
// reads it again until it is whole.)

import { describeEndpoint } from './address.js';
import { SourceError, fromSystemError } from '../errors.js';
import { decodeJson, repairNotice } from './json.js';
import type { ShapeOptions, Sample, Source, SourceSpec } from './types.js';
import { isUwsgiStats, shapeUwsgi } from './uwsgi/shape.js';
import { isGunicornStatus, shapeGunicorn } from './gunicorn/shape.js';
import { pidAlive } from './gunicorn/index.js';

async function readBounded(path: string, spec: SourceSpec, where: string): Promise<Buffer> {
  // Loaded here, not at start-up: only file sources need it (~2 ms of every start otherwise).
  const { open } = await import('node:fs/promises');
  const signal = AbortSignal.timeout(spec.timeoutMs);
  let handle;
  try {
    handle = await open(path, 'r');
    const { size } = await handle.stat();
    if (size > spec.maxBytes) {
      throw new SourceError('too_large', `${where} is ${size} bytes, over the size cap of ${spec.maxBytes} (raise --max-bytes)`);
    }
    return await handle.readFile({ signal });
  } catch (err) {
    if (err instanceof SourceError) throw err;
    if ((err as Error).name === 'AbortError') throw new SourceError('timeout', `${where} could not be read within ${spec.timeoutMs} ms`);
    throw fromSystemError(err as NodeJS.ErrnoException, where);
  } finally {
    await handle?.close();
  }
}

export function fileSource(spec: SourceSpec, shape: ShapeOptions): Source {
  if (spec.address.endpoint.kind !== 'file') throw new Error('fileSource needs a file address');
  const path = spec.address.endpoint.path;
  const where = describeEndpoint(spec.address.endpoint);
  return {
    spec,
    async collect(): Promise<Sample> {
      const bytes = await readBounded(path, spec, where);
      const decoded = decodeJson(bytes, where);
      const value = decoded.value;
      const repaired = repairNotice(decoded);
      const notices = repaired ? [repaired] : [];
      if (isUwsgiStats(value)) return { server: 'uwsgi', bodies: shapeUwsgi(value, shape), notices };
      if (isGunicornStatus(value)) return { server: 'gunicorn', bodies: shapeGunicorn(value, { ...shape, alive: pidAlive }), notices };
      throw new SourceError('not_stats', `${where} holds JSON but neither a uWSGI stats document (no "workers" list) nor a gunicorn status file (no "stats" list)`);
    },
  };
}
