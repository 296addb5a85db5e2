"""Unit tests of conf/gunicorn_wsgistat.py, run with the Debian python3 that gunicorn uses
(spec/hooks.spec.ts runs them: /usr/bin/python3 -m unittest). The hooks get fake gunicorn
objects here; spec/integration/gunicorn-*.spec.ts runs them in real gunicorn."""

import errno
import os
import shutil
import sys
import tempfile
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "conf"))
import gunicorn_wsgistat as h  # noqa: E402


class Log:
    def __init__(self):
        self.lines = []

    def warning(self, fmt, *args):
        self.lines.append(("warning", fmt % args))

    def error(self, fmt, *args):
        self.lines.append(("error", fmt % args))


class Cfg:
    def __init__(self, worker_class="sync", threads=1):
        self.worker_class_str = worker_class
        self.threads = threads
        self.workers = 2
        self.worker_connections = 1000
        self.max_requests = 0
        self.timeout = 30
        self.backlog = 2048
        self.bind = ["127.0.0.1:8000"]


class Server:
    def __init__(self, cfg):
        self.cfg = cfg
        self.log = Log()


class Worker:
    def __init__(self, pid):
        self.pid = pid
        self.log = Log()


class Req:
    def __init__(self, path="/", query="", host="example.test"):
        self.method = "GET"
        self.path = path
        self.query = query
        self.headers = [("HOST", host), ("USER-AGENT", "t")]


class Resp:
    def __init__(self, code):
        self.status_code = code


class HooksCase(unittest.TestCase):
    """A master (this process) with its directory, and this process as its one worker."""

    worker_class, threads = "sync", 1

    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.dir = os.path.join(self.tmp, "status")
        h.STATUS_DIR = self.dir
        h.REQUEST_VARS = set()
        h._master.update(dfd=None, refused=None)
        h._warned.clear()
        self.server = Server(Cfg(self.worker_class, self.threads))
        h.on_starting(self.server)
        self.worker = Worker(os.getpid())
        # post_fork checks the record's master against getppid(): here the master is this process.
        self._ppid = os.getppid
        os.getppid = os.getpid
        h.post_fork(self.server, self.worker)
        self.assertIsNotNone(h._w, self.worker.log.lines)

    def tearDown(self):
        os.getppid = self._ppid
        h._w = None
        if h._master["dfd"] is not None:
            os.close(h._master["dfd"])
        h._master.update(dfd=None, refused=None)
        shutil.rmtree(self.tmp)

    def words(self):
        path = os.path.join(self.dir, "worker-%d.bin" % os.getpid())
        with open(path, "rb") as f:
            return h.parse_record(f.read())

    def serve(self, code=200, raised=None, path="/"):
        req = Req(path)
        h.pre_request(self.worker, req)
        if raised is None:
            h.post_request(self.worker, req, {}, Resp(code))
            return
        try:
            try:
                raise raised
            finally:
                h.post_request(self.worker, req, {}, Resp(code))
        except BaseException:
            pass


class TestBuckets(unittest.TestCase):
    def test_each_bucket_starts_at_its_lower_bound(self):
        self.assertEqual(h.bucket_of(0), 0)
        self.assertEqual(h.bucket_of(15.999), 0)
        for k in range(1, h.BUCKETS - 1):
            lower = 2 ** ((k + 19) / 5)
            self.assertEqual(h.bucket_of(lower * 1.0000001), k)
            self.assertEqual(h.bucket_of(lower * 0.9999999), k - 1)
        self.assertEqual(h.bucket_of(10 ** 15), h.BUCKETS - 1)

    def test_buckets_never_go_down_as_times_grow(self):
        last = 0
        us = 1.0
        while us < 1e10:
            k = h.bucket_of(us)
            self.assertGreaterEqual(k, last)
            last = k
            us *= 1.01


