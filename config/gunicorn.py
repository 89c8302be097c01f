"""gunicorn's configuration for the production web tier: `gunicorn -c config/gunicorn.py`.

uvicorn workers (ASGI: the event streams and audio do not hold a worker), one log format with the
rest of the service, and prometheus_client's multiprocess bookkeeping so that /metrics adds up
every worker's HTTP figures. `make run-prod` passes the listening socket (`--bind fd://N`);
alone, it binds HOST:PORT (0.0.0.0:8000).
"""

from __future__ import annotations

import os

from uvicorn_worker import UvicornWorker

from config import logs

bind = [f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"]  # noqa: S104
# Each worker is an event loop plus a thread pool for the sync views: two per core is plenty.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "config.gunicorn.Worker"
# A worker that does not report for this long is replaced; event streams are async, so a long
# stream does not count against it.
timeout = 60
graceful_timeout = 20
# Idle client connections stay open this long (the uvicorn workers' timeout_keep_alive): longer
# than the proxy's idle timeout, see WEB_KEEPALIVE_S in config/settings.py (which checks it).
keepalive = int(os.environ.get("WEB_KEEPALIVE_S", "75"))
# The proxy in front terminates TLS and sets X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER); gunicorn
# trusts its forwarded headers from FORWARDED_ALLOW_IPS (its own variable, default 127.0.0.1).
# gunicorn's control socket sits at one path per user ($HOME/.gunicorn): two instances on a machine
# would share it. Nothing here uses it.
control_socket_disable = True
accesslog = None  # config.logs.request_log writes one line per request
logconfig_dict = logs.config(
    os.environ.get("LOG_FORMAT", "json"), os.environ.get("LOG_LEVEL", "INFO")
)


class Worker(UvicornWorker):
    # Django has no ASGI lifespan: saying so spares the "lifespan unsupported" line.
    CONFIG_KWARGS = {**UvicornWorker.CONFIG_KWARGS, "lifespan": "off"}


# PROMETHEUS_MULTIPROC_DIR is emptied by whatever starts the host's processes (make run-prod, the
# service manager): not here, as the Dramatiq workers of the host write to it too.


def child_exit(server, worker):
    # A replaced worker's gauges must stop counting (its counters stay, as they should).
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
