# gunicorn config for the prometheus_client case of bench/gunicorn.ts, as shared/seeds/002 has it:
# the master marks a reaped worker dead, so its live gauges ('livesum') stop counting.
from prometheus_client import multiprocess


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)
