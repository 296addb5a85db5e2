// The uWSGI stats server source: transport (transport.ts), lenient decode (../json.ts), and the
// pure mapping to records (shape.ts).

import { SourceError } from '../../errors.js';
import { describeEndpoint, type Address } from '../endpoint.js';
import { decodeJson, repairNotice } from '../json.js';
import type { ShapeOptions, Sample, SamplePart, Source, SourceSpec } from '../types.js';
import { isEmperorStats, shapeEmperor, vassalsIn } from './emperor.js';
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

/** What discovery said of a vassal's stats server, by vassal pid: kept while the pid lives. */
type Known = Map<number, { address: string | null; problem?: string }>;

/** Each vassal's stats address, from /proc (the code `wsgistat discover` uses, loaded only for an
 *  Emperor), remembered per pid so that a continuous run looks once per vassal process. */
async function vassalAddresses(emperorPid: number, pids: number[], known: Known): Promise<void> {
  for (const pid of known.keys()) if (!pids.includes(pid)) known.delete(pid);
  if (pids.every((p) => known.has(p))) return;
  const [{ readTable }, { vassalsOf }] = await Promise.all([import('../../discover/procfs.js'), import('../../discover/uwsgi.js')]);
  const found = vassalsOf('/proc', readTable('/proc'), emperorPid);
  for (const pid of pids) {
    const f = found.find((x) => x.pid === pid);
    known.set(pid, f ? { address: f.address, ...(f.problem ? { problem: f.problem } : {}) } : { address: null, problem: `pid ${pid} is not a uWSGI child of the Emperor (pid ${emperorPid}) here` });
  }
}

/** An Emperor's sample: its own records, and each vassal's stats server read as a part. */
async function emperorSample(spec: SourceSpec, shape: ShapeOptions, doc: Record<string, unknown>, known: Known, notices: string[]): Promise<Sample> {
  const vassals = vassalsIn(doc).filter((v) => v.pid > 0);
  const addresses = new Map<string, string | null>();
  const parts: SamplePart[] = [];
  if (!isLocal(spec.address.endpoint)) {
    notices.push("the Emperor is not on this host, so its vassals' stats servers cannot be found: give each vassal's stats address as a source");
  } else if (vassals.length) {
    const emperorPid = typeof doc.pid === 'number' ? doc.pid : 0;
    await vassalAddresses(emperorPid, vassals.map((v) => v.pid), known);
    const { parseAddress } = await import('../address.js');
    const reads: Promise<SamplePart>[] = [];
    for (const v of vassals) {
      const k = known.get(v.pid)!;
      addresses.set(v.name, k.address);
      if (k.problem) notices.push(`vassal ${v.name} (pid ${v.pid}): ${k.problem}`);
      if (!k.address) continue;
      const child = uwsgiSocketSource({ ...spec, address: parseAddress(k.address), label: undefined, listen: 'none' }, shape);
      reads.push(child.collect().then(
        (value): SamplePart => ({ vassal: v.name, result: { status: 'fulfilled', value } }),
        (reason: unknown): SamplePart => ({ vassal: v.name, result: { status: 'rejected', reason } }),
      ));
    }
    parts.push(...(await Promise.all(reads)));
    for (const p of parts) if (p.result.status === 'fulfilled') notices.push(...p.result.value.notices.map((n) => `vassal ${p.vassal}: ${n}`));
  }
  return { server: 'uwsgi', bodies: shapeEmperor(doc, shape, addresses), notices, parts };
}

/** Nothing came within the probe window: advice.ts looks at what the socket is. */
const onSilence = async (addr: Address, waitedMs: number): Promise<Verdict> => (await import('./advice.js')).onSilence(addr, waitedMs);

async function collectOnce(spec: SourceSpec, shape: ShapeOptions, known: Known): Promise<Sample> {
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
  if (isEmperorStats(decoded.value)) return emperorSample(spec, shape, decoded.value, known, notices);
  // Right after the read, so that the pids are as fresh as the document.
  const pids = reportedPids(decoded.value);
  const live = pids && checkLiveness(pids.master, pids.workers, isLocal(spec.address.endpoint));
  return { server: 'uwsgi', bodies: shapeUwsgi(decoded.value, shape, live), notices };
}

export function uwsgiSocketSource(spec: SourceSpec, shape: ShapeOptions): Source {
  const known: Known = new Map();
  return {
    spec,
    server: 'uwsgi',
    async collect(): Promise<Sample> {
      try {
        return await collectOnce(spec, shape, known);
      } catch (e) {
        if (!(e instanceof SourceError)) throw e;
        // Said again with what the address really is, when that can be told.
        throw (await import('./advice.js')).explain(spec.address, e, spec.maxBytes);
      }
    },
  };
}
