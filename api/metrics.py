"""`/metrics` for Prometheus: the service's state, and this host's HTTP and Dramatiq figures.

Two parts, one exposition:
- The domain gauges (generations by status, failures, media copies, overdue steps, broker depth)
  are computed at scrape time from the database and the broker: shared state, so they are right
  however many web and worker hosts run.
- HTTP request metrics (django-prometheus, api.http_metrics) and Dramatiq actor metrics (Dramatiq's
  middleware, workers.metrics) are counted in the processes that serve and work. With
  PROMETHEUS_MULTIPROC_DIR set (`make run` sets it) every process on the host writes them to that
  directory and this view adds them up (prometheus_client's multiprocess mode), so one scrape sees
  every web worker and every Dramatiq worker process of the host, not whichever answered. Without
  it, they are this process's own (a single web process; Dramatiq's figures then are not shown).

Set METRICS_TOKEN to require `Authorization: Bearer <token>`; with DEBUG off and no METRICS_TOKEN
the endpoint does not exist (404), so production never serves it open. The domain figures are
aggregates over whole tables, so one computation is shared by every scrape (from any host) for
METRICS_CACHE_S; the per-host part is read fresh each time (it is files, not queries).
"""

from __future__ import annotations

import hmac
import os

import dramatiq
import prometheus_client
from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from generations import dispatch, selectors, vendor_balance
from generations.models import Status


class _ServiceCollector:
    def collect(self):
        by_status = selectors.generation_counts(field="status")
        generations = GaugeMetricFamily(
            "musicgateway_generations", "Generations by status.", labels=["status"]
        )
        for status in Status.values:
            generations.add_metric([status], by_status.get(status, 0))
        yield generations

        failed = GaugeMetricFamily(
            "musicgateway_generations_failed", "Failed generations by error code.", labels=["code"]
        )
        for code, count in selectors.generation_counts(field="error_code", status="failed").items():
            failed.add_metric([code or "unknown"], count)
        yield failed

        media = GaugeMetricFamily(
            "musicgateway_clips_media", "Clips by state of our audio copy.", labels=["state"]
        )
        for state, count in selectors.clip_media_counts().items():
            media.add_metric([state], count)
        yield media

        count, lag = selectors.generations_overdue(grace_s=settings.RECONCILE_GRACE_S)
        yield GaugeMetricFamily(
            "musicgateway_generations_overdue",
            "In-flight generations whose next step is late (the reconciler re-sends them).",
            value=count,
        )
        yield GaugeMetricFamily(
            "musicgateway_generations_overdue_seconds", "How late the latest one is.", value=lag
        )

        yield from _vendor_balance()

        client = getattr(dramatiq.get_broker(), "client", None)  # Redis broker only
        if client is not None:
            queued = GaugeMetricFamily(
                "musicgateway_broker_messages", "Messages in the broker.", labels=["queue"]
            )
            for name in dispatch.ALL_QUEUES:
                for queue in (name, f"{name}.DQ"):
                    queued.add_metric([queue], client.hlen(f"dramatiq:{queue}.msgs"))
            yield queued


def _vendor_balance():
    """The vendor's balance as last read, for alerting (absent before the first reading)."""
    reading = vendor_balance.vendor_balance_latest()
    yield GaugeMetricFamily(
        "musicgateway_vendor_credits_low_threshold",
        "VENDOR_CREDITS_LOW_THRESHOLD: /readyz is degraded below it.",
        value=vendor_balance.threshold(),
    )
    if reading is None or reading.credits is None:
        return
    balance = GaugeMetricFamily(
        "musicgateway_vendor_credits", "The vendor account's credits.", labels=["kind"]
    )
    balance.add_metric(["credits"], reading.credits)
    balance.add_metric(["extra_credits"], reading.extra_credits)
    yield balance
    yield GaugeMetricFamily(
        "musicgateway_vendor_credits_age_seconds",
        "Seconds since the last successful reading (a worker reads it every minute).",
        value=(timezone.now() - reading.checked_at).total_seconds(),
    )


REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(_ServiceCollector())


CACHE_KEY = "metrics:exposition"


def _domain_exposition() -> bytes:
    # Cached in the shared cache: every host may serve the same figures. Never this host's own.
    body = cache.get(CACHE_KEY)
    if body is None:
        body = generate_latest(REGISTRY)
        if settings.METRICS_CACHE_S > 0:
            cache.set(CACHE_KEY, body, timeout=settings.METRICS_CACHE_S)
    return body


def _process_exposition() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(prometheus_client.REGISTRY)


def _exposition() -> bytes:
    return _domain_exposition() + _process_exposition()


@csrf_exempt  # GET only: a POST is a 405, not the CSRF page
@require_GET
def metrics(request):
    token = settings.METRICS_TOKEN
    if not token and not settings.DEBUG:
        raise Http404
    if token:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(sent.encode(), token.encode()):
            return HttpResponse(status=401, headers={"WWW-Authenticate": "Bearer"})
    return HttpResponse(_exposition(), content_type=CONTENT_TYPE_LATEST)
