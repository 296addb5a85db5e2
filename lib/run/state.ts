// The state file of a run: the previous sample of each source, for rates. A state file that
// cannot be used costs the rates only, with one line on stderr.

import type { Config } from '../config.js';
import * as log from '../log.js';
import type { Rates } from '../pipeline.js';
import type { RateState } from '../records/rates.js';
import { keepNewer, loadStates, lockStates, saveStates, unlockStates } from '../state.js';

export function readState(config: Config): Map<string, RateState> {
  if (!config.stateFile) return new Map();
  const { states, notice } = loadStates(config.stateFile, config.hostname);
  if (notice) log.warn('wsgistat', notice);
  return states;
}

export function writeState(config: Config, states: Map<string, RateState>): void {
  if (!config.stateFile) return;
  try {
    saveStates(config.stateFile, config.hostname, states);
  } catch (e) {
    log.warn('wsgistat', `cannot write state file ${config.stateFile} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); the next run gets no rates`);
  }
}

/** The state file of a one-shot run: read once the sources are read, under its lock, and written
 *  back (`done`) before the lock goes, so that runs at once take turns and never count the same
 *  interval twice. */
export function sharedState(config: Config): { rates: () => Promise<Rates>; done: () => void } {
  let locked = false;
  let loaded = new Map<string, RateState>();
  let states: Map<string, RateState> | undefined;
  return {
    async rates() {
      try {
        locked = await lockStates(config.stateFile!);
        if (!locked) log.warn('wsgistat', `another wsgistat holds the lock of ${config.stateFile} for more than 3 s; going on without it`);
      } catch (e) {
        log.warn('wsgistat', `cannot lock state file ${config.stateFile}: ${(e as Error).message}; no rates this time`);
        states = undefined;
        return { states: new Map(), maxGapMs: config.maxGapMs };
      }
      states = readState(config);
      loaded = new Map(states);
      return { states, maxGapMs: config.maxGapMs };
    },
    done() {
      if (states) {
        keepNewer(loaded, states);
        writeState(config, states);
      }
      if (locked) unlockStates(config.stateFile!);
      locked = false;
      states = undefined;
    },
  };
}
