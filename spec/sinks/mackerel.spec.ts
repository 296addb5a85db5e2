import { expect } from 'chai';
import { addressPart, graphDefinitions, metaOutput, metricLines, segmentsFor } from '../../lib/sinks/mackerel.js';
import { parseAddress } from '../../lib/sources/address.js';
import type { Rec } from '../../lib/records/types.js';
import type { SourceSpec } from '../../lib/sources/types.js';

const T = 1_795_000_000.25;

/** A uWSGI summary as the pipeline hands it on, with rates over a 30 s interval. */
function uwsgiSummary(more: Record<string, unknown> = {}): Rec {
  return {
    time: T, host: 'h', source: 'unix:///run/app.stats', server: 'uwsgi', type: 'summary',
    listen_queue: 3, workers: 4, workers_busy: 1, workers_idle: 2, workers_cheap: 1, workers_pause: 0, workers_other: 0,
    requests: 1000, exceptions: 2, harakiri_count: 0, signals: 0, tx: 90000, rss: 0, vsz: 0, running_time: 5e6, respawn_count: 4,
    cores: 8, cores_busy: 1,
    rate_interval: 30, mean_rt: 12345.6, requests_delta: 45, exceptions_delta: 1, harakiri_count_delta: 0,
    tx_delta: 3000, respawn_count_delta: 0, running_time_delta: 555552, stalled: false, counters_reset: false,
    ...more,
  } as Rec;
}

const one = { segments: new Map([['unix:///run/app.stats', undefined]]) };
const lines = (text: string) => text.split('\n').filter(Boolean).map((l) => l.split('\t'));