class TestWorkerRecord(HooksCase):
    def test_a_new_record_is_whole_and_names_its_worker_and_master(self):
        w = self.words()
        self.assertEqual((w[h.W_PID], w[h.W_MASTER], w[h.W_SLOTS], w[h.W_SEQ] % 2), (os.getpid(), os.getpid(), 1, 0))
        self.assertEqual(os.stat(os.path.join(self.dir, "worker-%d.bin" % os.getpid())).st_mode & 0o777, 0o600)

    def test_counts_requests_by_status_time_and_histogram(self):
        for code in (200, 200, 404, 302, 503, 101, 999):
            self.serve(code)
        w = self.words()
        self.assertEqual(w[h.W_STATUS:h.W_STATUS_OTHER + 1], [1, 2, 1, 1, 1, 1])
        self.assertEqual(h.requests_of(w), 7)
        self.assertEqual(sum(w[h.W_HIST:h.W_HIST + h.BUCKETS]), 7)
        self.assertEqual((w[h.W_IN_FLIGHT], w[h.W_EXCEPTIONS], w[h.W_SEQ] % 2), (0, 0, 0))
        self.assertGreater(w[h.W_TIME_US], 0)

    def test_a_request_in_flight_is_in_its_slot_without_query_or_host(self):
        req = Req("/hold", query="token=secret")
        h.pre_request(self.worker, req)
        w = self.words()
        self.assertEqual(w[h.W_IN_FLIGHT], 1)
        with open(os.path.join(self.dir, "worker-%d.bin" % os.getpid()), "rb") as f:
            data = f.read()
        self.assertIn(b"GET /hold", data)
        self.assertNotIn(b"secret", data)
        self.assertNotIn(b"example.test", data)
        h.post_request(self.worker, req, {}, Resp(200))
        self.assertEqual(self.words()[h.W_IN_FLIGHT], 0)

    def test_exceptions_mean_the_app_raised_into_gunicorn(self):
        self.serve(None, ValueError("app"))  # before start_response: gunicorn answers 500
        mid_body = StopIteration()  # how gunicorn closes a response whose app raised mid-body
        mid_body.__context__ = ValueError("mid-body")
        self.serve(200, mid_body)
        self.serve(500)  # a framework's own 500: a 5xx, not an exception
        self.serve(None, OSError(errno.EPIPE, "client gone"))  # the client left: neither
        w = self.words()
        self.assertEqual(w[h.W_EXCEPTIONS], 2)
        self.assertEqual(w[h.W_STATUS:h.W_STATUS_OTHER + 1], [0, 1, 0, 0, 2, 1])

    def test_a_request_dropped_by_an_exit_is_aborted_not_served(self):
        self.serve(None, SystemExit(1))  # gunicorn's timeout: SIGABRT, then sys.exit in the worker
        w = self.words()
        self.assertEqual((h.requests_of(w), w[h.W_ABORTED], w[h.W_IN_FLIGHT]), (0, 1, 0))

    def test_an_error_in_a_hook_is_logged_once_and_never_raised(self):
        class Broken:
            method = "GET"

            @property
            def path(self):
                raise RuntimeError("broken request")

        for _ in range(3):
            h.pre_request(self.worker, Broken())
        self.assertEqual(self.worker.log.lines, [("warning", "wsgistat hooks: pre_request: broken request")])
        self.assertEqual(self.words()[h.W_SEQ] % 2, 0)  # the sequence word is even again


class TestThreads(HooksCase):
    worker_class, threads = "gthread", 3

    def test_threads_in_flight_at_once_each_have_a_slot(self):
        started, release = threading.Barrier(4), threading.Event()

        def one(i):
            req = Req("/t%d" % i)
            h.pre_request(self.worker, req)
            started.wait()
            release.wait(5)
            h.post_request(self.worker, req, {}, Resp(200))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        started.wait()
        w = self.words()
        self.assertEqual(w[h.W_IN_FLIGHT], 3)
        used = [k for k in range(3) if w[h.W_SLOTS0 + k * h.SLOT_WORDS]]
        self.assertEqual(used, [0, 1, 2])
        release.set()
        for t in threads:
            t.join()
        w = self.words()
        self.assertEqual((w[h.W_IN_FLIGHT], h.requests_of(w)), (0, 3))


