// "host:port", "[v6]:port" or ":port" into its parts: one parser for the addresses wsgistat reads
// (sources/address.ts) and the listeners it looks up (sources/backlog.ts).

/** The parts, with host '' for ":port", or why the text is not one. */
export function splitHostPort(text: string): { host: string; port: number } | { problem: string } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:/[\]]*)):(\d{1,5})$/.exec(text);
  if (!m) return { problem: 'expected host:port' };
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return { problem: `port ${m[3]} is out of range 1-65535` };
  return { host: m[1] ?? m[2]!, port };
}
