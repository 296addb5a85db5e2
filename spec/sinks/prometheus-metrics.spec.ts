// The names of the Prometheus output: a dashboard built on timonwong/uwsgi_exporter keeps working.

import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { wsgistat } from '../helpers/run.js';

const BUSY = fileURLToPath(new URL('../../../spec/fixtures/uwsgi/busy.json', import.meta.url));

/** What uwsgi_exporter (pkg/collector/exporter.go) exports from a stats document, caches aside. */
const EXPORTER: Record<string, string> = {
  uwsgi_listen_queue_length: 'gauge', uwsgi_listen_queue_errors: 'gauge', uwsgi_signal_queue_length: 'gauge', uwsgi_workers: 'gauge',
  uwsgi_socket_queue_length: 'gauge', uwsgi_socket_max_queue_length: 'gauge', uwsgi_socket_shared: 'gauge', uwsgi_socket_can_offload: 'gauge',
  uwsgi_worker_accepting: 'gauge', uwsgi_worker_delta_requests: 'gauge', uwsgi_worker_signal_queue_length: 'gauge', uwsgi_worker_rss_bytes: 'gauge',
  uwsgi_worker_vsz_bytes: 'gauge', uwsgi_worker_running_time_seconds: 'gauge', uwsgi_worker_last_spawn_time_seconds: 'gauge',
  uwsgi_worker_average_response_time_seconds: 'gauge', uwsgi_worker_apps: 'gauge', uwsgi_worker_cores: 'gauge',
  uwsgi_worker_busy: 'gauge', uwsgi_worker_idle: 'gauge', uwsgi_worker_cheap: 'gauge',
  uwsgi_worker_requests_total: 'counter', uwsgi_worker_exceptions_total: 'counter', uwsgi_worker_harakiri_count_total: 'counter',
  uwsgi_worker_signals_total: 'counter', uwsgi_worker_respawn_count_total: 'counter', uwsgi_worker_transmitted_bytes_total: 'counter',
  uwsgi_worker_app_startup_time_seconds: 'gauge', uwsgi_worker_app_requests_total: 'counter', uwsgi_worker_app_exceptions_total: 'counter',
  uwsgi_worker_core_busy: 'gauge', uwsgi_worker_core_requests_total: 'counter', uwsgi_worker_core_static_requests_total: 'counter',
  uwsgi_worker_core_routed_requests_total: 'counter', uwsgi_worker_core_offloaded_requests_total: 'counter',
  uwsgi_worker_core_write_errors_total: 'counter', uwsgi_worker_core_read_errors_total: 'counter',
};

describe('Prometheus names', () => {
  it('gives every metric uwsgi_exporter gives, with its type, from a real uWSGI document', async () => {
    const r = await wsgistat(['--format', 'prometheus', '--no-state', '--records', 'all', `file://${BUSY}`]);
    expect(r.code, r.stderr).to.equal(0);
    const types = Object.fromEntries([...r.stdout.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    for (const [name, type] of Object.entries(EXPORTER)) expect(types[name], name).to.equal(type);
    // The busy fixture's two workers, one status each.
    const busy = [...r.stdout.matchAll(/^uwsgi_worker_busy\{.*worker_id="(\d+)"\} (\d)$/gm)].map((m) => [m[1], m[2]]);
    expect(busy).to.deep.equal([['1', '1'], ['2', '1']]);
  });
});
