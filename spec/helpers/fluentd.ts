// A real Fluentd 1.15.3 (/work/shared/peers, see its README) with an in_http source on a free
// loopback port, every event written by out_file as JSON with immediate flush, so that a spec can
// read back exactly what Fluentd stored; or a config of its own (a conf/ sample), whose out_stdout
// events are in log(). Config, buffer and output live in a temporary directory.
// Under CI a missing ruby or Fluentd fails the spec (needs()); elsewhere it is skipped.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, freePort, needs, tempDir, until } from './servers.js';

export const FLUENTD = process.env.WSGISTAT_FLUENTD ?? '/work/shared/peers/fluentd-1.15.3';

export interface Stored {
  tag: string;
  /** Event time, seconds (in_http took it out of the record). */
  time: number;
  /** The event time as Fluentd wrote it: a float for in_http, seconds.nanoseconds for in_forward. */
  timeText: string;
  /** The line out_file wrote: numbers as Fluentd typed them (an integer has no ".0"). */
  raw: string;
  record: Record<string, unknown>;
}

export interface RealFluentd {
  port: number;
  url: string;
  /** Everything out_file has written so far, in order. */
  stored(): Stored[];
  /** Stops it (SIGTERM, then SIGKILL after 10 s); start() brings it back on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  dispose(): Promise<void>;
  /** What Fluentd printed so far (out_stdout's events among its log lines). */
  log(): string;
}

/** Skips (or, under CI, fails) the spec when ruby or Fluentd is not there. */
export function needsFluentd(ctx: Mocha.Context): void {
  needs(ctx, 'ruby');
  if (!existsSync(join(FLUENTD, 'bin', 'fluentd'))) {
    if (process.env.CI) throw new Error(`Fluentd is not in ${FLUENTD}, and CI must run this spec against it`);
    ctx.skip();
  }
}

export interface HttpOptions {
  /** 32m by default; a smaller one makes Fluentd refuse a larger batch with 413 "Too large". */
  bodySizeLimit?: string;
  /** <transport tls>: https, and with clientCaPath a client certificate required. */
  tls?: ForwardTls;
  /** in_http's add_http_headers: each request's headers in its records, as HTTP_NAME. */
  addHttpHeaders?: boolean;
}

function config(port: number, out: string, opts: HttpOptions): string {
  return `<source>
  @type http
  bind 127.0.0.1
  port ${port}
  body_size_limit ${opts.bodySizeLimit ?? '32m'}
${opts.addHttpHeaders ? '  add_http_headers true\n' : ''}${transportTls(opts.tls)}</source>
${storeAll(out, false)}`;
}

/** Every event but Fluentd's own to out_file as JSON, with tag and event time beside the record. */
function storeAll(out: string, exactTime: boolean): string {
  // time_key/include_time_key: the event time comes back beside the record; tag likewise.
  return `<match fluent.**>
  @type null
</match>
<match **>
  @type file
  path ${out}/events
  append true
  add_path_suffix false
  <format>
    @type json
  </format>
  <inject>
    tag_key fluentd_tag
    time_key fluentd_time
    ${exactTime ? 'time_type string\n    time_format %s.%N' : 'time_type float'}
  </inject>
  <buffer>
    @type memory
    flush_mode immediate
  </buffer>
</match>
`;
}

/** in_http on `port` (a free one by default); a small bodySizeLimit gives a refusal (413) on demand. */
export async function startFluentd(port?: number, opts: HttpOptions = {}): Promise<RealFluentd> {
  const f = await startFluentdWith((p, dir) => config(p, dir, opts), port);
  return opts.tls ? { ...f, url: `https://127.0.0.1:${f.port}` } : f;
}

/** A Fluentd whose config is `conf(port, dir)`; storeAll-style output in `dir` is what stored() reads.
 *  `env` is added to its environment (a config's "#{ENV['...']}"). */
