// The endpoint of a prometheus:// output: an HTTP server that answers GET <path> with the latest
// sample of every source in the text format 0.0.4. A tick replaces the sample; a scrape never
// reads a source (Prometheus may scrape as often as it likes, and costs the servers nothing).

import { createServer, type Server } from 'node:http';
import * as log from '../../log.js';
import type { Rec } from '../../records/types.js';
import type { Sink, TickInfo } from '../types.js';
import { CONTENT_TYPE, writeExposition } from './exposition.js';
import { bySource, familiesOf, type SourceSample } from './metrics.js';

export interface PrometheusOutput {
  kind: 'prometheus';
  name: string;
  host: string;
  port: number;
  path: string;
}

/** Listens (rejects when the port cannot be had) and serves until close(). */
export async function prometheusSink(out: PrometheusOutput): Promise<Sink> {
  let latest: SourceSample[] = [];
  let body = '';
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== out.path) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`not found: wsgistat serves ${out.path}\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('GET it\n');
      return;
    }
    res.writeHead(200, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  // Bounded: slow or idle clients are cut off, and only so many at once.
  server.headersTimeout = 5000;
  server.requestTimeout = 10000;
  server.keepAliveTimeout = 5000;
  server.maxConnections = 64;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(out.port, out.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (e) => log.error(`sink ${out.name}`, `the endpoint failed: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
  return {
    name: out.name,
    async write(records: Rec[], info?: TickInfo) {
      latest = bySource(records).map((s) => {
        const ms = info?.readMs.get(`${s.label ?? ''}=${s.source}`);
        return ms === undefined ? s : { ...s, readSeconds: ms / 1000 };
      });
      body = writeExposition(familiesOf(latest));
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      return 0;
    },
  };
}
