"""Vendor webhooks: verify the signature and freshness, drop replays, then poll at once."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache

from generations.errors import DomainError
from generations.lifecycle import generation_poll_now
from generations.models import Generation

logger = logging.getLogger(__name__)


class WebhookRejected(DomainError):
    code = "webhook_rejected"


class WebhookReplayed(DomainError):
    code = "webhook_replayed"


def webhook_receive(
    *,
    generation_id: Any,
    raw_body: bytes,
    event_id: str,
    timestamp: str,
    signature: str,
) -> None:
    """Accept one delivery: HMAC-SHA256(secret, "{timestamp}.{raw body}") must match, the
    timestamp must be within WEBHOOK_TOLERANCE_S, and each X-Webhook-Id is honoured once."""
    secret = (
        Generation.objects.filter(pk=generation_id).values_list("webhook_secret", flat=True).first()
    )
    if not secret:
        raise WebhookRejected("No webhook is expected for this generation.")
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        raise WebhookRejected("X-Webhook-Timestamp must be Unix seconds.") from None
    tolerance = settings.WEBHOOK_TOLERANCE_S
    if abs(time.time() - sent_at) > tolerance:
        raise WebhookRejected("The delivery is too old or from the future.")
    expected = hmac.new(secret.encode(), f"{sent_at}.".encode() + raw_body, hashlib.sha256)
    if not hmac.compare_digest(signature or "", f"sha256={expected.hexdigest()}"):
        raise WebhookRejected("The signature does not match.")
    if not event_id:
        raise WebhookRejected("X-Webhook-Id is missing.")
    # Only signed, fresh deliveries reach here, so remembering ids for twice the tolerance
    # window is enough to refuse every replay.
    if not cache.add(f"webhook:{event_id}", 1, timeout=2 * tolerance):
        raise WebhookReplayed("This delivery was already received.")
    logger.info("webhook %s for generation %s accepted", event_id, generation_id)
    generation_poll_now(generation_id=generation_id)