export async function startFluentdWith(conf0: (port: number, dir: string) => string, port?: number, env: NodeJS.ProcessEnv = {}): Promise<RealFluentd> {
  const dir = tempDir();
  const p = port ?? (await freePort());
  const conf = join(dir, 'fluent.conf');
  writeFileSync(conf, conf0(p, dir), { mode: 0o600 });
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let log = '';

  async function start(): Promise<void> {
    log = '';
    const c = spawn('ruby', ['-I', join(FLUENTD, 'lib'), join(FLUENTD, 'bin', 'fluentd'), '-c', conf, '--no-supervisor'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    child = c;
    exited = new Promise((r) => c.on('exit', () => r()));
    c.stdout!.on('data', (d) => (log += d));
    c.stderr!.on('data', (d) => (log += d));
    await until('Fluentd to start', () => (log.includes('fluentd worker is now running') ? true : c.exitCode !== null ? Promise.reject(new Error(`Fluentd exited: ${log.slice(-2000)}`)) : undefined), 30000);
  }

  async function stop(): Promise<void> {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 10000);
    await exited;
    clearTimeout(t);
    child = undefined;
  }

  function stored(): Stored[] {
    const files = readdirSync(dir).filter((f) => f.startsWith('events'));
    const out: Stored[] = [];
    for (const f of files.sort()) {
      for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
        if (line === '') continue;
        const { fluentd_tag: tag, fluentd_time: time, ...record } = JSON.parse(line) as Record<string, unknown>;
        out.push({ tag: tag as string, time: Number(time), timeText: String(time), record, raw: line });
      }
    }
    return out;
  }

  await start();
  return {
    port: p,
    url: `http://127.0.0.1:${p}`,
    stored,
    stop,
    start,
    log: () => log,
    async dispose() {
      await stop();
      cleanup(dir);
    },
  };
}

export interface ForwardSecurity {
  sharedKey: string;
  /** <user> entries: in_forward then asks for a username and password. */
  users?: { username: string; password: string }[];
  selfHostname?: string;
}

export interface ForwardTls {
  certPath: string;
  keyPath: string;
  /** Client certificates must be signed by this CA. */
  clientCaPath?: string;
}

/** A real Fluentd with an in_forward source (acks as asked, optionally <security> and TLS). */
export async function startForwardFluentd(opts: { security?: ForwardSecurity; tls?: ForwardTls; port?: number } = {}): Promise<RealFluentd> {
  const sec = opts.security;
  const security = sec ? `  <security>
    self_hostname ${sec.selfHostname ?? 'aggregator'}
    shared_key ${sec.sharedKey}
${sec.users?.length ? `    user_auth true\n${sec.users.map((u) => `    <user>\n      username ${u.username}\n      password ${u.password}\n    </user>`).join('\n')}` : ''}
  </security>
` : '';
  const tls = transportTls(opts.tls);
  const f = await startFluentdWith((p, dir) => `<source>
  @type forward
  bind 127.0.0.1
  port ${p}
${tls}${security}</source>
${storeAll(dir, true)}`, opts.port);
  return { ...f, url: `forward://127.0.0.1:${f.port}` };
}

function transportTls(tls: ForwardTls | undefined): string {
  return tls ? `  <transport tls>
    cert_path ${tls.certPath}
    private_key_path ${tls.keyPath}
${tls.clientCaPath ? `    client_cert_auth true\n    ca_path ${tls.clientCaPath}` : ''}
  </transport>
` : '';
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl in `dir`. */
export function makePki(dir: string): { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string } {
  const p = (n: string) => join(dir, n);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 20000 });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '2', '-subj', '/CN=wsgistat spec CA');
  for (const [name, ext] of [['server', 'subjectAltName=IP:127.0.0.1'], ['client', 'extendedKeyUsage=clientAuth']] as const) {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${name}`);
    writeFileSync(p(`${name}.ext`), `${ext}\n`, { mode: 0o600 });
    ssl('x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p(`${name}.pem`), '-days', '2', '-extfile', p(`${name}.ext`));
  }
  return { ca: p('ca.pem'), serverCert: p('server.pem'), serverKey: p('server.key'), clientCert: p('client.pem'), clientKey: p('client.key') };
}
