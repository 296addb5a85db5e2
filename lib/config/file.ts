// The JSON config file: read bounded, parsed, and its top-level keys checked against the options.

import { ConfigError, SourceError, describeBytes } from '../errors.js';
import { readFileBoundedSync } from '../read.js';
import { bad, unknownKey } from '../options/values.js';

/** A config file larger than this is not one: every read is bounded. */
const CONFIG_MAX_BYTES = 1024 * 1024;

export function readConfigFile(path: string, knownKeys: readonly string[]): Record<string, unknown> {
  let text: string;
  try {
    text = readFileBoundedSync(path, `config file ${path}`, { maxBytes: CONFIG_MAX_BYTES }).toString('utf8');
  } catch (e) {
    throw new ConfigError(e instanceof SourceError && e.code === 'not_found' ? `config file ${path}: no such file` : (e as Error).message);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    // V8's message quotes the text around the error; a config file may hold secrets, so only the
    // position is named.
    const at = /position (\d+)/.exec((e as Error).message)?.[1];
    throw new ConfigError(`config file ${path}: not valid JSON${at ? ` at character ${at}` : ''} (${describeBytes(Buffer.from(text))})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad(`config file ${path}`, 'a JSON object', value);
  const obj = value as Record<string, unknown>;
  for (const k of Object.keys(obj)) if (!knownKeys.includes(k)) unknownKey(`config file ${path}`, k, knownKeys);
  return obj;
}
