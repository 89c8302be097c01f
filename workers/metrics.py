"""Dramatiq's own Prometheus middleware, without its exposition server.

Messages processed, errored, retried and dead-lettered, in progress and their durations, by queue
and actor (`dramatiq_*`). The worker processes write them to PROMETHEUS_MULTIPROC_DIR
(prometheus_client's multiprocess mode) and the `/metrics` of a web process on the same host reads
that directory, beside the HTTP metrics and the domain gauges: one scrape target per host, no
extra port. Dramatiq's default would fork a server on 0.0.0.0:9191 in every worker pool: a fixed
port two pools (or two checkouts) on one machine fight over, open on every interface.

The middleware is installed only when PROMETHEUS_MULTIPROC_DIR is set (config.settings): without
the shared directory a worker's figures could not reach any scrape.
"""

from __future__ import annotations

from dramatiq.middleware.prometheus import Prometheus as DramatiqPrometheus


class Prometheus(DramatiqPrometheus):
    @property
    def forks(self):
        return []

    # The metrics exist once `after_process_boot` ran, i.e. in worker processes. A web process or
    # the scheduler only enqueues; their messages carry no retries yet, but stay safe regardless.
    def after_enqueue(self, broker, message, delay):
        if hasattr(self, "total_retried_messages"):
            super().after_enqueue(broker, message, delay)

    def after_nack(self, broker, message):
        if hasattr(self, "total_rejected_messages"):
            super().after_nack(broker, message)
