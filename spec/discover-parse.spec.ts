// The pure parsers of discovery (lib/discover/parse.ts), on text in the kernel's and uWSGI's forms.

import { expect } from 'chai';
import { isGunicorn, parseEnviron, parseIni, parseNetTcp, parseNetUnix, statsAddress, uwsgiFlags } from '../lib/discover/parse.js';

const UNIX = `Num       RefCount Protocol Flags    Type St Inode Path
00000000066a949b: 00000002 00000000 00010000 0001 01 3532759 /run/app/stats.sock
0000000032c01738: 00000003 00000000 00000000 0001 03 3532758 /run/app/connected.sock
0000000032c01739: 00000002 00000000 00010000 0001 01 3532760 @wsgistat-abstract
0000000032c0173a: 00000002 00000000 00010000 0001 01 3532761 /tmp/a dir/with space.sock
0000000032c0173b: 00000002 00000000 00000000 0002 01 3532762
`;

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0000000000000000 100 0 0 10 0
   1: 00000000:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2222 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1F91 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 3333 1 0000000000000000 20 4 30 10 -1
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F92 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1
   1: 0000000000000000FFFF00000100007F:1F93 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5555 1
   2: 00000000000000000000000000000000:1F94 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 6666 1
`;

describe('discovery parsers', () => {
  it('/proc/net/unix: listening sockets only (the __SO_ACCEPTCON flag), by inode, paths with spaces and abstract names kept', () => {
    expect([...parseNetUnix(UNIX)]).to.deep.equal([
      ['3532759', '/run/app/stats.sock'],
      ['3532760', '@wsgistat-abstract'],
      ['3532761', '/tmp/a dir/with space.sock'],
    ]);
  });

  it('/proc/net/tcp and tcp6: LISTEN only; IPv4, IPv6 and v4-mapped addresses; a wildcard read on loopback', () => {
    expect([...parseNetTcp(TCP)]).to.deep.equal([['1111', '127.0.0.1:8080'], ['2222', '127.0.0.1:3000']]);
    expect([...parseNetTcp(TCP6)]).to.deep.equal([['4444', '[::1]:8082'], ['5555', '127.0.0.1:8083'], ['6666', '[::1]:8084']]);
  });

  it('uWSGI flags: --stats X, --stats=X, --stats-server, --stats-http, --ini, a bare ini, --emperor', () => {
    expect(uwsgiFlags(['uwsgi', '--stats', '/run/s.sock', '--stats-http', 'app.ini'])).to.deep.equal({ stats: '/run/s.sock', http: true, inis: ['app.ini'], emperor: false });
    expect(uwsgiFlags(['uwsgi', '--stats-server=127.0.0.1:1717', '--ini', '/etc/u.ini', '--emperor', '/etc/vassals'])).to.deep.equal({ stats: '127.0.0.1:1717', http: false, inis: ['/etc/u.ini'], emperor: true });
  });

  it('uWSGI ini: only the [uwsgi] section; stats_http spelt with an underscore; false values', () => {
    const ini = '[other]\nstats = /nope\n[uwsgi]\n; comment\nstats = :1717\nstats_http = false\n';
    expect(parseIni(ini)).to.deep.equal({ stats: ':1717', http: false, inis: [], emperor: false });
    expect(parseIni('[uwsgi]\nstats-server = @abs\nstats-http = true\n')).to.deep.equal({ stats: '@abs', http: true, inis: [], emperor: false });
  });

  it('a stats option value in wsgistat\'s address forms', () => {
    expect(['/run/s.sock', '@abs', ':1717', '0.0.0.0:1717', '127.0.0.1:1717'].map((v) => statsAddress(v, false)))
      .to.deep.equal(['unix:///run/s.sock', '@abs', 'tcp://127.0.0.1:1717', 'tcp://127.0.0.1:1717', 'tcp://127.0.0.1:1717']);
    expect(['/run/s.sock', ':1717'].map((v) => statsAddress(v, true))).to.deep.equal(['http+unix:///run/s.sock', 'http://127.0.0.1:1717']);
  });

  it('gunicorn by its script, python -m gunicorn, or its process title; not another python program', () => {
    const p = (comm: string, argv: string[]) => ({ pid: 1, ppid: 0, comm, argv }) as unknown as Parameters<typeof isGunicorn>[0];
    expect(isGunicorn(p('gunicorn', ['/usr/bin/python3', '/usr/bin/gunicorn', 'app:app']))).to.equal(true);
    expect(isGunicorn(p('python3', ['/usr/bin/python3', '-m', 'gunicorn', 'app:app']))).to.equal(true);
    expect(isGunicorn(p('python3', ['gunicorn: master [app]']))).to.equal(true);
    expect(isGunicorn(p('python3', ['/usr/bin/python3', '/srv/manage.py', 'runserver']))).to.equal(false);
  });

  it('environ: NUL-separated, values with = kept whole', () => {
    expect([...parseEnviron('A=1\0PROMETHEUS_MULTIPROC_DIR=/run/prom\0X=a=b\0')]).to.deep.equal([['A', '1'], ['PROMETHEUS_MULTIPROC_DIR', '/run/prom'], ['X', 'a=b']]);
  });
});

describe('wsgistat discover, exit status', () => {
  it('exits 1 with one stderr line when the proc tree holds no server, and 2 on an unknown argument', async () => {
    const { wsgistat } = await import('./helpers/run.js');
    const { tempDir, cleanup } = await import('./helpers/servers.js');
    const dir = tempDir();
    try {
      const none = await wsgistat(['discover', '--proc', dir]);
      expect([none.code, none.stdout, none.stderr]).to.deep.equal([1, '', 'wsgistat: warning discover: no uWSGI or gunicorn server found on this host\n']);
      const bad = await wsgistat(['discover', '--bogus']);
      expect([bad.code, bad.stdout, bad.stderr]).to.deep.equal([2, '', 'wsgistat: error [config] discover: unknown argument "--bogus" (see wsgistat discover --help)\n']);
    } finally {
      cleanup(dir);
    }
  });
});
