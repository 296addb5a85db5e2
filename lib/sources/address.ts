// Source addresses: what a user may write, given to the kind that claims its scheme (or, without
// one, to the kinds that claim bare forms). Pure: no I/O. A bad address is a ConfigError naming it
// and every form the kinds accept.

import { ConfigError } from '../errors.js';
import { AddressProblem, type Address } from './endpoint.js';
import { SOURCE_KINDS } from './kinds.js';

export type { Address, Endpoint } from './endpoint.js';
export { describeEndpoint } from './endpoint.js';

const FORMS = SOURCE_KINDS.flatMap((k) => k.forms).join(', ');

function fail(text: string, why: string): never {
  throw new ConfigError(`source ${JSON.stringify(text)}: ${why} (address forms: ${FORMS})`);
}

function claim(text: string): Address {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(text)?.[1]?.toLowerCase();
  const kind = scheme ? SOURCE_KINDS.find((k) => k.schemes.includes(scheme)) : undefined;
  if (kind) return kind.parse(text, scheme!);
  for (const k of SOURCE_KINDS) {
    const a = k.bare?.(text);
    if (a) return a;
  }
  if (scheme) fail(text, `unknown scheme "${scheme}:"`);
  // A name in the working directory ("app.stats") is a path only with ./ in front, or a scheme.
  if (!/[:/=]/.test(text)) fail(text, `cannot tell what kind of address this is; a path in the working directory needs ./ (./${text}) or a scheme (unix:${text}, file:${text}, gunicorn:${text})`);
  return fail(text, 'cannot tell what kind of address this is');
}

/** Parses one source address. Throws ConfigError naming the address and the forms it may take. */
export function parseAddress(input: string): Address {
  const text = input.trim();
  if (text === '') fail(input, 'empty address');
  try {
    return claim(text);
  } catch (e) {
    if (e instanceof AddressProblem) fail(text, e.message);
    throw e;
  }
}
