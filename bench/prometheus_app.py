# The prometheus_client case of bench/gunicorn.ts (issue #11): spec/fixtures/app.py wrapped in a
# WSGI middleware that does, per request, what the Flask monitoring of shared/seeds/002 does in its
# before_request/after_request: an in-progress Gauge (multiprocess_mode='livesum') inc and dec, a
# Histogram observe of the latency and a Counter inc labelled with method, endpoint and status.
# prometheus_client runs in multiprocess mode because gunicorn sets PROMETHEUS_MULTIPROC_DIR (a
# fresh private directory per server); bench/gunicorn_prometheus.py is the config that goes with it.
# Run as `gunicorn --chdir spec/fixtures --pythonpath bench ... prometheus_app:application`.
import time

from prometheus_client import Counter, Gauge, Histogram

from app import application as inner

APP_NAME = 'bench'

REQUEST_COUNT = Counter(
    'http_requests_total', 'Total Request Count', ['app_name', 'method', 'endpoint', 'http_status'])
REQUEST_LATENCY = Histogram('http_request_latency_seconds', 'Request latency', ['app_name', 'endpoint'])
REQUEST_IN_PROGRESS = Gauge(
    'http_requests_in_progress_total', 'Requests in progress', ['app_name', 'endpoint', 'method'],
    multiprocess_mode='livesum')


def application(environ, start_response):
    method = environ.get('REQUEST_METHOD', '')
    # The path as the endpoint, as the seed's aiohttp variant does; the bench asks only for '/'.
    endpoint = environ.get('PATH_INFO', '')
    status = []

    def record_status(s, headers, exc_info=None):
        status.append(s.split(' ', 1)[0])
        return start_response(s, headers, exc_info)

    start = time.time()
    in_progress = REQUEST_IN_PROGRESS.labels(APP_NAME, endpoint, method)
    in_progress.inc()
    try:
        body = inner(environ, record_status)
    finally:
        # Like Flask's after_request: once the app has returned, before the body is sent.
        in_progress.dec()
    REQUEST_LATENCY.labels(APP_NAME, endpoint).observe(time.time() - start)
    REQUEST_COUNT.labels(APP_NAME, method, endpoint, status[0] if status else '').inc()
    return body
