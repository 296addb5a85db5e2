// V8's young generation, held at its first size for a process that runs for days.
//
// A continuous run allocates about 80 KiB per tick and keeps almost none of it. V8 doubles its
// young generation (1 MiB semi-spaces, up to 16 MiB) each time as many bytes as it holds have
// survived scavenges since the last doubling, which a long run always reaches: RSS grew by 31 %
// from tick 1,000 to tick 10,000 at 200 ticks/s (bench/tick.ts) with a flat live heap, and each
// larger scavenge walked memory no longer in the CPU's caches. Held at 1 MiB, scavenges are more
// frequent and each touches less. V8 reads this flag whenever it would grow the space
// (heap/new-spaces.cc), so setting it in a running process takes effect; nothing else is changed.
// A large server's ticks let it grow again (sizeYoungGenerationFor).

import { createRequire } from 'node:module';

let held = false;

/** For a continuous run and `top`: the young generation stays at its first size. node:v8 is
 *  loaded here, not imported: loading it (and the stream modules it pulls in) took 1.9 ms of every
 *  one-shot run, which never needs it. */
export function holdYoungGeneration(): void {
  if (held) return;
  held = true;
  v8().setFlagsFromString('--semi-space-growth-factor=1');
}

/** A tick of this many records is a large server's (hundreds of workers, each core a record). */
export const LARGE_TICK = 2000;
let released = false;

/** After a tick of `records` records: from a large server's on, V8 grows the young generation as
 *  it would (its default factor, 2). A tick of a 1,000-worker x 16-core uWSGI (18,000 records)
 *  took 34-35 ms with it free to grow and 44-49 ms held (bench/scale.ts, YOUNG=hold): each of its
 *  documents outgrows 1 MiB semi-spaces many times over. */
export function sizeYoungGenerationFor(records: number): void {
  if (!held || released || records < LARGE_TICK) return;
  released = true;
  v8().setFlagsFromString('--semi-space-growth-factor=2');
}

const v8 = () => createRequire(import.meta.url)('node:v8') as typeof import('node:v8');
