// Error types. Expected failures carry a stable `code` (it goes into error records, so users can
// alert on it) and are reported as one line, never as a stack trace.

/** Stable codes of source failures, as they appear in `type: "error"` records. */
export type SourceErrorCode =
  | 'not_found'          // no such socket file, abstract socket or document file
  | 'not_a_file'         // a path that names a device, socket, directory or symlink where a file is read
  | 'permission_denied'  // the socket or file exists but this user may not open it
  | 'connection_refused' // nothing listens there (often a stale socket file)
  | 'connection_reset'   // the server reset the connection before a whole document arrived
  | 'timeout'            // no complete answer within the source's timeout
  | 'still_reading'      // continuous runs: the source's read outlasted the interval; the others went on
  | 'too_large'          // the answer grew past the source's size cap
  | 'empty'              // the connection closed (or the file was empty) with nothing in it
  | 'truncated'          // the document stops in the middle
  | 'invalid_json'       // the document is not JSON, even read leniently
  | 'not_stats'          // not a stats server (an application socket), or JSON that is not a stats document wsgistat knows
  | 'http_error'         // an HTTP status other than 200
  | 'io_error';          // any other system error

export class SourceError extends Error {
  override readonly name = 'SourceError';
  constructor(
    readonly code: SourceErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A bad flag or config value: reported before anything is read; exit status 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** conf/gunicorn_wsgistat.py's directory when WSGISTAT_GUNICORN_DIR is unset. */
const HOOKS_DIR = '/dev/shm/wsgistat-gunicorn';

/** What to check when a path is missing: a gunicorn status path is made by the hooks gunicorn
 *  loads, anything else by the server it belongs to. */
function notFoundHint(what: string): string {
  // A *.json path is the older hooks' status file; anything else, conf/gunicorn_wsgistat.py's directory.
  if (!what.startsWith('status file ') || what.endsWith('.json')) return '(is the server running, and is this the path it was given? wsgistat discover lists the servers running here)';
  return '(the wsgistat hooks create this directory when gunicorn loads them: start gunicorn with -c conf/gunicorn_wsgistat.py, ' +
    `and WSGISTAT_GUNICORN_DIR set to this path unless it is ${HOOKS_DIR}; gunicorn --print-config with the same arguments shows ` +
    'on_starting = <on_starting()> when they are loaded, <OnStarting.on_starting()> when not)';
}

/** Maps a Node system error of a socket or file to a code and a message that says what to check. */
export function fromSystemError(err: NodeJS.ErrnoException, what: string): SourceError {
  const cause = { cause: err };
  switch (err.code) {
    case 'ENOENT':
      return new SourceError('not_found', `${what} does not exist ${notFoundHint(what)}`, cause);
    case 'EACCES':
    case 'EPERM':
      return new SourceError('permission_denied', `permission denied opening ${what} (run wsgistat as a user that may open it)`, cause);
    case 'ECONNREFUSED':
      return new SourceError('connection_refused', `connection refused: nothing is listening on ${what}` +
        (what.startsWith('unix socket') ? ' (a server stopped without vacuum leaves its socket file behind)' : ''), cause);
    case 'ECONNRESET':
    case 'EPIPE':
      return new SourceError('connection_reset', `the connection to ${what} was reset before a whole document arrived`, cause);
    case 'ENOTSOCK':
      return new SourceError('io_error', `${what} is not a socket (give the stats socket, not another file)`, cause);
    case 'EISDIR':
      return new SourceError('io_error', `${what} is a directory, not a file`, cause);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return new SourceError('io_error', `cannot reach ${what} (${err.code})`, cause);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new SourceError('io_error', `cannot resolve the host name of ${what}`, cause);
    default:
      return new SourceError('io_error', `${what}: ${err.message}`, cause);
  }
}

/** What came back, described without quoting any of it: a bad document can be request data
 *  (a truncated uWSGI document ends in the `vars` of requests in flight: cookies, bearer tokens),
 *  or another file's content. Size, what it looks like, and which classes of bytes it holds. */
export function describeBytes(bytes: Buffer): string {
  let control = 0;
  let nul = 0;
  let high = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0) nul++;
    else if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) control++;
    else if (b >= 0x80) high++;
  }
  const classes = [
    nul ? 'NUL bytes' : '',
    control ? 'control bytes' : '',
    high ? (isUtf8(bytes) ? 'non-ASCII UTF-8' : 'bytes that are not UTF-8') : '',
  ].filter(Boolean);
  const first = bytes.subarray(0, 16).toString('latin1').trimStart();
  const kind = nul > 0 || control > bytes.length / 10 ? 'binary data'
    : first.startsWith('{') || first.startsWith('[') ? 'JSON-like text'
      : first.startsWith('HTTP/') ? 'an HTTP answer'
        : first.startsWith('<') ? 'HTML or XML'
          : 'text';
  return `${bytes.length} bytes of ${kind}, ${classes.length ? `with ${classes.join(' and ')}` : 'printable ASCII only'}`;
}

function isUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}
