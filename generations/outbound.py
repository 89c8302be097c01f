"""Outbound webhooks: the user's endpoints receive their events, per the Standard Webhooks spec.

- An event's delivery rows are written in the event's own transaction (`deliveries_create`,
  called by `events.publish`): a change that commits has its deliveries, a crash loses none.
- After commit each delivery is sent to the workers (its own message, on the `webhooks` queue, so
  a slow receiver never holds up another); a lost message is re-sent by the reconciler.
- An attempt POSTs the same body with the same `webhook-id` (the event's `evt_<n>`) every time,
  a fresh `webhook-timestamp`, and `webhook-signature: v1,<base64 HMAC-SHA256 of
  "{id}.{timestamp}.{body}">` keyed with the base64 part of the endpoint's `whsec_` secret.
- A 2xx is delivered; anything else (a timeout, a 5xx, a refusal) is retried on RETRY_DELAYS_S
  until WEBHOOK_RETRY_WINDOW_S after the event, then failed. WEBHOOK_DISABLE_AFTER_FAILURES
  failed attempts in a row disable the endpoint; so can its owner.
- A disabled endpoint is sent nothing: its deliveries (those pending when it was disabled, and
  one per event since) are held. Re-enabling it (its owner) sends again those still within
  WEBHOOK_RETRY_WINDOW_S of their event, with the same webhook-id; older ones fail.
- URLs follow the egress rules of media: https to public addresses only, unless the operator
  lists the endpoint in WEBHOOK_ALLOWED_HOSTS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from egress import EgressPolicy, EgressRefused, EgressUnavailable
from generations import dispatch
from generations.errors import DomainError
from generations.models import (
    DeliveryStatus,
    Event,
    EventType,
    Generation,
    WebhookDelivery,
    WebhookEndpoint,
)

logger = logging.getLogger(__name__)

MAX_URL_CHARS = 2000
SECRET_PREFIX = "whsec_"
# After the first attempt (Standard Webhooks' suggested schedule): 5 s, 5 min, 30 min, 2 h, 5 h,
# 10 h, 10 h; the last ones fall past the 24 h window and are not made.
RETRY_DELAYS_S = (5, 300, 1800, 7200, 18000, 36000, 36000)
MAX_BODY_BYTES_READ = 4096  # of a receiver's answer: only its status matters
# Seconds after a delivery's due time before the reconciler re-sends its message.
RECONCILE_GRACE_S = 120


class WebhookUrlRefused(DomainError):
    code = "webhook_url_refused"


class TooManyEndpoints(DomainError):
    code = "too_many_webhook_endpoints"


class DeliveryFailed(Exception):
    """An attempt that did not get a 2xx (the reason is what the deliveries list shows)."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


# A port: (url, headers, body) -> the receiver's HTTP status; raises DeliveryFailed.
Post = Callable[[str, dict[str, str], bytes], int]


def policy(resolver=None) -> EgressPolicy:
    kwargs = {} if resolver is None else {"resolver": resolver}
    return EgressPolicy(
        settings.WEBHOOK_ALLOWED_HOSTS,
        any_public_https=True,
        list_name="WEBHOOK_ALLOWED_HOSTS",
        **kwargs,
    )


def webhook_url_check(url: str, *, check: Callable[[str], Any] | None = None) -> None:
    """WebhookUrlRefused naming the rule: https, public addresses, at most 2,000 characters."""
    if len(url) > MAX_URL_CHARS:
        raise WebhookUrlRefused(f"The URL is longer than {MAX_URL_CHARS} characters.")
    try:
        (check or policy().check)(url)
    except EgressRefused as exc:
        raise WebhookUrlRefused(f"The URL is refused: {exc.reason}.") from None
    except EgressUnavailable:
        # A host that does not resolve now (DNS down, not yet published) breaks no rule: each
        # delivery checks its addresses again at connect time and records why it failed.
        pass