class TestMaster(HooksCase):
    def test_the_master_keeps_a_reaped_workers_counts_once(self):
        for _ in range(4):
            self.serve(200)
        h.pre_request(self.worker, Req("/killed"))  # in flight when it "dies"
        h._w = None
        h.child_exit(self.server, self.worker)
        h.child_exit(self.server, self.worker)  # a second call finds nothing to add
        retired = h.read_json(h._master["dfd"], "retired.json")
        self.assertEqual((retired["requests"], retired["status_2xx"], retired["requests_aborted"], retired["workers_retired"]), (4, 4, 1, 1))
        self.assertEqual(sum(retired["histogram"]), 4)
        self.assertEqual(len(retired["absorbed"]), 1)
        self.assertEqual(sorted(os.listdir(self.dir)), ["master.json", "retired.json"])

    def test_a_worker_reaped_while_another_is_absorbed_is_kept_too(self):
        # gunicorn calls child_exit from its SIGCHLD handler, which can run inside an absorb.
        for _ in range(3):
            self.serve(200)
        h._w = None
        dfd = h._master["dfd"]
        other = 4242424
        mine = os.path.join(self.dir, "worker-%d.bin" % os.getpid())
        with open(mine, "rb") as f:
            data = bytearray(f.read())
        for at, value in ((h.W_PID, other), (h.W_IDENT, 77), (h.W_STATUS + 1, 5)):
            data[at * 8:at * 8 + 8] = value.to_bytes(8, "little")
        with open(os.path.join(self.dir, "worker-%d.bin" % other), "wb") as f:
            f.write(bytes(data))
        real = h.read_json
        entered = []

        def read_json(d, name):
            doc = real(d, name)
            if name == "retired.json" and not entered:
                entered.append(1)
                h.child_exit(self.server, Worker(other))  # the handler, in the middle of the first
            return doc
        h.read_json = read_json
        try:
            h.child_exit(self.server, self.worker)
        finally:
            h.read_json = real
        retired = h.read_json(dfd, "retired.json")
        self.assertEqual((retired["requests"], retired["status_2xx"], retired["workers_retired"]), (8, 8, 2))
        self.assertEqual(sorted(os.listdir(self.dir)), ["master.json", "retired.json"])
        self.assertEqual(h._reaped, {"pending": [], "busy": False})

    def test_a_record_of_another_master_is_not_kept(self):
        path = os.path.join(self.dir, "worker-%d.bin" % os.getpid())
        with open(path, "r+b") as f:
            f.seek(h.W_MASTER * 8)
            f.write((1).to_bytes(8, "little"))
        h.child_exit(self.server, self.worker)
        retired = h.read_json(h._master["dfd"], "retired.json")
        self.assertEqual(retired["workers_retired"], 0)

    def test_temporary_names_are_unpredictable_and_files_private(self):
        dfd = h._master["dfd"]
        names = {h._tmp_name() for _ in range(50)}
        self.assertEqual(len(names), 50)
        h.write_json(dfd, "x.json", {"a": 1})
        self.assertEqual(os.stat("x.json", dir_fd=dfd).st_mode & 0o777, 0o600)
        self.assertFalse([n for n in os.listdir(dfd) if n.startswith(".tmp-")])


class TestDirectory(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        h.REQUEST_VARS = set()

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def test_refuses_a_symlink_and_a_directory_others_may_write(self):
        target = os.path.join(self.tmp, "target")
        os.mkdir(target, 0o700)
        os.symlink(target, os.path.join(self.tmp, "link"))
        with self.assertRaises(h.Refused):
            h.open_dir(os.path.join(self.tmp, "link"))
        os.chmod(target, 0o777)
        with self.assertRaises(h.Refused):
            h.open_dir(target)
        os.chmod(target, 0o770)
        with self.assertRaises(h.Refused):
            h.open_dir(target)

    def test_refuses_the_directory_of_a_live_master_and_takes_a_dead_ones(self):
        d = os.path.join(self.tmp, "s")
        dfd = h.open_dir(d)
        live = os.getppid()
        h.write_json(dfd, "master.json", {"format": h.FORMAT, "pid": live, "start_ticks": h.start_ticks(live)})
        with open(os.path.join(d, "worker-1.bin"), "wb") as f:
            f.write(b"x")
        with self.assertRaises(h.Refused):
            h.take_dir(Server(Cfg()), d)
        self.assertTrue(os.path.exists(os.path.join(d, "worker-1.bin")))
        # The same pid with another start time is another process: that master is gone.
        h.write_json(dfd, "master.json", {"format": h.FORMAT, "pid": live, "start_ticks": 1})
        with open(os.path.join(d, "notes.txt"), "w") as f:
            f.write("the user's")
        os.close(h.take_dir(Server(Cfg()), d))
        self.assertEqual(sorted(os.listdir(d)), ["master.json", "notes.txt", "retired.json"])
        os.close(dfd)


if __name__ == "__main__":
    unittest.main()
