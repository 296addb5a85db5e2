// lib/heap.ts: a process that holds its young generation keeps it at its first size where V8
// would have grown it, under the same allocations (each case in a process of its own).

import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { LARGE_TICK } from '../lib/heap.js';

const HEAP = new URL('../lib/heap.js', import.meta.url).href;

/** new_space's size at the start and after many short-lived objects that survive a scavenge or two. */
function newSpace(hold: boolean, tick?: number): [number, number] {
  const code = `
    import v8 from 'node:v8';
    import { holdYoungGeneration, sizeYoungGenerationFor } from ${JSON.stringify(HEAP)};
    const size = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
    const first = size();
    if (${hold}) holdYoungGeneration();
    if (${tick ?? -1} >= 0) sizeYoungGenerationFor(${tick ?? -1});
    const keep = new Array(30000);
    for (let i = 0; i < 400000; i++) keep[i % 30000] = { i, s: 'x' + i };
    console.log(JSON.stringify([first, size()]));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 30_000 });
  expect(r.status, r.stderr).to.equal(0);
  return JSON.parse(r.stdout) as [number, number];
}

describe('the young generation of a long run', () => {
  it('stays near its first size when held, where V8 grows it eightfold and more under the same load', () => {
    const [first, grown] = newSpace(false);
    const [firstHeld, held] = newSpace(true);
    expect(firstHeld).to.equal(first);
    expect(grown).to.be.at.least(8 * first);
    expect(held).to.be.at.most(4 * first);
  });

  it('grows again, as V8 would, once a tick has as many records as a large server gives', () => {
    const [first] = newSpace(false);
    expect(newSpace(true, LARGE_TICK - 1)[1]).to.be.at.most(4 * first);
    expect(newSpace(true, LARGE_TICK)[1]).to.be.at.least(8 * first);
  });
});
