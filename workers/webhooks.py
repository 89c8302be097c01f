"""Posting outbound webhooks under the egress rules (public https, or the operator's listings)."""

from __future__ import annotations

import functools

from django.conf import settings

from egress import EgressClient, EgressRefused, EgressUnavailable
from generations.outbound import MAX_BODY_BYTES_READ, DeliveryFailed, Post, policy
from workers.fetch import worker_threads


class WebhookPoster:
    def __init__(self, resolver=None, ssl_context=None) -> None:
        self.client = EgressClient(
            policy(resolver),
            timeout_s=settings.WEBHOOK_TIMEOUT_S,
            max_redirects=0,
            ssl_context=ssl_context,
            user_agent="music-gateway-webhooks",
            pool_maxsize=worker_threads(),
        )

    def __call__(self, url: str, headers: dict[str, str], body: bytes) -> int:
        try:
            status, _, _ = self.client.request(
                "POST", url, headers=headers, body=body, max_bytes=MAX_BODY_BYTES_READ
            )
        except (EgressRefused, EgressUnavailable) as exc:
            raise DeliveryFailed(exc.reason) from None
        return status


@functools.cache
def get_webhook_poster() -> Post:
    return WebhookPoster()
