import { expect } from 'chai';
import { findListener, parseListen, parseProcNetTcp } from '../../lib/sources/backlog.js';

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F40 00000000:0000 0A 00000000:00000003 00:00000000 00000000     0        0 5551 1 0000000000000000 100 0 0 10 0
   1: 00000000:1F41 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5552 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1F40 0100007F:CD02 01 00000000:00000000 00:00000000 00000000     0        0 5553 1 0000000000000000 100 0 0 10 0`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F42 00000000000000000000000000000000:0000 0A 00000000:00000007 00:00000000 00000000     0        0 6661 1
   1: 0000000000000000FFFF00000100007F:1F43 00000000000000000000000000000000:0000 0A 00000000:00000001 00:00000000 00000000     0        0 6662 1
   2: 00000000000000000000000000000000:1F44 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 6663 1`;

describe('accept backlog from /proc/net/tcp', () => {
  const all = [...parseProcNetTcp(TCP), ...parseProcNetTcp(TCP6)];

  it('reads listening sockets only, with their queue (rx_queue) and inode', () => {
    expect(all).to.deep.equal([
      { address: '127.0.0.1', port: 8000, queue: 3, inode: 5551 },
      { address: '0.0.0.0', port: 8001, queue: 0, inode: 5552 },
      { address: '::1', port: 8002, queue: 7, inode: 6661 },
      { address: '127.0.0.1', port: 8003, queue: 1, inode: 6662 },
      { address: '::', port: 8004, queue: 0, inode: 6663 },
    ]);
  });

  it('finds a listener by exact address, or a wildcard one on the port', () => {
    expect(findListener(all, '127.0.0.1', 8000)?.inode).to.equal(5551);
    expect(findListener(all, 'localhost', 8000)?.inode).to.equal(5551);
    expect(findListener(all, '127.0.0.1', 8001)?.inode).to.equal(5552);
    expect(findListener(all, '::1', 8004)?.inode).to.equal(6663);
    expect(findListener(all, '127.0.0.1', 9999)).to.equal(undefined);
  });

  it('parses the --listen forms', () => {
    expect([parseListen('127.0.0.1:8000'), parseListen('[::1]:80'), parseListen(':8000'), parseListen('x'), parseListen('h:0')])
      .to.deep.equal([{ host: '127.0.0.1', port: 8000 }, { host: '::1', port: 80 }, { host: '0.0.0.0', port: 8000 }, undefined, undefined]);
  });
});
