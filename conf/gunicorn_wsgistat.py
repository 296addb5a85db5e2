"""gunicorn config hooks that keep live counters for wsgistat (format 2).

Use it as gunicorn's config, or import it from yours:

    gunicorn -c /etc/wsgistat/gunicorn_wsgistat.py app:application
    # or, in your own gunicorn.conf.py:
    from gunicorn_wsgistat import (on_starting, post_fork, pre_request, post_request,
                                   child_exit, nworkers_changed)

and read it with `wsgistat gunicorn:///dev/shm/wsgistat-gunicorn/`.

Settings (environment of the gunicorn master):

- WSGISTAT_GUNICORN_DIR: the directory, by default /dev/shm/wsgistat-gunicorn. One directory
  belongs to one master: a second gunicorn started on a directory whose master is alive refuses it
  (one log line) and keeps no stats; it never touches the live master's files.
- WSGISTAT_GUNICORN_GROUP: a group name or gid that may read the directory (a monitoring user):
  the directory is then 0750 and its files 0640. Unset: 0700 and 0600, the master's user only.
- WSGISTAT_GUNICORN_REQUEST_VARS: "QUERY_STRING", "HTTP_HOST" or both, comma-separated, to store
  those of the requests in flight too. Unset: only the method and the path are stored, since query
  strings and Host headers can hold secrets.

How it works, and why:

- Each worker owns one fixed-layout record, worker-<pid>.bin, memory-mapped. A request costs a few
  writes of 64-bit integers into that memory and no system call: no file write, rename or lock
  between workers (a gthread worker's threads share one lock of their own). Every update of
  the counters is framed by a sequence counter (odd while it is written), so a reader that copies
  the record twice and finds the same even counter has a consistent copy; pre_request only fills
  its thread's slot and writes the slot's start word last.
- The master keeps what its dead workers served: when it reaps a worker, however the worker died
  (max-requests, timeout, SIGKILL, a reload), child_exit adds the worker's counters and latency
  histogram to retired.json and counts the requests that worker had accepted and never answered
  as aborted. Then it removes the worker's record. So the server's totals never go down while the
  master lives.
- Request times go into a histogram of 128 log-spaced buckets (5 per doubling, from 16 us to about
  10 minutes), from which wsgistat estimates percentiles.
- Nothing runs in a signal handler; every hook body is guarded: an error in here is logged once
  and never turns into a failed request.
- The directory is created owner-only and refused (one log line, no stats) if it is a symlink,
  belongs to another user or is writable by group or others. Files are created under
  unpredictable names with O_EXCL and O_NOFOLLOW, relative to a descriptor of the directory, and
  renamed into place, so no path in it can be redirected.

Layout of a worker record: unsigned 64-bit little-endian words; see the W_* and SLOT_* constants
below (wsgistat's lib/sources/gunicorn/record.ts reads the same layout).
"""

import json
import math
import mmap
import os
import secrets
import sys
import threading
import time

FORMAT = "wsgistat-gunicorn/2"
STATUS_DIR = os.environ.get("WSGISTAT_GUNICORN_DIR", "/dev/shm/wsgistat-gunicorn")
GROUP = os.environ.get("WSGISTAT_GUNICORN_GROUP", "")
REQUEST_VARS = {v.strip().upper() for v in os.environ.get("WSGISTAT_GUNICORN_REQUEST_VARS", "").split(",") if v.strip()}