describe('mackerel format', () => {
  it('prints gauges and per-minute rates of a uWSGI summary, with the epoch second of the sample', () => {
    expect(metricLines([uwsgiSummary()], one)).to.equal([
      'uwsgi.workers.busy\t1', 'uwsgi.workers.idle\t2', 'uwsgi.workers.cheap\t1', 'uwsgi.workers.pause\t0', 'uwsgi.workers.other\t0',
      'uwsgi.queue.listen_queue\t3',
      'uwsgi.req.requests\t90', // 45 in 30 s
      'uwsgi.errors.exceptions\t2', 'uwsgi.errors.harakiri\t0',
      'uwsgi.latency.mean\t12.346', // µs to ms
      'uwsgi.traffic.tx\t100', // bytes per second
      'uwsgi.respawns.respawns\t0',
      'uwsgi.cores.busy\t1', 'uwsgi.cores.idle\t7',
    ].map((l) => `${l}\t1795000000\n`).join(''));
  });

  it('prints no rate and no mean on a first sample, or over an interval with a reset', () => {
    const first = uwsgiSummary();
    for (const k of Object.keys(first)) if (/_delta$|^rate_interval$|^mean_rt$|^stalled$|^counters_reset$/.test(k)) delete first[k];
    const gauges = ['workers.busy', 'workers.idle', 'workers.cheap', 'workers.pause', 'workers.other', 'queue.listen_queue', 'cores.busy', 'cores.idle'];
    expect(lines(metricLines([first], one)).map((l) => l[0])).to.deep.equal(gauges.map((g) => `uwsgi.${g}`));
    expect(lines(metricLines([uwsgiSummary({ counters_reset: true })], one)).map((l) => l[0])).to.deep.equal(gauges.map((g) => `uwsgi.${g}`));
  });

  it('prints memory only where uWSGI reports it (--memory-report), and the mean only when a request ended', () => {
    const out = lines(metricLines([uwsgiSummary({ rss: 5000, vsz: 9000 })], one));
    expect(out.filter((l) => l[0]!.startsWith('uwsgi.memory.'))).to.deep.equal([['uwsgi.memory.rss', '5000', '1795000000'], ['uwsgi.memory.vsz', '9000', '1795000000']]);
    const noMean = uwsgiSummary();
    delete noMean.mean_rt;
    expect(lines(metricLines([noMean], one)).map((l) => l[0])).to.not.include('uwsgi.latency.mean');
  });

  it('names a gunicorn server by its own kind, with its status classes, in-flight requests and stale entries', () => {
    const g: Rec = {
      time: T, host: 'h', source: 'gunicorn:///dev/shm/w', label: 'api', server: 'gunicorn', type: 'summary',
      pid: 9, workers: 2, workers_busy: 1, workers_idle: 1, stale_entries: 1, in_flight: 3, requests: 40, running_time: 4e5,
      status_1xx: 0, status_2xx: 38, status_3xx: 0, status_4xx: 1, status_5xx: 1, listen_queue: 0, backlog: 0,
      rate_interval: 60, requests_delta: 12, running_time_delta: 120000, mean_rt: 10000,
      status_1xx_delta: 0, status_2xx_delta: 10, status_3xx_delta: 0, status_4xx_delta: 1, status_5xx_delta: 1, counters_reset: false,
    } as Rec;
    const naming = { segments: new Map([['gunicorn:///dev/shm/w', 'api']]) };
    expect(lines(metricLines([g], naming)).map((l) => `${l[0]}=${l[1]}`)).to.deep.equal([
      'gunicorn.api.workers.busy=1', 'gunicorn.api.workers.idle=1', 'gunicorn.api.queue.listen_queue=0', 'gunicorn.api.req.requests=12',
      'gunicorn.api.status.status_1xx=0', 'gunicorn.api.status.status_2xx=10', 'gunicorn.api.status.status_3xx=0',
      'gunicorn.api.status.status_4xx=1', 'gunicorn.api.status.status_5xx=1', 'gunicorn.api.latency.mean=10',
      'gunicorn.api.cores.busy=3', 'gunicorn.api.stale.entries=1',
    ]);
    expect(graphDefinitions([g], naming)).to.deep.equal({
      graphs: {
        'gunicorn.api.workers': { label: 'gunicorn api Workers', unit: 'integer', metrics: [{ name: 'busy', label: 'Busy', stacked: true }, { name: 'idle', label: 'Idle', stacked: true }] },
        'gunicorn.api.queue': { label: 'gunicorn api Accept queue', unit: 'integer', metrics: [{ name: 'listen_queue', label: 'Waiting connections', stacked: false }] },
        'gunicorn.api.req': { label: 'gunicorn api Requests per minute', unit: 'float', metrics: [{ name: 'requests', label: 'Requests', stacked: false }] },
        'gunicorn.api.status': {
          label: 'gunicorn api Responses per minute', unit: 'float',
          metrics: [1, 2, 3, 4, 5].map((c) => ({ name: `status_${c}xx`, label: `${c}xx`, stacked: true })),
        },
        'gunicorn.api.latency': { label: 'gunicorn api Request time', unit: 'milliseconds', metrics: [{ name: 'mean', label: 'Mean', stacked: false }] },
        'gunicorn.api.cores': { label: 'gunicorn api Cores in a request', unit: 'integer', metrics: [{ name: 'busy', label: 'Busy', stacked: true }] },
        'gunicorn.api.stale': { label: 'gunicorn api Stale status entries', unit: 'integer', metrics: [{ name: 'entries', label: 'Entries of gone workers', stacked: false }] },
      },
    });
  });

  it('defines the graphs of every metric it prints, rates included, even before it can print a rate', () => {
    const first = uwsgiSummary();
    for (const k of Object.keys(first)) if (/_delta$|^rate_interval$|^mean_rt$|^counters_reset$/.test(k)) delete first[k];
    const defs = graphDefinitions([first], one);
    const defined = Object.entries(defs.graphs).flatMap(([g, d]) => d.metrics.map((m) => `${g}.${m.name}`));
    expect(defined).to.deep.equal(lines(metricLines([uwsgiSummary()], one)).map((l) => l[0]));
    const meta = metaOutput([first], one).split('\n');
    expect(meta[0]).to.equal('# mackerel-agent-plugin');
    expect(JSON.parse(meta[1]!)).to.deep.equal(defs);
    expect(meta.slice(2)).to.deep.equal(['']);
  });

  it('uses --metric-prefix in names and graph titles: one unlabelled uWSGI keeps mackerel-plugin-uwsgi-vassal\'s names', () => {
    const out = lines(metricLines([uwsgiSummary()], { prefix: 'uWSGI', segments: one.segments }));
    expect(out.map((l) => l[0])).to.include.members(['uWSGI.workers.busy', 'uWSGI.workers.idle', 'uWSGI.workers.cheap', 'uWSGI.workers.pause', 'uWSGI.req.requests']);
    expect(graphDefinitions([uwsgiSummary()], { prefix: 'web.uWSGI', segments: new Map([['unix:///run/app.stats', 'app1']]) }).graphs['web.uWSGI.app1.workers']!.label)
      .to.equal('web.uWSGI app1 Workers');
  });

  describe('name parts of sources', () => {
    const spec = (text: string, label?: string): SourceSpec => ({ address: parseAddress(text), timeoutMs: 1, maxBytes: 1, ...(label ? { label } : {}) });

    it('gives one unlabelled source none, a label always, and several sources their labels or addresses', () => {
      expect([...segmentsFor([spec('/run/a.stats')])]).to.deep.equal([['/run/a.stats', undefined]]);
      expect([...segmentsFor([spec('/run/a.stats', 'app.v2')])]).to.deep.equal([['/run/a.stats', 'app_v2']]);
      expect([...segmentsFor([spec('unix:///run/uwsgi/app.stats'), spec('127.0.0.1:9191'), spec('gunicorn:///dev/shm/g', 'api')])]).to.deep.equal([
        ['unix:///run/uwsgi/app.stats', 'run_uwsgi_app_stats'], ['127.0.0.1:9191', '127_0_0_1_9191'], ['gunicorn:///dev/shm/g', 'api'],
      ]);
    });

    it('refuses sources that would share names, and says to label them', () => {
      expect(() => segmentsFor([spec('/run/a_b'), spec('/run/a.b')])).to.throw('--format mackerel: sources /run/a_b and /run/a.b would get the same metric names (run_a_b); give them labels (label=address)');
    });

    it('makes any address a valid mackerel name part', () => {
      for (const a of ['@uwsgi-stats', 'http://[::1]:1717', 'http+unix:///run/a b.sock', 'file:///x.json']) {
        expect(addressPart(a)).to.match(/^[-a-zA-Z0-9_]+$/);
      }
      expect(addressPart('@uwsgi-stats')).to.equal('uwsgi-stats');
    });
  });
});
