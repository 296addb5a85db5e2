// The uWSGI stats server source: transport (transport.ts), lenient decode (../json.ts), and the
// pure mapping to records (shape.ts).

import { describeEndpoint } from '../endpoint.js';
import { decodeJson, repairNotice } from '../json.js';
import type { ShapeOptions, Sample, Source, SourceSpec } from '../types.js';
import { fetchStats, PROBE_MS } from './transport.js';
import { reportedPids, shapeUwsgi } from './shape.js';
import { checkLiveness, isLocal } from './liveness.js';

/** The same endpoint, written in the other mode's address form. */
function otherModeAddress(spec: SourceSpec, served: 'raw' | 'http'): string {
  const ep = spec.address.endpoint;
  if (ep.kind === 'tcp') return `${served === 'http' ? 'http' : 'tcp'}://${describeEndpoint(ep)}`;
  const path = ep.kind === 'unix' && ep.path.startsWith('\0') ? `@${ep.path.slice(1)}` : ep.path;
  return `${served === 'http' ? 'http+unix' : 'unix'}://${path}`;
}

/** What to tell a user who named the wrong stats mode. */
function modeNotice(spec: SourceSpec, served: 'raw' | 'http'): string | undefined {
  if (spec.address.mode === served) return undefined;
  return served === 'http'
    ? `the server is in HTTP mode (--stats-http) and answered only after a ${PROBE_MS} ms probe; use ${otherModeAddress(spec, served)} to read it at once`
    : `the server is in raw mode (no --stats-http) and sent its document without reading the request; use ${otherModeAddress(spec, served)}`;
}

export function uwsgiSocketSource(spec: SourceSpec, shape: ShapeOptions): Source {
  return {
    spec,
    server: 'uwsgi',
    async collect(): Promise<Sample> {
      const fetched = await fetchStats(spec.address, spec);
      const notices: string[] = [];
      const mode = modeNotice(spec, fetched.served);
      if (mode) notices.push(mode);
      const decoded = decodeJson(fetched.payload, describeEndpoint(spec.address.endpoint));
      const repaired = repairNotice(decoded);
      if (repaired) notices.push(repaired);
      // Right after the read, so that the pids are as fresh as the document.
      const pids = reportedPids(decoded.value);
      const live = pids && checkLiveness(pids.master, pids.workers, isLocal(spec.address.endpoint));
      return { server: 'uwsgi', bodies: shapeUwsgi(decoded.value, shape, live), notices };
    },
  };
}
