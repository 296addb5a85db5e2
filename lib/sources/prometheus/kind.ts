// The prometheus source kind: a /metrics endpoint in the Prometheus text format (or OpenMetrics).

import { afterScheme, fileEndpoint, problem, tcpEndpoint, unixEndpoint, type Address } from '../endpoint.js';
import type { SourceKind } from '../types.js';
import { bad, type ValueType } from '../../options/values.js';
import { ROLES } from './map.js';
import { prometheusSource } from './index.js';

const NAME_KEYS = [...Object.keys(ROLES), 'status_label'];

const names: ValueType<Record<string, string>> = {
  parse(v, origin) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad(origin, `an object naming the metric families by role (${NAME_KEYS.join(', ')})`, v);
    const out: Record<string, string> = {};
    for (const [k, x] of Object.entries(v)) {
      if (!NAME_KEYS.includes(k)) bad(`${origin}.${k}`, `one of the roles ${NAME_KEYS.join(', ')}`, k);
      if (typeof x !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(x)) bad(`${origin}.${k}`, 'a metric (or label) name', x);
      out[k] = x;
    }
    return out;
  },
  show: () => 'the names of the known setups',
};

function httpAddress(text: string, rest: string, mode: 'http' | 'https'): Address {
  const slash = rest.indexOf('/');
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 || rest.slice(slash) === '/' ? '/metrics' : rest.slice(slash);
  return { text, kind: 'prometheus', endpoint: tcpEndpoint(authority), mode, httpPath: path };
}

export const prometheusKind: SourceKind = {
  name: 'prometheus',
  schemes: ['prometheus+http', 'prometheus+https', 'prometheus+unix', 'prometheus-multiproc'],
  parse(text, scheme) {
    if (!text.toLowerCase().startsWith(`${scheme}://`)) problem(`expected ${scheme}://...`);
    const rest = afterScheme(text, scheme);
    if (scheme === 'prometheus-multiproc') return { text, kind: 'prometheus', endpoint: fileEndpoint(rest, 'directory path'), mode: 'multiproc', httpPath: '/' };
    if (scheme === 'prometheus+unix') return { text, kind: 'prometheus', endpoint: unixEndpoint(rest), mode: 'http', httpPath: '/metrics' };
    return httpAddress(text, rest, scheme === 'prometheus+https' ? 'https' : 'http');
  },
  forms: ['prometheus+http://host:port/metrics', 'prometheus+unix:///path', 'prometheus-multiproc:///dir'],
  help: [
    ['prometheus+http://127.0.0.1:8001/metrics', 'a gunicorn instrumented with prometheus_client'],
    ['prometheus+unix:///run/app.sock', '... its /metrics on a unix socket'],
    ['prometheus-multiproc:///run/prometheus', '... its multiprocess directory (no worker needed)'],
  ],
  docs: [
    { forms: '`prometheus+http://127.0.0.1:8001/metrics`, `prometheus+https://...`, `prometheus+unix:///run/app.sock` (path `/metrics`)', reads: 'a gunicorn instrumented with prometheus_client: its `/metrics` in the text format (or OpenMetrics), mapped to the same records (see [Prometheus sources](#prometheus-sources))' },
    { forms: '`prometheus-multiproc:///run/prometheus`', reads: "prometheus_client's multiprocess directory (`PROMETHEUS_MULTIPROC_DIR`) itself: the same records, read from its memory-mapped files, even while every worker is busy (layout of prometheus_client 0.16)" },
  ],
  options: [{ key: 'metrics', arg: 'OBJECT', type: names, defaultDoc: 'the names of the known setups', doc: `the metric family of each role (${Object.keys(ROLES).join(', ')}), and status_label: the label of the status code; e.g. {"requests": "app_requests_total", "status_label": "code"}` }],
  findsListener: false,
  create: prometheusSource,
};
