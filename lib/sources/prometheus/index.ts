// The Prometheus source: a /metrics endpoint (prometheus_client's, as the gunicorn setups this
// project grew from serve it), read bounded (fetch.ts), parsed (parse.ts) and mapped to records
// (map.ts). Pids that are not alive on this host are dropped (counted as stale) when the endpoint
// is local; a remote one keeps them all.

import { SourceError } from '../../errors.js';
import { pidAlive, readStat } from '../../proc.js';
import { describeEndpoint } from '../endpoint.js';
import type { Sample, ShapeOptions, Source, SourceSpec } from '../types.js';
import { isLocal } from '../uwsgi/liveness.js';
import { fetchMetrics } from './fetch.js';
import { mapFamilies, type MapOptions } from './map.js';
import { formatOf, parseExposition, ParseError, type MetricFamily } from './parse.js';
import { metricBodies } from './series.js';

const parentOf = (pid: number) => {
  try {
    return readStat(pid)?.ppid;
  } catch {
    return undefined;
  }
};

/** Families to a sample, as the shape options ask. */
export function sampleOf(families: MetricFamily[], spec: SourceSpec, shape: ShapeOptions, local: boolean, scrapeEndpoint?: string): Sample {
  const opts: MapOptions = { names: spec.own?.metrics as MapOptions['names'], ...(local ? { alive: pidAlive, parentOf } : {}), ...(scrapeEndpoint ? { scrapeEndpoint } : {}) };
  const m = mapFamilies(families, opts);
  const bodies = m.bodies.filter((b) => shape.records.has(b.type as 'summary'));
  // A loop, not push(...): a /metrics of ~130,000 series would overflow the stack as arguments.
  if (shape.records.has('metric')) for (const b of metricBodies(families, m.mapped, opts.alive)) bodies.push(b);
  return {
    server: 'gunicorn',
    bodies,
    notices: m.notices,
    ownTotals: true,
    ...(m.histogram ? { histograms: new Map([['summary', m.histogram]]), histogramBounds: m.bounds } : {}),
  };
}

/** prometheus_client's multiprocess directory itself: works when every worker is busy (nobody
 *  has to serve /metrics) and costs the app nothing. */
function multiprocSource(spec: SourceSpec, shape: ShapeOptions): Source {
  const dir = (spec.address.endpoint as { path: string }).path;
  return {
    spec,
    server: 'gunicorn',
    async collect() {
      const { readMultiprocDir, mergeMultiproc } = await import('./multiproc.js');
      const { files, problems } = readMultiprocDir(dir, { maxFileBytes: spec.maxBytes, maxDirBytes: Math.max(spec.maxBytes, 16 * spec.maxBytes), maxFiles: 10000 });
      if (files.length === 0 && problems.length === 0) throw new SourceError('empty', `prometheus_client multiprocess directory ${dir} holds no metrics yet (is PROMETHEUS_MULTIPROC_DIR this directory, and has a worker served a request?)`);
      const sample = sampleOf(mergeMultiproc(files), spec, shape, true);
      if (problems.length) sample.notices.push(`${problems.length} file(s) of ${dir} left out: ${problems.slice(0, 3).map((p) => `${p.name} (${p.reason})`).join('; ')}`);
      return sample;
    },
  };
}

export function prometheusSource(spec: SourceSpec, shape: ShapeOptions): Source {
  const a = spec.address;
  if (a.mode === 'multiproc') return multiprocSource(spec, shape);
  const where = `${a.mode === 'https' ? 'https' : 'http'} endpoint ${describeEndpoint(a.endpoint)}${a.httpPath}`;
  const ep = a.endpoint;
  return {
    spec,
    server: 'gunicorn',
    async collect() {
      const got = await fetchMetrics({
        https: a.mode === 'https', path: a.httpPath, where,
        ...(ep.kind === 'unix' ? { socketPath: ep.path } : ep.kind === 'tcp' ? { host: ep.host, port: ep.port } : {}),
      }, spec);
      let families: MetricFamily[];
      try {
        families = parseExposition(got.body, formatOf(got.contentType));
      } catch (e) {
        if (e instanceof ParseError) throw new SourceError('not_stats', `${where} did not send a Prometheus exposition: ${e.message}`);
        throw e;
      }
      const endpoint = a.httpPath.split('/').filter(Boolean).pop();
      return sampleOf(families, spec, shape, isLocal(ep), endpoint);
    },
  };
}
