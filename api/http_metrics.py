"""HTTP request metrics for `/metrics`, from django-prometheus.

django-prometheus measures latency by view and method and counts responses by status; the
operator's question, "how slow are the 5xx on this route", needs both in one histogram. Its
documented extension point (a `Metrics` subclass named by the middleware's `metrics_cls`) adds
that histogram; everything else is the library's. The route is the URL pattern's name (bounded:
no ids), `<unnamed view>` for paths that match none.
"""

from __future__ import annotations

from django_prometheus.conf import NAMESPACE, PROMETHEUS_LATENCY_BUCKETS
from django_prometheus.middleware import (
    Metrics,
    PrometheusAfterMiddleware,
    PrometheusBeforeMiddleware,
)
from django_prometheus.utils import TimeSince
from prometheus_client import Histogram


class RequestMetrics(Metrics):
    def register(self):
        super().register()
        self.requests_latency_by_view_method_status = self.register_metric(
            Histogram,
            "django_http_requests_latency_seconds_by_view_method_status",
            "Histogram of request processing time by view (the route), method and status.",
            ["view", "method", "status"],
            buckets=PROMETHEUS_LATENCY_BUCKETS,
            namespace=NAMESPACE,
        )


class BeforeMiddleware(PrometheusBeforeMiddleware):
    metrics_cls = RequestMetrics


class AfterMiddleware(PrometheusAfterMiddleware):
    metrics_cls = RequestMetrics

    def process_response(self, request, response):
        if hasattr(request, "prometheus_after_middleware_event"):
            self.metrics.requests_latency_by_view_method_status.labels(
                view=self._get_view_name(request),
                method=self._method(request),
                status=str(response.status_code),
            ).observe(TimeSince(request.prometheus_after_middleware_event))
        return super().process_response(request, response)