MAGIC = int.from_bytes(b"WSGIST02", "little")
# Header words.
W_MAGIC, W_VERSION, W_SEQ, W_IDENT, W_PID, W_MASTER, W_BOOTED_US, W_SLOTS, W_BUCKETS, W_FLAGS = range(10)
# Requests are not a word of their own: each ended request adds one to exactly one status word
# (13..17: 1xx..5xx; 18: no status sent, or one outside 100..599), and requests are their sum, so
# that a worker killed in the middle of an update never leaves a request without its status.
W_TIME_US, W_EXCEPTIONS = 11, 12
W_STATUS = 13
W_STATUS_OTHER = 18
# gthread: connections taken by the main thread (20) and settled (21): reached pre_request, or
# ended without a request; taken - settled wait for a thread. 22: open connections.
W_IN_FLIGHT, W_TAKEN, W_SETTLED, W_CONNS = 19, 20, 21, 22
# Requests this worker dropped because it was told to exit in the middle of them (the SIGABRT of
# gunicorn's timeout, a SystemExit): not served, so not in the status words.
W_ABORTED = 23
HEADER_WORDS = 32
# Histogram: bucket 0 is [0, 16 us); bucket k (1..126) is [2^((k+19)/5), 2^((k+20)/5)) us;
# bucket 127 holds everything longer (about 617 s and more).
BUCKETS = 128
PER_OCTAVE = 5
FIRST_US = 16
W_HIST = HEADER_WORDS
# Per-thread request slots: start (CLOCK_MONOTONIC ns, 0 = free), a reserved word, byte lengths
# (line | query << 16 | host << 24), then the bytes: the line "METHOD PATH" (136 bytes at most),
# the query string and the Host header (only when asked).
SLOT_WORDS = 48
SLOT_LINE, SLOT_QUERY, SLOT_HOST = 3, 20, 36  # word offsets in a slot
LINE_MAX, QUERY_MAX, HOST_MAX = 136, 128, 64
W_SLOTS0 = W_HIST + BUCKETS
FLAG_QUERY, FLAG_HOST = 1, 2
ABSORBED_KEEP = 256
MAX_JSON = 1 << 20

_log2 = math.log2
_mono = time.monotonic_ns
_wall = time.time
_exc_info = sys.exc_info
_ident = threading.get_ident
_CLIENT_GONE = (32, 104, 107)  # EPIPE, ECONNRESET, ENOTCONN: the client left, not an app error

_warned = set()


def _warn(log, key, what):
    """Logs a problem once per kind and process: hooks never fail a request."""
    if key in _warned or log is None:
        return
    _warned.add(key)
    try:
        log.warning("wsgistat hooks: %s", what)
    except Exception:
        pass


def bucket_of(us):
    """The histogram bucket of a request time in microseconds."""
    if us < FIRST_US:
        return 0
    k = int(_log2(us) * PER_OCTAVE) - (PER_OCTAVE * 4 - 1)
    return k if k < BUCKETS else BUCKETS - 1


# ---------------------------------------------------------------- the directory


class Refused(Exception):
    pass


def _modes():
    """(gid or -1, directory mode, file mode)."""
    if not GROUP:
        return -1, 0o700, 0o600
    if GROUP.isdigit():
        return int(GROUP), 0o750, 0o640
    import grp
    return grp.getgrnam(GROUP).gr_gid, 0o750, 0o640


def open_dir(path=None):
    """Opens (creating if needed) the status directory and returns a descriptor of it. Refuses a
    symlink, a directory of another user, or one writable by group or others."""
    path = path or STATUS_DIR
    gid, dmode, _ = _modes()
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as e:
        if e.errno in (40, 20):  # ELOOP, ENOTDIR
            raise Refused("%s is a symlink or not a directory: not used" % path)
        raise
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid():
            raise Refused("%s belongs to uid %d, not to this user (uid %d): not used" % (path, st.st_uid, os.geteuid()))
        if st.st_mode & 0o022:
            raise Refused("%s is writable by %s (mode %o): not used; make it 0700" % (
                path, "others" if st.st_mode & 0o002 else "its group", st.st_mode & 0o7777))
        if gid != -1 and st.st_gid != gid:
            os.fchown(fd, -1, gid)
        if st.st_mode & 0o7777 != dmode:
            os.fchmod(fd, dmode)
        return fd
    except BaseException:
        os.close(fd)
        raise


def _tmp_name():
    return ".tmp-%d-%s" % (os.getpid(), secrets.token_hex(8))


def _create(dfd, size=0):
    """A new private file under an unpredictable name: (fd, name)."""
    gid, _, fmode = _modes()
    for _ in range(8):
        name = _tmp_name()
        try:
            fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, fmode, dir_fd=dfd)
        except FileExistsError:
            continue
        try:
            os.fchmod(fd, fmode)
            if gid != -1:
                os.fchown(fd, -1, gid)
            if size:
                os.ftruncate(fd, size)
        except BaseException:
            os.close(fd)
            os.unlink(name, dir_fd=dfd)
            raise
        return fd, name
    raise OSError("cannot create a temporary file")


def write_json(dfd, name, doc):
    """Writes doc to name in the directory, whole: readers see the old file or the new."""
    fd, tmp = _create(dfd)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, separators=(",", ":"))
        os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dfd)
        except OSError:
            pass
        raise


