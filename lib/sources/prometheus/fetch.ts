// One bounded GET of a /metrics endpoint over TCP (http, https) or a unix socket: at most the
// source's size cap is held, at most its timeout is spent, whatever the server does.

import { SourceError, fromSystemError } from '../../errors.js';

export interface MetricsTarget {
  https: boolean;
  /** TCP host and port, or a unix socket path. */
  host?: string;
  port?: number;
  socketPath?: string;
  path: string;
  /** How the target is named in messages. */
  where: string;
}

/** The text format 0.0.4 first (every client writes it); OpenMetrics taken as well. */
const ACCEPT = 'text/plain;version=0.0.4;q=1,application/openmetrics-text;version=1.0.0;q=0.5,*/*;q=0.1';

export interface Fetched {
  body: string;
  contentType?: string;
}

export async function fetchMetrics(t: MetricsTarget, limits: { timeoutMs: number; maxBytes: number }): Promise<Fetched> {
  const { request } = t.https ? await import('node:https') : await import('node:http');
  return new Promise((resolve, reject) => {
    let done = false;
    const parts: Buffer[] = [];
    let size = 0;
    const finish = (err?: Error, value?: Fetched) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    const req = request({
      ...(t.socketPath ? { socketPath: t.socketPath } : { host: t.host, port: t.port }),
      path: t.path, method: 'GET', headers: { accept: ACCEPT, 'user-agent': 'wsgistat' }, agent: false,
    }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return finish(new SourceError('http_error', `${t.where} answered HTTP ${res.statusCode}${res.statusCode === 404 ? ' (is the path right? prometheus_client serves /metrics)' : ''}`));
      }
      const declared = Number(res.headers['content-length']);
      if (declared > limits.maxBytes) return finish(tooLarge(t.where, limits.maxBytes));
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limits.maxBytes) return finish(tooLarge(t.where, limits.maxBytes));
        parts.push(chunk);
      });
      res.on('end', () => finish(undefined, { body: Buffer.concat(parts, size).toString('utf8'), contentType: res.headers['content-type'] }));
      res.on('error', (e) => finish(fromSystemError(e as NodeJS.ErrnoException, t.where)));
    });
    req.on('error', (e) => finish(fromSystemError(e as NodeJS.ErrnoException, t.where)));
    req.end();
    // A /metrics served by the app's own workers (prometheus_client's usual setup) cannot answer
    // while every worker is busy: exactly when the numbers matter.
    const timer = setTimeout(() => finish(new SourceError('timeout', `${t.where} did not answer within ${limits.timeoutMs / 1000} s; if the app's own workers serve it, they may all be busy: read prometheus_client's multiprocess directory instead (prometheus-multiproc:///DIR), which needs no worker`)), limits.timeoutMs);
  });
}

const tooLarge = (where: string, max: number) => new SourceError('too_large', `${where} sent more than the size cap of ${max} bytes (raise --max-bytes)`);
