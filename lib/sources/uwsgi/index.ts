// The uWSGI stats server source: transport (transport.ts), lenient decode (../json.ts), and the
// pure mapping to records (shape.ts).

import { SourceError } from '../../errors.js';
import { describeEndpoint, type Address } from '../endpoint.js';
import { decodeJson, repairNotice } from '../json.js';
import type { ShapeOptions, Sample, Source, SourceSpec } from '../types.js';
import { fetchStats, PROBE_MS, type Verdict } from './transport.js';
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
    ? `the server is in HTTP mode (--stats-http): it sent nothing for ${PROBE_MS} ms, and /proc shows it is uWSGI's stats server, so it was read over HTTP; use ${otherModeAddress(spec, served)} to read it at once`
    : `the server is in raw mode (no --stats-http) and sent its document without reading the request; use ${otherModeAddress(spec, served)}`;
}

/** Nothing came within the probe window: advice.ts looks at what the socket is. */
const onSilence = async (addr: Address, waitedMs: number): Promise<Verdict> => (await import('./advice.js')).onSilence(addr, waitedMs);

async function collectOnce(spec: SourceSpec, shape: ShapeOptions): Promise<Sample> {
  const fetched = await fetchStats(spec.address, spec, onSilence);
  const where = describeEndpoint(spec.address.endpoint);
  // No uWSGI stats server speaks HTTP unasked: an application (or a proxy) does.
  if (fetched.served === 'http' && !fetched.requested) throw new SourceError('not_stats', `${where} answered HTTP without being asked`);
  const notices: string[] = [];
  const mode = modeNotice(spec, fetched.served);
  if (mode) notices.push(mode);
  const decoded = decodeJson(fetched.payload, where);
  const repaired = repairNotice(decoded);
  if (repaired) notices.push(repaired);
  // Right after the read, so that the pids are as fresh as the document.
  const pids = reportedPids(decoded.value);
  const live = pids && checkLiveness(pids.master, pids.workers, isLocal(spec.address.endpoint));
  return { server: 'uwsgi', bodies: shapeUwsgi(decoded.value, shape, live), notices };
}

export function uwsgiSocketSource(spec: SourceSpec, shape: ShapeOptions): Source {
  return {
    spec,
    server: 'uwsgi',
    async collect(): Promise<Sample> {
      try {
        return await collectOnce(spec, shape);
      } catch (e) {
        if (!(e instanceof SourceError)) throw e;
        // Said again with what the address really is, when that can be told.
        throw (await import('./advice.js')).explain(spec.address, e, spec.maxBytes);
      }
    },
  };
}
