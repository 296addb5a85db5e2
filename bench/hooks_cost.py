"""What wsgistat's gunicorn hooks add to one request, in CPU microseconds, measured in-process
(issue #11, "Speed"). bench/gunicorn.ts measures whole-server throughput, whose rounds on a shared
2-CPU machine spread by 10-20 %: more than the 3 % the goal is about. This times the code the hooks
add to a request alone, with the Debian python3 that gunicorn uses, against gunicorn's own default
hooks (pre_request logs "METHOD PATH" at debug level, post_request does nothing), so that the
difference is what a server pays per request for them:

  sync     pre_request + post_request, one thread, no lock;
  gthread  the same with the per-worker lock and slot of a 2-thread worker, plus the wrappers the
           hooks put around the worker's enqueue_req, handle, finish_request and murder_keepalived
           (one call each per request: the last runs once per turn of the worker's loop, at most once
           a request under load), around no-op stand-ins, against calling the stand-ins bare.

Run: `/usr/bin/python3 bench/hooks_cost.py` (ROUNDS, default 9, of N, default 200000, requests).
Median and range of the rounds, in ns per request. The throughput ratio follows as
plain / (plain + added), with plain the CPU us/req of plain gunicorn from bench/gunicorn.ts.
"""

import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "conf"))
sys.path.insert(0, os.path.join(HERE, "..", "spec", "hooks"))
import gunicorn_wsgistat as h  # noqa: E402
import test_gunicorn_wsgistat as fakes  # noqa: E402  (the unit tests' fake gunicorn objects)

try:
    from gunicorn.config import Config

    _defaults = Config()
    default_pre, default_post = _defaults.pre_request, _defaults.post_request
except ImportError:  # gunicorn's defaults, as 20.1 defines them
    def default_pre(worker, req):
        worker.log.debug("%s %s" % (req.method, req.path))

    def default_post(worker, req, environ, resp):
        pass

ROUNDS = int(os.environ.get("ROUNDS", "9"))
N = int(os.environ.get("N", "200000"))


class Log(fakes.Log):
    def debug(self, *a):
        pass


class Worker:
    """A worker; for gthread, the four methods the hooks wrap, as no-ops."""

    def __init__(self):
        self.pid = os.getpid()
        self.log = Log()
        self.nr_conns = 1

    def enqueue_req(self, conn):
        pass

    def handle(self, conn):
        pass

    def finish_request(self, fs):
        pass

    def murder_keepalived(self):
        pass


def per_request(fn):
    """ns per request of fn(N): the median of ROUNDS rounds, and the range."""
    times = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter_ns()
        fn(N)
        times.append((time.perf_counter_ns() - t0) / N)
    return statistics.median(times), min(times), max(times)


def case(worker_class, threads):
    tmp = tempfile.mkdtemp()
    try:
        h.STATUS_DIR = os.path.join(tmp, "status")
        h.REQUEST_VARS = set()
        h._master.update(dfd=None, refused=None)
        server = fakes.Server(fakes.Cfg(worker_class, threads))
        h.on_starting(server)
        # post_fork checks the record's master against getppid(): here the master is this process.
        real_getppid = os.getppid
        os.getppid = os.getpid
        worker = Worker()
        bare = Worker()
        try:
            h.post_fork(server, worker)
        finally:
            os.getppid = real_getppid
        if h._w is None:
            raise SystemExit("post_fork made no worker record: %r" % server.log)
        req, resp, environ = fakes.Req(), fakes.Resp(200), {}
        pre, post = h.pre_request, h.post_request
        threaded = worker_class == "gthread"

        def requests(w, pre, post):
            def run(n):
                for _ in range(n):
                    if threaded:
                        w.enqueue_req(None)
                        w.handle(None)
                    pre(w, req)
                    post(w, req, environ, resp)
                    if threaded:
                        w.finish_request(None)
                        w.murder_keepalived()
            return run

        plain = requests(bare, default_pre, default_post)
        hooks = requests(worker, pre, post)
        plain(N // 10)
        hooks(N // 10)
        a = per_request(plain)
        b = per_request(hooks)
        served = h.requests_of(h._w.mv)
        if served < N * ROUNDS:
            raise SystemExit("the hooks counted %d requests of %d" % (served, N * ROUNDS))
        return a, b
    finally:
        h._w = None
        if h._master.get("dfd") is not None:
            os.close(h._master["dfd"])
            h._master["dfd"] = None
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    print("python %s; %d rounds of %d requests; ns per request, median (min-max)" % (sys.version.split()[0], ROUNDS, N))
    print("%-22s %-22s %-22s %s" % ("class", "gunicorn's defaults", "wsgistat hooks", "added"))
    for name, cls, threads in (("sync", "sync", 1), ("gthread, 2 threads", "gthread", 2)):
        a, b = case(cls, threads)
        print("%-22s %-22s %-22s %.0f ns" % (
            name,
            "%.0f (%.0f-%.0f)" % a,
            "%.0f (%.0f-%.0f)" % b,
            b[0] - a[0],
        ))


if __name__ == "__main__":
    main()