def secret_new() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def endpoint_create(
    *, owner: Any, url: str, event_types: list[str], check: Callable[[str], Any] | None = None
) -> WebhookEndpoint:
    """A new endpoint (its secret is shown once, in the answer to this call)."""
    webhook_url_check(url, check=check)
    unknown = sorted(set(event_types) - set(EventType.values))
    if unknown:
        raise WebhookUrlRefused(f"Unknown event types: {', '.join(unknown)}.")
    if WebhookEndpoint.objects.filter(owner=owner).count() >= settings.WEBHOOK_MAX_ENDPOINTS:
        raise TooManyEndpoints(f"At most {settings.WEBHOOK_MAX_ENDPOINTS} webhook endpoints.")
    return WebhookEndpoint.objects.create(
        owner=owner, url=url, event_types=sorted(set(event_types)), secret=secret_new()
    )


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret from now on (attempts already made were signed with the old one)."""
    endpoint.secret = secret_new()
    endpoint.save(update_fields=["secret"])
    return endpoint


DISABLED_BY_OWNER = "Disabled by its owner."
HELD_TOO_LONG = "Held while the endpoint was disabled, past the 24 h window: not sent again."


def endpoint_disable(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Its owner turns it off: nothing is sent until it is enabled; deliveries are held.
    Disabling a disabled endpoint keeps the first reason."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if endpoint.disabled_at is None:
            endpoint.disabled_at = timezone.now()
            endpoint.disabled_reason = DISABLED_BY_OWNER
            endpoint.save(update_fields=["disabled_at", "disabled_reason"])
            _hold_pending(endpoint)
    return endpoint


def endpoint_enable(
    *, endpoint: WebhookEndpoint, check: Callable[[str], Any] | None = None
) -> WebhookEndpoint:
    """Turn it on again (its URL must still pass the rules: WebhookUrlRefused) and send again,
    with the same webhook-id, what was held within WEBHOOK_RETRY_WINDOW_S of its event; what
    is older fails. Enabling an enabled endpoint changes nothing."""
    webhook_url_check(endpoint.url, check=check)
    now = timezone.now()
    window_start = now - timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW_S)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if endpoint.disabled_at is None:
            return endpoint
        endpoint.disabled_at, endpoint.disabled_reason, endpoint.failure_streak = None, "", 0
        endpoint.save(update_fields=["disabled_at", "disabled_reason", "failure_streak"])
        held = WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.HELD)
        held.filter(created_at__lte=window_start).update(
            status=DeliveryStatus.FAILED, error=HELD_TOO_LONG
        )
        resent = list(held.filter(created_at__gt=window_start).values_list("pk", flat=True))
        WebhookDelivery.objects.filter(pk__in=resent).update(
            status=DeliveryStatus.PENDING, next_attempt_at=now
        )
        for delivery_id in resent:
            dispatch.send_on_commit_or_leave_to_reconciler(dispatch.DELIVER_WEBHOOK, delivery_id)
    logger.info(
        "webhook endpoint %s enabled; %d held deliveries sent again", endpoint.pk, len(resent)
    )
    return endpoint


def _hold_pending(endpoint: WebhookEndpoint) -> None:
    """In the transaction that disables it: its queued attempts find their delivery held."""
    WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.HELD, error="The endpoint is disabled."
    )


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()  # its deliveries go with it; a queued attempt finds nothing and stops


# --- the outbox ----------------------------------------------------------------------------------


def deliveries_create(events: list[Event]) -> list[int]:
    """In the events' transaction: a delivery row per event and endpoint of the owner that wants
    it; each one to a live endpoint is sent to the workers once the transaction commits, the
    others are held (sent if their endpoint is enabled in time). `events` share one owner, so a
    poll that ends several clips looks the endpoints up once."""
    if not events:
        return []
    endpoints = list(WebhookEndpoint.objects.filter(owner_id=events[0].owner_id))
    rows = [
        WebhookDelivery(
            endpoint=e,
            event=event,
            status=DeliveryStatus.PENDING if e.enabled else DeliveryStatus.HELD,
            error="" if e.enabled else "The endpoint is disabled.",
        )
        for event in events
        for e in endpoints
        if e.wants(event.type)
    ]
    if not rows:
        return []
    WebhookDelivery.objects.bulk_create(rows)
    ids = list(
        WebhookDelivery.objects.filter(event__in=events, status=DeliveryStatus.PENDING).values_list(
            "pk", flat=True
        )
    )
    for delivery_id in ids:
        dispatch.send_on_commit_or_leave_to_reconciler(dispatch.DELIVER_WEBHOOK, delivery_id)
    return ids


def deliveries_reconcile() -> int:
    """Re-send pending deliveries whose message was lost (due for RECONCILE_GRACE_S and more)."""
    overdue = WebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING,
        next_attempt_at__lt=timezone.now() - timedelta(seconds=RECONCILE_GRACE_S),
    ).values_list("pk", flat=True)[:1000]
    sent = 0
    for delivery_id in overdue:
        try:
            dispatch.send(dispatch.DELIVER_WEBHOOK, delivery_id)
            sent += 1
        except dispatch.BROKER_DOWN:
            break
    return sent


# --- an attempt ----------------------------------------------------------------------------------


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` of "{id}.{timestamp}.{body}" (the Standard Webhooks scheme)."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def generation_summary(generation: Generation) -> dict[str, Any]:
    """What a webhook says about a generation: its state, without links (signed links speak
    for a token; the receiver fetches the generation with its own)."""
    return {
        "id": str(generation.pk),
        "status": "queued" if generation.status == "submitting" else generation.status,
        "title": generation.title,
        "error": (
            {"code": generation.error_code, "detail": generation.error_detail}
            if generation.error_code
            else None
        ),
        "clips": [
            {
                "id": str(c.pk),
                "state": c.state,
                "title": c.title,
                "duration": c.duration,
                "media": c.media_state,
            }
            for c in generation.clips.all()
        ],
        "created_at": generation.created_at.isoformat(),
        "finished_at": generation.finished_at.isoformat() if generation.finished_at else None,
    }


def _body(delivery: WebhookDelivery) -> str:
    event = delivery.event
    generation = Generation.objects.prefetch_related("clips").get(pk=event.generation_id)
    return json.dumps(
        {
            "id": event.public_id,
            "type": event.type,
            "timestamp": event.created_at.isoformat(),
            "clip": str(event.clip_id) if event.clip_id else None,
            "data": generation_summary(generation),
        },
        separators=(",", ":"),
    )


def delivery_attempt(*, delivery_id: Any, post: Post, now: float | None = None) -> None:
    """One attempt; on failure the next one is scheduled (or the delivery fails for good)."""
    delivery = (
        WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING)
        .select_related("endpoint", "event")
        .first()
    )
    if delivery is None:
        return
    endpoint = delivery.endpoint
    if endpoint.disabled_at is not None:
        _finish(delivery, DeliveryStatus.HELD, error="The endpoint is disabled.")
        return
    if not delivery.body:
        delivery.body = _body(delivery)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(body=delivery.body)
    sent_at = int(now if now is not None else time.time())
    msg_id = delivery.event.public_id
    body = delivery.body.encode()
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(sent_at),
        "webhook-signature": sign(endpoint.secret, msg_id, sent_at, body),
    }
    try:
        status = post(endpoint.url, headers, body)
    except DeliveryFailed as exc:
        _failed(delivery, exc.reason, exc.status)
        return
    if 200 <= status < 300:
        _finish(delivery, DeliveryStatus.SUCCEEDED, response_status=status)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failure_streak=0)
        logger.info("webhook %s delivered to endpoint %s (%d)", msg_id, endpoint.pk, status)
    else:
        _failed(delivery, f"HTTP {status}", status)


def _finish(
    delivery: WebhookDelivery, status: str, *, error: str = "", response_status: int | None = None
) -> None:
    attempted = status == DeliveryStatus.SUCCEEDED  # else it ends without an attempt
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=status,
        attempts=delivery.attempts + int(attempted),
        last_attempt_at=timezone.now() if attempted else delivery.last_attempt_at,
        response_status=response_status if attempted else delivery.response_status,
        error=error[:300],
    )


def _failed(delivery: WebhookDelivery, reason: str, status: int | None) -> None:
    attempts = delivery.attempts + 1
    now = timezone.now()
    window_ends = delivery.created_at + timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW_S)
    delay_s = RETRY_DELAYS_S[min(attempts - 1, len(RETRY_DELAYS_S) - 1)]
    next_at = now + timedelta(seconds=delay_s)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
        endpoint.failure_streak += 1
        disable = endpoint.failure_streak >= settings.WEBHOOK_DISABLE_AFTER_FAILURES
        if disable and endpoint.disabled_at is None:
            endpoint.disabled_at = now
            endpoint.disabled_reason = f"{endpoint.failure_streak} failed attempts in a row"
            logger.warning("webhook endpoint %s disabled: %s", endpoint.pk, reason)
        endpoint.save(update_fields=["failure_streak", "disabled_at", "disabled_reason"])
        if disable:
            _hold_pending(endpoint)
        if next_at > window_ends:
            outcome = DeliveryStatus.FAILED
        elif endpoint.disabled_at is not None:
            outcome = DeliveryStatus.HELD  # sent again if it is enabled in time
        else:
            outcome = DeliveryStatus.PENDING
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=outcome,
            attempts=attempts,
            last_attempt_at=now,
            next_attempt_at=next_at,
            response_status=status,
            error=reason[:300],
        )
        if outcome == DeliveryStatus.PENDING:
            transaction.on_commit(
                lambda: dispatch.send(
                    dispatch.DELIVER_WEBHOOK, delivery.pk, delay_ms=delay_s * 1000
                )
            )
    logger.info("webhook delivery %s failed (attempt %d): %s", delivery.pk, attempts, reason)
