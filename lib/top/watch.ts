// `wsgistat top` with no source: what discovery finds, as sources to watch. Asked again every few
// ticks, so that servers that start and stop while top runs appear and go.

import { discover, type Found } from '../discover/index.js';
import { parseAddress } from '../sources/index.js';
import { given, type Watched } from './sample.js';

/** Discovery is asked again every this many ticks (it reads /proc: a few ms). */
export const REDISCOVER_TICKS = 3;

function watched(f: Found, defaults: { timeoutMs: number; maxBytes: number }): Watched {
  const name = `${f.kind} pid ${f.pid}${f.vassal_of ? ` (vassal of ${f.vassal_of})` : ''}`;
  const problem = (why: string): Watched => ({ key: `${f.kind}:${f.pid}`, name, problem: `${why} (found by discovery, user ${f.user})` });
  if (!f.address) return problem(f.problem ?? 'no stats address found');
  try {
    const w = given({ address: parseAddress(f.address), ...defaults });
    return { ...w, name: `${name} ${f.address}` };
  } catch (e) {
    return problem(`its address ${f.address} is not one wsgistat reads: ${(e as Error).message}`);
  }
}

export async function discovered(defaults: { timeoutMs: number; maxBytes: number }): Promise<Watched[]> {
  return (await discover()).map((f) => watched(f, defaults));
}
