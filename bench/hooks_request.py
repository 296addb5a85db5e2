"""What the gunicorn hooks cost per request, measured in one process, repeatably (issue #11, "Speed").

    /usr/bin/python3 bench/hooks_request.py [HOOKS_FILE ...]

bench/gunicorn.ts measures throughput over loopback, which a 2-CPU machine shared with other work
makes noisy to a few percent; this measures the same code paths without the network and the load
client, so that differences of a fraction of a microsecond show. For each hooks file (default:
conf/gunicorn_wsgistat.py; name several to compare versions, e.g. one from `git show`) and for
"plain" (gunicorn's own default pre_request and post_request, what a server without hooks runs):

  hooks     the hooks alone, timeit-style: cfg.pre_request(worker, req) then
            cfg.post_request(worker, req, environ, resp), through gunicorn's Config as the workers
            call them, with a parsed request and a fake response;
  sync      a whole request through a real gunicorn SyncWorker.handle: a socketpair, the request
            `GET / HTTP/1.0`, gunicorn's parser, spec/fixtures/app.py, the response, the close;
  gthread   the same through a real ThreadWorker (2 threads) as its accept() does it: TConn,
            enqueue_req, the pool thread's handle and finish_request, then the main loop's
            futures.wait and murder_keepalived; with the hooks, post_fork has wrapped those.

Each figure is the median over ROUNDS (default 15) rounds of N (default 3000; hooks: 20 * N)
requests; the cases run interleaved, their order rotated every round, so that drift on a shared
machine hits all alike. "+ plain" is the median of the per-round differences to plain: the cost the
hooks add to a request, in microseconds. Wall time with perf_counter; the figures are for this
machine and Python, and a fraction of what a request costs in a real server (no accept, no client).
"""

import concurrent.futures as futures
import importlib.util
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROUNDS = int(os.environ.get("ROUNDS", "15"))
N = int(os.environ.get("N", "3000"))
REQUEST = b"GET / HTTP/1.0\r\n\r\n"
# CPU time of the whole process (the gthread pool's threads included), not wall time: what other
# processes on the machine do shows much less in it.
_clock = time.process_time_ns

sys.path.insert(0, os.path.join(ROOT, "spec", "fixtures"))
from app import application  # noqa: E402

from gunicorn import glogging  # noqa: E402
from gunicorn.config import Config  # noqa: E402
from gunicorn.http import RequestParser  # noqa: E402
from gunicorn.workers.gthread import TConn, ThreadWorker  # noqa: E402
from gunicorn.workers.sync import SyncWorker  # noqa: E402


class Listener:
    def getsockname(self):
        return ("127.0.0.1", 8000)


ADDR = ("127.0.0.1", 40000)
SERVER = ("127.0.0.1", 8000)


