// One JSON schema per record type. They fix the field order of the output, give fast-json-stringify
// what it needs to precompile a serializer (see ../build.ts), and document every field: the README's
// field tables say the same, and spec/records/schemas.spec.ts checks that they do.
// `additionalProperties: true` keeps any scalar field a newer uWSGI adds.

type Field = { type: 'number' | 'string' | 'boolean'; description: string };
export type Schema = { type: 'object'; properties: Record<string, Field>; additionalProperties: true };

const num = (description: string): Field => ({ type: 'number', description });
const str = (description: string): Field => ({ type: 'string', description });

const common = {
  time: num('when the sample was taken: epoch seconds, millisecond precision'),
  host: str('the host wsgistat runs on (--hostname)'),
  source: str('the source address, as given'),
  label: str('the source label, when one was given (label=address)'),
  vassal: str("uWSGI Emperor: the vassal (its config file's name, as the Emperor calls it) whose server the record describes; on the records of an Emperor source's vassals"),
  server: str('"uwsgi" or "gunicorn"'),
  type: str('the record type'),
};

const workerTotals = {
  requests: num('requests served, summed over workers (counter)'),
  exceptions: num('uncaught exceptions, summed over workers (counter); gunicorn (wsgistat hooks): requests whose app raised into gunicorn, see "exceptions and status_5xx"'),
  harakiri_count: num('requests killed by harakiri, summed over workers (counter)'),
  signals: num('uWSGI signals handled, summed over workers (counter)'),
  tx: num('bytes sent, summed over workers (counter)'),
  rss: num('resident memory of the workers, bytes (0 unless uWSGI runs with --memory-report)'),
  vsz: num('virtual memory of the workers, bytes (0 unless --memory-report)'),
  running_time: num('time spent serving requests, summed over workers, µs (counter)'),
  respawn_count: num('worker spawns, summed over workers (counter)'),
};

import { COUNTERS } from './counters.js';

export { COUNTERS };

const UNITS: Record<string, string> = { tx: 'bytes', running_time: 'µs' };

/** gunicorn (wsgistat hooks): responses by status class. */
function statusClasses(scope: string): Record<string, Field> {
  return Object.fromEntries([1, 2, 3, 4, 5].map((c) => [`status_${c}xx`, num(`gunicorn (wsgistat hooks): responses with a ${c}xx status, ${scope} (counter)`)]));
}

/** The fields records/rates.ts adds from the second sample on. */
function rateFields(scope: string): Record<string, Field> {
  const fields: Record<string, Field> = {
    rate_interval: num('seconds between this sample and the previous one, which the fields below cover; absent on a first sample'),
    mean_rt: num(`mean request time over the interval, µs: running_time_delta / requests_delta ${scope}; absent when no request ended`),
    rt_p50: num(`gunicorn (wsgistat hooks): median request time over the interval ${scope}, µs, from the latency histogram (within 7.2 %; see "Latency percentiles"); absent when no request ended`),
    rt_p90: num(`gunicorn (wsgistat hooks): 90th percentile of request time over the interval ${scope}, µs; absent when no request ended`),
    rt_p99: num(`gunicorn (wsgistat hooks): 99th percentile of request time over the interval ${scope}, µs; absent when no request ended`),
  };
  for (const c of COUNTERS) {
    const unit = UNITS[c] ? `, ${UNITS[c]}` : '';
    fields[`${c}_delta`] = num(`change of ${c} since the previous sample${unit}; never negative (see "Rates")`);
    fields[`${c}_per_sec`] = num(`${c}_delta / rate_interval${unit ? `${unit} per second` : ''}`);
  }
  return fields;
}

function schema(properties: Record<string, Field>): Schema {
  return { type: 'object', properties: { ...common, ...properties }, additionalProperties: true };
}

