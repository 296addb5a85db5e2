// The prometheus output kind: prometheus://HOST:PORT/PATH serves the latest sample of every source
// for Prometheus to scrape, as timonwong/uwsgi_exporter does (continuous runs). One-shot runs for
// node_exporter's textfile collector use --format prometheus instead.

import { splitHostPort } from '../hostport.js';
import type { PrometheusOutput } from './prometheus/serve.js';
import type { SinkKind } from './types.js';

const forms = 'prometheus://host:port/path (serve /metrics)';

function parse(text: string): PrometheusOutput {
  const m = /^prometheus:\/\/([^/]*)(\/[^?#]*)?$/i.exec(text);
  if (!m) throw new Error(`expected ${forms}, got ${JSON.stringify(text)}`);
  const hp = splitHostPort(m[1]!);
  if ('problem' in hp) throw new Error(`${JSON.stringify(text)}: ${hp.problem}, e.g. prometheus://127.0.0.1:9117/metrics`);
  // Loopback unless another address is named: the numbers are the servers' inside view.
  const host = hp.host === '' ? '127.0.0.1' : hp.host;
  const path = m[2] && m[2] !== '/' ? m[2] : '/metrics';
  return { kind: 'prometheus', name: `prometheus://${host.includes(':') ? `[${host}]` : host}:${hp.port}${path}`, host, port: hp.port, path };
}

export const prometheusKind: SinkKind<PrometheusOutput> = {
  name: 'prometheus',
  claims: (text) => /^prometheus:/i.test(text),
  parse,
  forms,
  docs: [{ output: '`prometheus://127.0.0.1:9117/metrics` (`prometheus://:9117` is loopback, path `/metrics`)', does: 'continuous runs: an HTTP endpoint that serves the latest sample of every source in the Prometheus text format, with uwsgi_exporter\'s names for uWSGI and the same scheme for gunicorn; see [Prometheus](#prometheus)' }],
  continuousOnly: 'serves the latest sample, so it is for continuous runs (--interval or --cron); a one-shot run for node_exporter\'s textfile collector is --format prometheus',
  describe: (spec) => ({ url: spec.name, kind: 'prometheus', listen: `${spec.host}:${spec.port}`, path: spec.path }),
  async create(spec) {
    const { prometheusSink } = await import('./prometheus/serve.js');
    try {
      return await prometheusSink(spec);
    } catch (e) {
      throw new Error(`${spec.name}: cannot listen on ${spec.host}:${spec.port} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  },
};