def load_hooks(path, n):
    spec = importlib.util.spec_from_file_location("wsgistat_hooks_%d" % n, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def make_cfg(worker_class, threads, hooks):
    cfg = Config()
    cfg.set("worker_class", worker_class)
    cfg.set("threads", threads)
    cfg.set("workers", 1)
    cfg.set("loglevel", "warning")
    if hooks is not None:
        for name in ("on_starting", "post_fork", "pre_request", "post_request", "child_exit", "nworkers_changed"):
            cfg.set(name, getattr(hooks, name))
    return cfg


class Case:
    """One server configuration (plain, or one hooks file) with a worker of each class."""

    def __init__(self, name, hooks, tmp):
        self.name, self.hooks = name, hooks
        self.sync = self._worker(SyncWorker, "sync", 1, hooks, tmp)
        self.gthread = self._worker(ThreadWorker, "gthread", 2, hooks, tmp)
        # A parsed request and a response for the hooks-only timing.
        a, b = socket.socketpair()
        a.sendall(REQUEST)
        self.req = next(RequestParser(self.sync.cfg, b, ADDR))
        a.close()
        b.close()
        self.resp = types.SimpleNamespace(status_code=200, headers_sent=True)

    def _worker(self, cls, worker_class, threads, hooks, tmp):
        cfg = make_cfg(worker_class, threads, hooks)
        log = glogging.Logger(cfg)
        worker = cls(0, os.getppid(), [], None, 30, cfg, log)
        worker.wsgi = application
        if cls is ThreadWorker:
            worker.tpool = worker.get_thread_pool()
            import selectors
            import threading
            worker.poller = selectors.DefaultSelector()
            worker._lock = threading.RLock()
        if hooks is not None:
            # As the master and then the new worker would: this process is both here.
            hooks.STATUS_DIR = os.path.join(tmp, "%s-%s" % (self.name, worker_class))
            hooks._master.update(dfd=None, refused=None)
            server = types.SimpleNamespace(cfg=cfg, log=log)
            cfg.on_starting(server)
            cfg.post_fork(server, worker)
            if hooks._w is None:
                raise SystemExit("%s: post_fork made no worker record (%s)" % (self.name, hooks.STATUS_DIR))
            # The module holds one worker: keep each class's record for its own runs.
            setattr(worker, "_bench_w", hooks._w)
        return worker

    def _use(self, worker):
        if self.hooks is not None:
            self.hooks._w = worker._bench_w

    def run_hooks(self, n):
        w = self.sync
        self._use(w)
        cfg, req, resp, env = w.cfg, self.req, self.resp, {}
        pre, post = cfg.pre_request, cfg.post_request
        t = _clock()
        for _ in range(n):
            # Looked up per request, as gunicorn does (Config.__getattr__).
            cfg.pre_request(w, req)
            cfg.post_request(w, req, env, resp)
        return (_clock() - t) / n / 1000

    def run_sync(self, n):
        w = self.sync
        self._use(w)
        listener = Listener()
        t = _clock()
        for _ in range(n):
            a, b = socket.socketpair()
            a.sendall(REQUEST)
            w.handle(listener, b, ADDR)
            while a.recv(65536):
                pass
            a.close()
        return (_clock() - t) / n / 1000

    def run_gthread(self, n):
        w = self.gthread
        self._use(w)
        t = _clock()
        for _ in range(n):
            a, b = socket.socketpair()
            a.sendall(REQUEST)
            # ThreadWorker.accept, then one turn of its main loop.
            conn = TConn(w.cfg, b, ADDR, SERVER)
            w.nr_conns += 1
            w.enqueue_req(conn)
            while w.futures:
                result = futures.wait(w.futures, timeout=1.0, return_when=futures.FIRST_COMPLETED)
                for fut in result.done:
                    w.futures.remove(fut)
            w.murder_keepalived()
            while a.recv(65536):
                pass
            a.close()
        return (_clock() - t) / n / 1000

    def check(self):
        """The hooks counted what they were given: a benchmark of hooks that do nothing is no use."""
        if self.hooks is None:
            return ""
        problems = []
        for worker in (self.sync, self.gthread):
            mv = worker._bench_w.mv
            served = sum(mv[13:19])
            if served == 0 or mv[19] != 0:
                problems.append("%s: %d served, %d in flight" % (worker.cfg.worker_class_str, served, mv[19]))
        return "; ".join(problems)


def main():
    files = sys.argv[1:] or [os.path.join(ROOT, "conf", "gunicorn_wsgistat.py")]
    tmp = tempfile.mkdtemp(prefix="wsgistat-bench-")
    try:
        cases = [Case("plain", None, tmp)] + [Case("hooks%d" % i if len(files) > 1 else "hooks", load_hooks(f, i), tmp)
                                              for i, f in enumerate(files)]
        print("Python %s, gunicorn %s; %d rounds of %d requests (hooks alone: %d calls), interleaved" % (
            sys.version.split()[0], __import__("gunicorn").__version__, ROUNDS, N, 20 * N))
        for i, f in enumerate(files):
            print("  %s: %s" % (cases[i + 1].name, f))
        kinds = [("hooks", lambda c: c.run_hooks(20 * N)), ("sync", lambda c: c.run_sync(N)), ("gthread", lambda c: c.run_gthread(N))]
        # Warm-up: one short pass of everything.
        for c in cases:
            c.run_hooks(N), c.run_sync(N // 10), c.run_gthread(N // 10)
        times = {(c.name, k): [] for c in cases for k, _ in kinds}
        for r in range(ROUNDS):
            order = cases[r % len(cases):] + cases[:r % len(cases)]
            for k, run in kinds:
                for c in order:
                    times[(c.name, k)].append(run(c))
        for c in cases:
            problem = c.check()
            if problem:
                print("warning: %s: %s" % (c.name, problem))
        print("\n%-10s %-9s %14s %12s %22s %12s" % ("case", "path", "µs/request", "min", "+ plain (median, µs)", "+ plain min"))
        for k, _ in kinds:
            base = times[("plain", k)]
            for c in cases:
                ts = times[(c.name, k)]
                diff = statistics.median(t - b for t, b in zip(ts, base))
                print("%-10s %-9s %14.3f %12.3f %22s %12s" % (c.name, k, statistics.median(ts), min(ts),
                                                               "-" if c.name == "plain" else "%+.3f" % diff,
                                                               "-" if c.name == "plain" else "%+.3f" % (min(ts) - min(base))))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
