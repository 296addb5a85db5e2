import { startGunicorn } from './dist/spec/helpers/servers.js';
import { writeFileSync } from 'node:fs';
const g = await startGunicorn({ workerClass: 'gthread', workers: 4, threads: 2 });
writeFileSync('/tmp/gaddr', g.status + ' ' + g.proc.pid);
await new Promise((r) => setTimeout(r, 40000));
await g.stop();