def read_bytes(dfd, name, limit):
    """A regular file of the directory, never through a symlink, at most limit bytes."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dfd)
    try:
        import stat
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            raise OSError("%s is not a regular file of this user" % name)
        data = os.read(fd, limit + 1)
        if len(data) > limit:
            raise OSError("%s is larger than %d bytes" % (name, limit))
        return data
    finally:
        os.close(fd)


def read_json(dfd, name):
    try:
        return json.loads(read_bytes(dfd, name, MAX_JSON))
    except FileNotFoundError:
        return None


def start_ticks(pid):
    """The process's start time in clock ticks since boot (/proc/<pid>/stat field 22), or None:
    with the pid, it names one process even after the pid is reused."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read(4096)
        return int(data[data.rindex(b")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def master_alive(doc):
    """Whether the master a master.json names is a live process (the same one, not a reused pid)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("pid"), int):
        return False
    ticks = start_ticks(doc["pid"])
    return ticks is not None and (doc.get("start_ticks") is None or doc.get("start_ticks") == ticks)


def _is_ours(name):
    return name in ("master.json", "retired.json") or name.startswith(".tmp-") or (
        name.startswith("worker-") and (name.endswith(".bin") or name.endswith(".json") or name.endswith(".tmp")))


def _empty_retired():
    return {"format": FORMAT, "requests": 0, "running_time": 0, "exceptions": 0,
            "status_1xx": 0, "status_2xx": 0, "status_3xx": 0, "status_4xx": 0, "status_5xx": 0,
            "status_other": 0, "requests_aborted": 0, "workers_retired": 0,
            "histogram": [0] * BUCKETS, "absorbed": []}


def take_dir(server, path=None):
    """In the master at start: takes the directory for this master, or raises Refused when a live
    master holds it. Clears what a dead master (or the first hooks) left."""
    path = path or STATUS_DIR
    dfd = open_dir(path)
    try:
        old = None
        try:
            old = read_json(dfd, "master.json")
        except (OSError, ValueError):
            pass
        if isinstance(old, dict) and old.get("pid") != os.getpid() and master_alive(old):
            raise Refused("%s belongs to the live gunicorn master pid %s: this master keeps no stats; "
                          "give each gunicorn its own WSGISTAT_GUNICORN_DIR" % (path, old.get("pid")))
        for name in os.listdir(dfd):
            if _is_ours(name):
                try:
                    os.unlink(name, dir_fd=dfd)
                except FileNotFoundError:
                    pass
        cfg = server.cfg
        write_json(dfd, "retired.json", _empty_retired())
        write_json(dfd, "master.json", {
            "format": FORMAT,
            "pid": os.getpid(),
            "start_ticks": start_ticks(os.getpid()),
            "started": _wall(),
            "workers": cfg.workers,
            "worker_class": cfg.worker_class_str,
            "threads": cfg.threads,
            "worker_connections": cfg.worker_connections,
            "max_requests": cfg.max_requests,
            "timeout": cfg.timeout,
            "backlog": cfg.backlog,
            "bind": list(cfg.bind),
            "request_vars": sorted(REQUEST_VARS & {"QUERY_STRING", "HTTP_HOST"}),
            "histogram": {"buckets": BUCKETS, "first_us": FIRST_US, "per_octave": PER_OCTAVE},
        })
        return dfd
    except BaseException:
        os.close(dfd)
        raise


_master = {"dfd": None, "refused": None}


def _master_dir(server):
    """The master's descriptor of its directory, reopened after a reload (which runs this file
    again, in a fresh namespace) and checked to be still this master's."""
    if _master["dfd"] is not None:
        return _master["dfd"]
    if _master["refused"]:
        return None
    dfd = open_dir()
    doc = read_json(dfd, "master.json")
    if not isinstance(doc, dict) or doc.get("pid") != os.getpid():
        # Not (or not yet: gunicorn calls nworkers_changed before on_starting) this master's.
        os.close(dfd)
        return None
    _master["dfd"] = dfd
    return dfd


def on_starting(server):
    try:
        _master["dfd"] = take_dir(server)
    except Refused as e:
        _master["refused"] = str(e)
        try:
            server.log.error("wsgistat hooks: %s", e)
        except Exception:
            pass
    except Exception as e:
        _master["refused"] = str(e)
        _warn(server.log, "start", "cannot prepare %s: %s" % (STATUS_DIR, e))


def nworkers_changed(server, new_value, old_value):
    try:
        dfd = _master_dir(server)
        if dfd is None:
            return
        doc = read_json(dfd, "master.json")
        if isinstance(doc, dict):
            doc["workers"] = new_value
            write_json(dfd, "master.json", doc)
    except Exception as e:
        _warn(server.log, "nworkers", "nworkers_changed: %s" % e)


# ---------------------------------------------------------------- a worker's record


def record_words(slots):
    return W_SLOTS0 + slots * SLOT_WORDS


def parse_record(data):
    """A worker record's words as a list of ints, or None if it is not one."""
    if len(data) < W_SLOTS0 * 8:
        return None
    words = memoryview(data).cast("Q").tolist()
    if words[W_MAGIC] != MAGIC or words[W_VERSION] != 2 or words[W_BUCKETS] != BUCKETS:
        return None
    if len(words) != record_words(words[W_SLOTS]):
        return None
    return words


class _Worker:
    __slots__ = ("mm", "mv", "lock", "slots", "slot_of", "nslots", "flags", "worker", "threaded", "tl")


_w = None


def post_fork(server, worker):
    """In the new worker: creates and maps its record."""
    global _w
    _w = None
    try:
        if _master["refused"]:
            return
        dfd = _master["dfd"]
        if dfd is None:
            dfd = open_dir()
            doc = read_json(dfd, "master.json")
            if not isinstance(doc, dict) or doc.get("pid") != os.getppid():
                os.close(dfd)
                return
        threaded = server.cfg.worker_class_str == "gthread"
        threads = max(1, int(server.cfg.threads or 1)) if threaded else 1
        size = record_words(threads) * 8
        fd, tmp = _create(dfd, size)
        try:
            mm = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
        mv = memoryview(mm).cast("Q")
        flags = (FLAG_QUERY if "QUERY_STRING" in REQUEST_VARS else 0) | (FLAG_HOST if "HTTP_HOST" in REQUEST_VARS else 0)
        mv[W_VERSION] = 2
        mv[W_IDENT] = secrets.randbits(48) | 1
        mv[W_PID] = os.getpid()
        mv[W_MASTER] = os.getppid()
        mv[W_BOOTED_US] = int(_wall() * 1e6)
        mv[W_SLOTS] = threads
        mv[W_BUCKETS] = BUCKETS
        mv[W_FLAGS] = flags
        mv[W_MAGIC] = MAGIC
        os.rename(tmp, "worker-%d.bin" % os.getpid(), src_dir_fd=dfd, dst_dir_fd=dfd)
        w = _Worker()
        # One thread serves requests: no lock (gthread's finish_request takes its own, below).
        w.mm, w.mv, w.nslots, w.flags, w.worker = mm, mv, threads, flags, worker
        w.lock = threading.Lock() if threads > 1 else None
        w.slot_of = {}
        w.threaded = False
        w.tl = threading.local()
        w.slots = list(range(threads))
        if threaded:
            _watch_gthread(worker, w)
        _w = w
    except Exception as e:
        _warn(worker.log, "fork", "cannot create the worker record in %s: %s" % (STATUS_DIR, e))


def _watch_gthread(worker, w):
    """gthread: counts the connections a worker has taken and settled, so that requests waiting
    for a thread show, and its open connections. Wraps four methods of this worker object; a
    gunicorn without them gets no queue figures."""
    names = ("enqueue_req", "handle", "finish_request", "murder_keepalived")
    enqueue, handle, finish, murder = (getattr(worker, n, None) for n in names)
    if not (enqueue and handle and finish and murder and hasattr(worker, "nr_conns")):
        return
    mv = w.mv
    tl = w.tl
    lock = w.lock or threading.Lock()

    def enqueue_req(conn):
        enqueue(conn)
        mv[W_TAKEN] += 1  # only the main thread writes this word
        mv[W_CONNS] = worker.nr_conns

    def handle_conn(conn):
        # In a pool thread, for one request of the connection: pre_request settles it; one that
        # never gets there (a client that sent nothing, a bad request) is settled here.
        tl.begun = False
        try:
            return handle(conn)
        finally:
            if not tl.begun:
                with lock:
                    mv[W_SETTLED] += 1

    def finish_request(fs):
        try:
            finish(fs)
        finally:
            mv[W_CONNS] = worker.nr_conns

    def murder_keepalived():
        murder()
        mv[W_CONNS] = worker.nr_conns

    worker.enqueue_req, worker.handle, worker.finish_request, worker.murder_keepalived = enqueue_req, handle_conn, finish_request, murder_keepalived
    w.threaded = True


def _put(mm, at, value, limit):
    b = value.encode("utf-8", "replace")[:limit] if value else b""
    if b:
        mm[at:at + len(b)] = b
    return len(b)


# The request path. These run inside every request, so they are written for speed: a few word
# writes into the mapped record, literal word numbers (W_SEQ is 2, W_IN_FLIGHT 19, W_HIST 32,
# W_STATUS 13; spec/hooks.spec.ts checks the layout), no lock for a worker with one thread, no
# wall-clock call (the reader turns the monotonic start into a time), one byte copy.


def pre_request(worker, req):
    w = _w
    if w is None:
        return
    try:
        if w.lock is None:
            _pre(w, 0, req)
        else:
            with w.lock:
                slot = w.slot_of.get(_ident())
                if slot is None:
                    slot = w.slot_of[_ident()] = w.slots.pop() if w.slots else -1
                _pre(w, slot, req)
    except Exception as e:
        _warn(worker.log, "pre", "pre_request: %s" % e)


def _pre(w, slot, req):
    # No sequence frame here: a reader takes a slot only once its start word is set, which is
    # written last, after the bytes it vouches for. (x86 shows one writer's stores in order; where
    # a CPU does not, the worst a reader can see is a garbled path, never a wrong count.)
    mv = w.mv
    if slot >= 0:
        base = W_SLOTS0 + slot * SLOT_WORDS
        mm = w.mm
        # "METHOD PATH", one copy: a method has no space in it.
        b = (req.method + " " + req.path).encode("utf-8", "replace")[:LINE_MAX]
        at = (base + SLOT_LINE) * 8
        mm[at:at + len(b)] = b
        n = len(b)
        if w.flags:
            if w.flags & FLAG_QUERY:
                n |= _put(mm, (base + SLOT_QUERY) * 8, req.query, QUERY_MAX) << 16
            if w.flags & FLAG_HOST:
                host = ""
                for k, v in req.headers:
                    if k == "HOST":
                        host = v
                        break
                n |= _put(mm, (base + SLOT_HOST) * 8, host, HOST_MAX) << 24
        mv[base + 2] = n
        mv[base] = _mono() or 1
    # In flight before settled: a worker killed between the two counts this request twice as
    # unanswered, never zero times.
    mv[19] += 1
    if w.threaded:
        mv[21] += 1
        w.tl.begun = True


def post_request(worker, req, environ, resp):
    w = _w
    if w is None:
        return
    try:
        end = _mono()
        e = _exc_info()[1]
        if e is not None:
            if not isinstance(e, Exception):
                _drop(w)  # SystemExit (gunicorn's timeout abort) or KeyboardInterrupt: not served
                return
            if isinstance(e, StopIteration):  # gunicorn's way to close after a failure mid-body
                e = e.__context__
            if isinstance(e, OSError) and e.errno in _CLIENT_GONE:
                e = None
        code = getattr(resp, "status_code", None)
        if w.lock is None:
            _post(w, 0, end, e, code)
        else:
            with w.lock:
                _post(w, w.slot_of.get(_ident(), -1), end, e, code)
    except Exception as e:
        _warn(worker.log, "post", "post_request: %s" % e)


def _post(w, slot, end, e, code):
    mv = w.mv
    mv[2] += 1
    try:
        base = W_SLOTS0 + slot * SLOT_WORDS if slot >= 0 else 0
        start = mv[base] if slot >= 0 else 0
        if start:
            us = (end - start) // 1000
            mv[11] += us
            # bucket_of(us), inline
            k = int(_log2(us) * 5) - 19 if us >= 16 else 0
            mv[32 + (k if k < 128 else 127)] += 1
        else:
            mv[32] += 1
        if e is not None:
            mv[12] += 1
        # Served first, then out of flight: a worker killed between the two counts this request as
        # served and aborted, never as neither.
        if code is None:
            # No status: gunicorn answers the client 500 itself after this hook (the app raised
            # before start_response), or nothing when the client is gone.
            mv[17 if e is not None else 18] += 1
        elif 100 <= code <= 599:
            mv[12 + code // 100] += 1
        else:
            mv[18] += 1
        if slot >= 0:
            mv[base] = 0
        if mv[19]:
            mv[19] -= 1
    finally:
        mv[2] += 1


def _drop(w):
    """A request the worker gives up on as it exits: counted as aborted, not as served."""
    mv = w.mv
    with w.lock or threading.Lock():
        slot = 0 if w.lock is None else w.slot_of.get(_ident(), -1)
        mv[W_SEQ] += 1
        try:
            if slot >= 0:
                mv[W_SLOTS0 + slot * SLOT_WORDS] = 0
            mv[W_ABORTED] += 1  # first: killed in between, it counts twice, never zero times
            if mv[W_IN_FLIGHT]:
                mv[W_IN_FLIGHT] -= 1
        finally:
            mv[W_SEQ] += 1


def worker_exit(server, worker):
    # The record stays: the master adds it to the totals when it reaps this worker (child_exit).
    pass


# ---------------------------------------------------------------- the master keeps the dead's counts


COUNTER_WORDS = (("running_time", W_TIME_US), ("exceptions", W_EXCEPTIONS),
                 ("status_1xx", W_STATUS), ("status_2xx", W_STATUS + 1), ("status_3xx", W_STATUS + 2),
                 ("status_4xx", W_STATUS + 3), ("status_5xx", W_STATUS + 4), ("status_other", W_STATUS_OTHER))


def requests_of(words):
    return sum(words[W_STATUS:W_STATUS_OTHER + 1])


def unanswered(words):
    """Requests a worker had accepted and not answered: dropped as it exited, in flight, and
    (gthread) waiting for a thread."""
    waiting = words[W_TAKEN] - words[W_SETTLED]
    return words[W_ABORTED] + words[W_IN_FLIGHT] + (waiting if waiting > 0 else 0)


def absorb(dfd, pid):
    """Adds a reaped worker's counts to retired.json, then removes its record. A reader that sees
    both skips the record (its ident is in "absorbed"); one that sees neither cannot happen, since
    readers read the records first and retired.json last."""
    name = "worker-%d.bin" % pid
    try:
        data = read_bytes(dfd, name, 1 << 20)
    except FileNotFoundError:
        data = None
    words = parse_record(data) if data is not None else None
    if words is not None and words[W_MASTER] == os.getpid():
        retired = read_json(dfd, "retired.json")
        if not isinstance(retired, dict) or retired.get("format") != FORMAT:
            retired = _empty_retired()
        if words[W_IDENT] not in retired["absorbed"]:
            retired["requests"] = retired.get("requests", 0) + requests_of(words)
            for key, at in COUNTER_WORDS:
                retired[key] = retired.get(key, 0) + words[at]
            hist = retired.get("histogram") or [0] * BUCKETS
            retired["histogram"] = [a + b for a, b in zip(hist, words[W_HIST:W_HIST + BUCKETS])]
            retired["requests_aborted"] = retired.get("requests_aborted", 0) + unanswered(words)
            retired["workers_retired"] = retired.get("workers_retired", 0) + 1
            retired["absorbed"] = (retired["absorbed"] + [words[W_IDENT]])[-ABSORBED_KEEP:]
            write_json(dfd, "retired.json", retired)
    for n in [name] + [n for n in os.listdir(dfd) if n.startswith(".tmp-%d-" % pid)]:
        try:
            os.unlink(n, dir_fd=dfd)
        except FileNotFoundError:
            pass


_reaped = {"pending": [], "busy": False}


def child_exit(server, worker):
    """Runs in the master once it has reaped a worker, however the worker died. gunicorn reaps in
    its SIGCHLD handler, which Python runs between any two bytecodes of the master, so this can be
    entered again in the middle of an absorb (another worker died meanwhile). A nested call only
    queues its pid: absorbs never interleave, and none reads retired.json while another is about
    to write it (two interleaved ones lost the counts of one worker, measured with
    --max-requests)."""
    _reaped["pending"].append(getattr(worker, "pid", None))
    while _reaped["pending"] and not _reaped["busy"]:
        _reaped["busy"] = True
        try:
            while _reaped["pending"]:
                pid = _reaped["pending"].pop(0)
                try:
                    dfd = _master_dir(server)
                    if dfd is not None and pid is not None:
                        absorb(dfd, pid)
                except Exception as e:
                    _warn(server.log, "child_exit", "cannot keep the counts of worker %s: %s" % (pid if pid is not None else "?", e))
        finally:
            _reaped["busy"] = False
