"""Vendor webhooks: verify the signature and freshness, drop replays, then poll at once."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache

from generations.errors import DomainError
from generations.lifecycle import generation_poll_now
from generations.models import Generation

logger = logging.getLogger(__name__)

UNIX_SECONDS = re.compile(r"\d{1,12}")  # int() of 400 digits overflows the float comparison


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
    timestamp must be within WEBHOOK_TOLERANCE_S, and each signed delivery is honoured once."""
    secret = (
        Generation.objects.filter(pk=generation_id).values_list("webhook_secret", flat=True).first()
    )
    if not secret:
        raise WebhookRejected("No webhook is expected for this generation.")
    if not UNIX_SECONDS.fullmatch(timestamp or ""):
        raise WebhookRejected("X-Webhook-Timestamp must be Unix seconds.")
    sent_at = int(timestamp)
    tolerance = settings.WEBHOOK_TOLERANCE_S
    if abs(time.time() - sent_at) > tolerance:
        raise WebhookRejected("The delivery is too old or from the future.")
    expected = hmac.new(secret.encode(), f"{sent_at}.".encode() + raw_body, hashlib.sha256)
    sent = (signature or "").encode("utf-8", "replace")  # compare_digest takes str only if ASCII
    if not hmac.compare_digest(sent, f"sha256={expected.hexdigest()}".encode()):
        raise WebhookRejected("The signature does not match.")
    if not event_id:
        raise WebhookRejected("X-Webhook-Id is missing.")
    # Only signed, fresh deliveries reach here, so remembering them for twice the tolerance
    # window refuses every replay. The id is not signed (anyone may change it), so the signed
    # content is remembered too; the id still catches the vendor re-signing a retried event.
    # While Redis is unreachable (a restart) the check cannot be made: the delivery is honoured,
    # since all it can do is ask for one more status poll, which polling itself would make.
    window = 2 * tolerance
    try:
        fresh_content = cache.add(f"webhook:{generation_id}:{expected.hexdigest()}", 1, window)
        fresh_id = cache.add(f"webhook:{event_id}", 1, timeout=window)
    except redis.RedisError as exc:
        logger.warning("webhook %s not checked for replay, Redis is unreachable: %s", event_id, exc)
        fresh_content = fresh_id = True
    if not (fresh_content and fresh_id):
        raise WebhookReplayed("This delivery was already received.")
    logger.info("webhook %s for generation %s accepted", event_id, generation_id)
    generation_poll_now(generation_id=generation_id)
