// The series wsgistat does not map (map.ts), as `metric` records when asked for (--records metric):
// one per sample, its labels as fields. Pure.
//
// - A label whose name is a field of the record (`host`, `source`, `type`, `name`, `value`, ...)
//   is given as `label_<name>` (again prefixed while that is taken too), so it never overwrites
//   what wsgistat says about the record. Other labels keep their names.
// - A value that JSON cannot hold (NaN, +Inf, -Inf) is given as text in `value_text`, with no
//   `value`.
// - Counters are given as they are: a rate would need the previous sample of every series kept in
//   the state file, and prometheus_client's counters have no pid, so a worker's death makes no
//   reset to see; rate() in a query does it right.
// - A series labelled with the pid of a process that is gone (prometheus_client keeps the gauges
//   of dead pids forever) is left out when the endpoint is local, as the mapped records leave it.

import type { Body } from '../../records/types.js';
import fields from '../../records/fields.cjs';
import type { MetricFamily } from './parse.js';

const RESERVED: ReadonlySet<string> = new Set(fields.metric);

/** The field a label is given as: its name, or `label_`-prefixed while that is a record field or
 *  another label of the sample. */
function fieldOf(label: string, labels: Record<string, string>): string {
  if (!RESERVED.has(label)) return label;
  let f = `label_${label}`;
  while (RESERVED.has(f) || f in labels) f = `label_${f}`;
  return f;
}

export function metricBodies(families: readonly MetricFamily[], mapped: ReadonlySet<string>, alive?: (pid: number) => boolean): Body[] {
  const out: Body[] = [];
  for (const f of families) {
    if (mapped.has(f.name)) continue;
    for (const s of f.samples) {
      const pid = s.labels.pid !== undefined && /^\d+$/.test(s.labels.pid) ? Number(s.labels.pid) : undefined;
      if (pid !== undefined && alive && !alive(pid)) continue;
      const b: Body = { type: 'metric', name: s.name, metric_type: f.type };
      for (const [k, v] of Object.entries(s.labels)) b[fieldOf(k, s.labels)] = v;
      if (Number.isFinite(s.value)) b.value = s.value;
      else b.value_text = Number.isNaN(s.value) ? 'NaN' : s.value > 0 ? '+Inf' : '-Inf';
      if (s.timestamp !== undefined) b.sample_time = s.timestamp / 1000;
      out.push(b);
    }
  }
  return out;
}
