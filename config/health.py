"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from generations.vendor_balance import vendor_balance_state

logger = logging.getLogger(__name__)


@csrf_exempt  # GET only: a POST is a 405, not the CSRF page
@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


@csrf_exempt
@never_cache
@require_GET
def readyz(request):
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception:  # any driver error means not ready
        logger.exception("readiness: database unreachable")
        checks["database"] = "unavailable"
    try:
        cache.get("readyz")
        checks["redis"] = "ok"
    except Exception:
        logger.exception("readiness: redis unreachable")
        checks["redis"] = "unavailable"
    if settings.MEDIA_STORAGE == "s3":
        # Copies wait and retry while the store is down (stream-through keeps clips playable),
        # but an operator should know.
        try:
            default_storage.connection.meta.client.head_bucket(Bucket=default_storage.bucket_name)
            checks["media_storage"] = "ok"
        except Exception:
            logger.exception("readiness: media storage unreachable")
            checks["media_storage"] = "unavailable"
    ready = all(v == "ok" for v in checks.values())
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    if checks["database"] == "ok":
        # Low vendor credits degrade without failing readiness: taking every web process out of
        # the load balancer would stop the songs the balance still pays for.
        body["vendor_credits"] = vendor_balance_state()
        if ready and body["vendor_credits"]["state"] == "low":
            body["status"] = "degraded"
    return JsonResponse(body, status=200 if ready else 503)