export const schemas = {
  summary: schema({
    version: str('uWSGI version'),
    pid: num('master pid'),
    uid: num('uid the server runs as'),
    gid: num('gid the server runs as'),
    cwd: str('working directory of the master'),
    listen_queue: num('connections waiting in the accept queue of the first socket (gunicorn: the backlog below)'),
    listen_queue_errors: num('as uWSGI reports it (uWSGI 2.0 never increments it)'),
    signal_queue: num('uWSGI signals waiting in the master'),
    load: num('requests in the queue of the shared socket (uWSGI\'s own load figure)'),
    workers: num('worker slots that have been spawned (gunicorn: status entries of live workers)'),
    workers_busy: num('workers serving a request'),
    workers_idle: num('workers waiting for a request; uWSGI: not counting stuck workers (they are no capacity)'),
    workers_cheap: num('workers stopped by the cheaper subsystem'),
    workers_pause: num('paused workers'),
    workers_other: num('workers in any other state (sig<N>: running a signal handler)'),
    workers_accepting: num('workers accepting requests (accepting = 1); uWSGI: not counting stuck workers'),
    workers_idle_reported: num("uWSGI: idle workers as the stats server reports them, stuck ones included"),
    workers_accepting_reported: num("uWSGI: workers with accepting = 1 as the stats server reports them, stuck ones included"),
    workers_stuck: num('uWSGI: workers whose process serves nothing (stuck = true); absent when proc_check is not "made" and no worker is frozen'),
    proc_check: str('uWSGI: whether the worker pids were checked in /proc: made, or why not: remote (TCP address off loopback), no_master (the master pid is no process here: another host or pid namespace), not_children (the worker pids are not its children: another pid namespace, or a reused pid), not_permitted (/proc hidden, e.g. hidepid), no_proc (no usable /proc); absent for a document read from a file'),
    ...workerTotals,
    cores: num('cores (threads or async cores) over all workers; absent with --stats-no-cores'),
    cores_busy: num('cores in a request; absent with --stats-no-cores'),
    sockets: num('distinct listening sockets'),
    sockets_queue: num('accept backlog, summed over sockets'),
    sockets_max_queue: num('accept backlog limits, summed over sockets'),
    stale_entries: num('gunicorn: status file entries whose pid is not alive on this host (dead or replaced workers)'),
    backlog: num('connections waiting to be accepted on the TCP listener, read from /proc/net/tcp (--listen; gunicorn with the wsgistat hooks: found from the master)'),
    backlog_max: num("the listener's backlog limit, where known: gunicorn's backlog setting capped by net.core.somaxconn"),
    backlog_address: str('the listener whose backlog is reported, host:port'),
    in_flight: num('gunicorn (wsgistat hooks): requests being served now, over all workers and threads'),
    workers_configured: num('gunicorn (wsgistat hooks): the workers setting'),
    worker_class: str('gunicorn (wsgistat hooks): sync, gthread, ...'),
    threads: num('gunicorn (wsgistat hooks): the threads setting'),
    worker_connections: num('gunicorn (wsgistat hooks, gthread): the worker_connections setting, the limit of connections per worker'),
    queued: num('gunicorn (wsgistat hooks, gthread): requests workers have accepted that wait for a thread, over all workers'),
    connections: num('gunicorn (wsgistat hooks, gthread): connections the workers hold open (in flight, waiting, kept alive)'),
    ...statusClasses('over all workers'),
    status_other: num('gunicorn (wsgistat hooks): requests that ended with no status sent (the client left) or one outside 100..599 (counter)'),
    requests_aborted: num('gunicorn (wsgistat hooks, format 2): requests a worker had accepted and never answered because it died (SIGKILL, timeout) (counter)'),
    workers_retired: num('gunicorn (wsgistat hooks, format 2): workers that exited since the master started, whose counts the master keeps in the totals'),
    file_total_accesses: num("gunicorn: the status file's own TotalAccesses (counter; also given as requests)"),
    file_busy_workers: num("gunicorn: the status file's own BusyWorkers, as written (it drifts; counts requests under gthread)"),
    file_idle_workers: num("gunicorn: the status file's own IdleWorkers, as written (it drifts, even below zero)"),
    ...rateFields('(server)'),
    stalled: { type: 'boolean', description: 'true when connections wait (listen_queue > 0, not shrinking) while no worker is busy and no counter moved: a stuck server that looks idle; absent on a first sample' },
    counters_reset: { type: 'boolean', description: 'true when the server restarted, a worker slot was reset or a counter went down since the previous sample: the *_delta fields then count from zero and miss what came before the reset; absent on a first sample' },
  }),
  worker: schema({
    worker_id: num('worker slot id (uWSGI `id`, from 1); gunicorn: the worker pid'),
    pid: num('worker pid (0 while stopped)'),
    accepting: num('1 when accepting requests'),
    requests: num('requests served by this slot, across respawns (counter)'),
    delta_requests: num('requests served since this worker was last spawned'),
    exceptions: num('uncaught exceptions (counter)'),
    harakiri_count: num('requests killed by harakiri, across respawns (counter)'),
    signals: num('uWSGI signals handled (counter)'),
    signal_queue: num('uWSGI signals waiting for this worker'),
    status: str('idle, busy, cheap, pause, or sig<N>'),
    rss: num('resident memory, bytes (0 unless --memory-report)'),
    vsz: num('virtual memory, bytes (0 unless --memory-report)'),
    running_time: num('time spent serving requests, µs (counter)'),
    last_spawn: num('when this worker was last spawned, epoch seconds'),
    respawn_count: num('times this slot was spawned (counter; 1 after the first spawn)'),
    tx: num('bytes sent (counter)'),
    avg_rt: num("uWSGI's running average of request time, µs: (avg + last) / 2, never decays"),
    cores: num('cores (threads or async cores) of this worker; absent with --stats-no-cores'),
    cores_busy: num('cores of this worker in a request; absent with --stats-no-cores'),
    apps: num('applications loaded in this worker'),
    proc_state: str('uWSGI: the state of the worker pid in /proc/<pid>/stat (R, S, D, T, Z, ...), or gone (it exited after the stats read), or exited (a zombie with no thread left, not yet reaped); only when proc_check is "made"'),
    stuck: { type: 'boolean', description: 'uWSGI: true when the worker process serves nothing though the stats server may call it idle and accepting; present when proc_check is "made", or when the frozen rule flags it (see "Stuck workers")' },
    stuck_reason: str('uWSGI: why stuck is true: zombie (its thread-group leader is a zombie while another thread lives on: unbit/uwsgi#2480), stopped (SIGSTOP, a debugger), or frozen (from the second sample: called idle and accepting, its counters did not move while connections queued and a sibling served; see "Stuck workers")'),
    request_method: str('gunicorn: method of the request in progress, while busy'),
    request_path: str('gunicorn: path of the request in progress, without the query string, while busy'),
    request_start: num('gunicorn (wsgistat hooks): when the oldest request in progress started, epoch seconds'),
    in_flight: num('gunicorn (wsgistat hooks): requests this worker is serving now (more than 1 under gthread)'),
    queued: num('gunicorn (wsgistat hooks, gthread): requests this worker accepted that wait for a thread'),
    connections: num('gunicorn (wsgistat hooks, gthread): connections this worker holds open'),
    ...statusClasses('of this worker'),
    status_other: num('gunicorn (wsgistat hooks): requests that ended with no status sent or one outside 100..599 (counter)'),
    requests_aborted: num('gunicorn (wsgistat hooks, format 2): requests this worker dropped as it was told to exit (gunicorn\'s timeout abort) (counter)'),
    ...rateFields('(this worker)'),
  }),
  core: schema({
    worker_id: num('worker slot id'),
    core_id: num('core id within the worker (uWSGI `id`, from 0)'),
    requests: num('requests served by this core (counter)'),
    static_requests: num('static files served (counter)'),
    routed_requests: num('requests handled by internal routing (counter)'),
    offloaded_requests: num('requests offloaded (counter)'),
    write_errors: num('write errors (counter)'),
    read_errors: num('read errors (counter)'),
    in_request: num('1 while the core is in a request'),
    request_start: num('when the request in progress started, epoch seconds; only while in a request'),
  }),
  app: schema({
    worker_id: num('worker slot id'),
    app_id: num('app id within the worker (uWSGI `id`, from 0)'),
    modifier1: num('uWSGI modifier1 of the app (0 = Python/WSGI)'),
    mountpoint: str('mountpoint ("" for a single app)'),
    startup_time: num('seconds the app took to load'),
    requests: num('requests served by this app in this worker (counter)'),
    exceptions: num('uncaught exceptions in this app (counter)'),
    chdir: str('directory the app was loaded from'),
  }),
  socket: schema({
    name: str('socket address, as uWSGI names it'),
    proto: str('protocol: uwsgi, http, ...'),
    queue: num('connections waiting in the accept queue now'),
    max_queue: num('accept queue limit (listen backlog)'),
    shared: num('1 when the socket is shared'),
    can_offload: num('1 when the socket can offload'),
  }),
  emperor: schema({
    version: str('uWSGI version of the Emperor'),
    pid: num("the Emperor's pid"),
    uid: num('uid the Emperor runs as'),
    gid: num('gid the Emperor runs as'),
    cwd: str("the Emperor's working directory"),
    emperor_tyrant: num('1 in Tyrant mode (each vassal runs as its config file\'s owner)'),
    throttle_level: num("the Emperor's throttle level, ms: above 0 while vassals keep failing and it slows their respawns"),
    monitors: str('the directories or globs the Emperor watches, comma-separated'),
    vassals: num('vassals the Emperor runs'),
    vassals_ready: num('vassals whose server is ready (ready = 1)'),
    vassals_accepting: num('vassals accepting requests (accepting = 1)'),
    vassals_loyal: num('vassals that have been loyal (up long enough that a failure is not a start-up failure)'),
    vassals_cursed: num('vassals the Emperor has cursed (stopping them, or their config went away)'),
    vassals_respawns: num("respawns summed over the vassals listed now (not a counter: a vassal's leaving takes its own away)"),
    blacklist: num('configs the Emperor has blacklisted after repeated failures to start'),
  }),
  vassal: schema({
    pid: num("the vassal's master pid"),
    ready: num('1 when its server is ready'),
    accepting: num('1 when it accepts requests'),
    loyal: num('1 once it has been up long enough to count as loyal'),
    cursed: num('non-zero when the Emperor is stopping it'),
    respawns: num('times the Emperor has started it again (uWSGI\'s count; it starts from zero when the Emperor does)'),
    born: num("its config's modification time when the Emperor first took it up, epoch seconds (uWSGI's name)"),
    last_mod: num('modification time of its config when last read, epoch seconds'),
    last_heartbeat: num('its last heartbeat, epoch seconds (0 without --heartbeat)'),
    last_loyal: num('when it last became loyal, epoch seconds (0: never)'),
    last_ready: num('when it last became ready, epoch seconds'),
    last_accepting: num('when it last started accepting, epoch seconds'),
    first_run: num('when it first ran, epoch seconds'),
    last_run: num('when it last (re)started, epoch seconds'),
    uid: num('uid it runs as'),
    gid: num('gid it runs as'),
    monitor: str('the directory or glob it was found in'),
    on_demand: str('its on-demand socket, if any'),
    zerg: num('1 for a zerg vassal'),
    stats_address: str("its own stats server, found from /proc as `wsgistat discover` finds it; absent when none was found (see stderr for why)"),
  }),
  metric: schema({
    name: str('a Prometheus source: the name of a sample wsgistat maps to no other record (x_total, x_bucket, ...)'),
    metric_type: str("its family's type: counter, gauge, histogram, summary, untyped (OpenMetrics: also info, stateset, gaugehistogram, unknown)"),
    value: num('the sample value, as exposed (a counter is its total: no rates); absent when not a finite number'),
    value_text: str('NaN, +Inf or -Inf, when the value is one of those (JSON has no such number)'),
    sample_time: num("the sample's own timestamp, epoch seconds, when the exposition gave one"),
  }),
  error: schema({
    code: str('stable error code: not_found, not_a_file, permission_denied, connection_refused, connection_reset, timeout, still_reading, too_large, empty, truncated, invalid_json, not_stats, http_error, io_error'),
    message: str('what failed, where, and what came back'),
  }),
} satisfies Record<string, Schema>;

export type SchemaName = keyof typeof schemas;
