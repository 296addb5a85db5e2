"""gunicorn config hooks that keep a status directory for wsgistat.

Use it as gunicorn's config, or import it from yours:

    gunicorn -c /etc/wsgistat/gunicorn_wsgistat.py app:application
    # or, in your own gunicorn.conf.py:
    from gunicorn_wsgistat import on_starting, post_fork, pre_request, post_request, child_exit, worker_exit

and read it with `wsgistat gunicorn:///dev/shm/wsgistat-gunicorn/`. The directory is
$WSGISTAT_GUNICORN_DIR, by default /dev/shm/wsgistat-gunicorn; give each gunicorn its own.

Why a directory, not the one shared JSON file of mackerel-plugin-gunicorn's hooks: that file is
read, truncated and rewritten by every worker under one lock on every request, so readers see it
empty, a worker killed between truncate and write leaves a file that breaks every later hook (and
gunicorn with it), a SIGINT under load can deadlock a worker on its own lock, and dead workers'
entries stay forever. Here:

- each worker writes only its own file, whole, to a temporary name and renames it into place: a
  worker killed at any instant leaves its last whole file or none, and no worker waits for another;
- nothing runs in a signal handler, and the only lock is a worker's own, around its own counters,
  so a SIGINT or SIGTERM stop cannot deadlock;
- the master removes a worker's file when it reaps the worker (SIGKILL included), and clears the
  directory at start, so dead workers and reloads leave nothing behind;
- in-flight requests are counted per worker, so sync and gthread workers are both right;
- every hook body is guarded: an error in here, or a request without a Host header, is logged once
  and never turns into a failed request.
"""

import json
import os
import threading
import time

FORMAT = "wsgistat-gunicorn/1"
STATUS_DIR = os.environ.get("WSGISTAT_GUNICORN_DIR", "/dev/shm/wsgistat-gunicorn")

_lock = threading.Lock()
_state = None
_in_flight = {}
_warned = False


def _warn(log, what):
    global _warned
    if not _warned and log is not None:
        _warned = True
        try:
            log.warning("wsgistat hooks: %s (further errors are not logged)", what)
        except Exception:
            pass


def _write(path, doc):
    """Writes doc as JSON to path atomically: a reader sees the old file or the new, whole."""
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    os.replace(tmp, path)


def _worker_file(pid):
    return os.path.join(STATUS_DIR, "worker-%d.json" % pid)


def _snapshot():
    """The worker's file: its counters and the requests it is serving now."""
    doc = dict(_state)
    doc["updated"] = time.time()
    doc["in_flight"] = len(_in_flight)
    doc["current"] = [
        {k: v for k, v in r.items() if k != "t0"} for r in sorted(_in_flight.values(), key=lambda r: r["start"])
    ]
    return doc


def on_starting(server):
    try:
        os.makedirs(STATUS_DIR, mode=0o755, exist_ok=True)
        for name in os.listdir(STATUS_DIR):
            if name.startswith("worker-") or name.endswith(".tmp"):
                os.unlink(os.path.join(STATUS_DIR, name))
        _write(os.path.join(STATUS_DIR, "master.json"), {
            "format": FORMAT,
            "pid": os.getpid(),
            "started": time.time(),
            "workers": server.cfg.workers,
            "worker_class": server.cfg.worker_class_str,
            "threads": server.cfg.threads,
            "backlog": server.cfg.backlog,
            "bind": list(server.cfg.bind),
        })
    except Exception as e:
        _warn(server.log, "cannot prepare %s: %s" % (STATUS_DIR, e))


def post_fork(server, worker):
    global _state
    try:
        with _lock:
            _in_flight.clear()
            _state = {
                "format": FORMAT,
                "pid": worker.pid,
                "master_pid": os.getppid(),
                "booted": time.time(),
                "requests": 0,
                "request_time_us": 0,
                "exceptions": 0,
                "status_1xx": 0, "status_2xx": 0, "status_3xx": 0, "status_4xx": 0, "status_5xx": 0,
            }
            _write(_worker_file(worker.pid), _snapshot())
    except Exception as e:
        _warn(worker.log, "cannot write the worker file: %s" % e)


def _header(req, name):
    for key, value in getattr(req, "headers", None) or ():
        if key.upper() == name:
            return value
    return ""


def pre_request(worker, req):
    try:
        with _lock:
            if _state is None:
                return
            _in_flight[id(req)] = {
                "method": req.method or "",
                "path": req.path or "",
                "query": req.query or "",
                "host": _header(req, "HOST"),
                "start": time.time(),
                "t0": time.monotonic(),
            }
            _write(_worker_file(worker.pid), _snapshot())
    except Exception as e:
        _warn(worker.log, "pre_request: %s" % e)


def post_request(worker, req, environ, resp):
    try:
        with _lock:
            if _state is None:
                return
            current = _in_flight.pop(id(req), None)
            _state["requests"] += 1
            if current is not None:
                _state["request_time_us"] += int((time.monotonic() - current["t0"]) * 1e6)
            code = getattr(resp, "status_code", None)
            if isinstance(code, int) and 100 <= code <= 599:
                _state["status_%dxx" % (code // 100)] += 1
            elif code is None:
                # No status yet: the app raised before start_response, and gunicorn answers
                # 500 (handle_error) after this hook.
                _state["exceptions"] += 1
                _state["status_5xx"] += 1
            _write(_worker_file(worker.pid), _snapshot())
    except Exception as e:
        _warn(worker.log, "post_request: %s" % e)


def worker_exit(server, worker):
    try:
        os.unlink(_worker_file(worker.pid))
    except Exception:
        pass


def child_exit(server, worker):
    # Runs in the master once it has reaped a worker, however the worker died.
    for path in (_worker_file(worker.pid), _worker_file(worker.pid) + ".%d.tmp" % worker.pid):
        try:
            os.unlink(path)
        except Exception:
            pass
