// Field lists a run needs, apart from schemas.ts, which only the build and the docs need: a run
// does not build the schemas.

/** The fields every record starts with, in this order (types.ts Common, and `type`). */
export const COMMON_FIELDS = ['time', 'host', 'source', 'label', 'vassal', 'server', 'type'] as const;

/** Counters of summary and worker records that get a change and a rate (records/rates.ts). */
export const COUNTERS = [
  'requests', 'exceptions', 'harakiri_count', 'signals', 'tx', 'running_time', 'respawn_count',
  'status_1xx', 'status_2xx', 'status_3xx', 'status_4xx', 'status_5xx', 'status_other', 'requests_aborted',
] as const;
