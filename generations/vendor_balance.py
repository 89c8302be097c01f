"""The vendor's balance, for operators: read every minute by a worker, shown in the admin and on
`/readyz` ("degraded" below VENDOR_CREDITS_LOW_THRESHOLD)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.utils import timezone

from generations.models import VendorBalance
from generations.upstream import Upstream, UpstreamError

logger = logging.getLogger(__name__)

SINGLE_ROW = 1


def threshold() -> int:
    return settings.VENDOR_CREDITS_LOW_THRESHOLD


def vendor_balance_check(*, upstream: Upstream) -> VendorBalance:
    """Ask the vendor for its balance (a free call) and keep it; a failed reading keeps the last
    balance and records why. Logs an operator error when the balance is below the threshold or
    cannot be read."""
    now = timezone.now()
    try:
        balance = upstream.balance()
    except UpstreamError as exc:
        logger.error("OPERATOR: the vendor's balance could not be read: %s", exc.detail)
        reading, _ = VendorBalance.objects.update_or_create(
            pk=SINGLE_ROW,
            defaults={"error": exc.detail or type(exc).__name__},
            create_defaults={"checked_at": now, "error": exc.detail or type(exc).__name__},
        )
        return reading
    reading, _ = VendorBalance.objects.update_or_create(
        pk=SINGLE_ROW,
        defaults={
            "credits": balance.credits,
            "extra_credits": balance.extra_credits,
            "checked_at": now,
            "error": "",
        },
    )
    if reading.total is not None and reading.total < threshold():
        logger.error(
            "OPERATOR: the vendor's balance is low: %d credits (%d + %d extra), below %d; "
            "recharge the account before creates start failing",
            reading.total,
            reading.credits,
            reading.extra_credits,
            threshold(),
        )
    return reading


def vendor_balance_latest() -> VendorBalance | None:
    """The last reading, or None before the first."""
    return VendorBalance.objects.first()


def vendor_balance_state() -> dict[str, Any]:
    """The last reading for `/readyz`: `state` is ok, low (below the threshold) or unknown
    (never read successfully)."""
    reading = vendor_balance_latest()
    total = reading.total if reading is not None else None
    return {
        "state": "unknown" if total is None else "low" if total < threshold() else "ok",
        "credits": reading.credits if reading is not None else None,
        "extra_credits": reading.extra_credits if total is not None else None,
        "threshold": threshold(),
        "checked_at": reading.checked_at.isoformat() if reading is not None else None,
        "error": reading.error if reading is not None else "",
    }
