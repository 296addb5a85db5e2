// Preloaded with -r by bench/startup.ts: reports this process's peak RSS (KiB) on fd 3 at exit.
'use strict';
process.on('exit', () => {
  try {
    require('fs').writeSync(3, `${process.resourceUsage().maxRSS}\n`);
  } catch {}
});
