"""IETF RateLimit headers, the per-minute create limit and the read throttle, all on the shared
cache (Redis), so every web process counts together.

Both are courtesies, not money: the quota and the ledger live in the database. While Redis is
unreachable (a restart) they let requests through, uncounted, rather than answer a 500.
"""

from __future__ import annotations

import logging
import time

import redis
from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import UserRateThrottle

from generations.errors import DomainError
from generations.quotas import Usage, price

logger = logging.getLogger(__name__)

MINUTE_S = 60


class CreateRateExceeded(DomainError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int, usage: Usage, operation: str) -> None:
        super().__init__(message)
        self.limit = "creates_per_minute"
        self.retry_after_s = max(1, retry_after_s)
        self.usage = usage
        self.operation = operation
        self.cost = price(operation)


def headers(usage: Usage, *, creates_left: int | None = None) -> dict[str, str]:
    """`RateLimit-Policy` / `RateLimit` (draft-ietf-httpapi-ratelimit-headers): the credits left
    this period, and the creates left this minute."""
    plan = usage.plan
    policy = (
        f'"credits";q={plan.credits_per_period};w={usage.window_s}, '
        f'"creates";q={plan.creates_per_minute};w={MINUTE_S}'
    )
    current = f'"credits";r={usage.remaining};t={usage.resets_in_s()}'
    if creates_left is not None:
        current += f', "creates";r={creates_left};t={MINUTE_S - int(time.time()) % MINUTE_S}'
    return {"RateLimit-Policy": policy, "RateLimit": current}


def count_create(*, user_id: int, usage: Usage, operation: str) -> int | None:
    """Count one create of `operation` in this minute's window (atomic INCR in Redis); return
    how many are left (None: Redis is unreachable, the create goes through uncounted) or raise
    CreateRateExceeded."""
    window = int(time.time()) // MINUTE_S
    try:
        count = _incr(f"creates:{user_id}:{window}", timeout_s=2 * MINUTE_S)
    except redis.RedisError as exc:
        logger.warning("create not counted, Redis is unreachable: %s", exc)
        return None
    limit = usage.plan.creates_per_minute
    if count > limit:
        raise CreateRateExceeded(
            f"At most {limit} generations may be created per minute.",
            retry_after_s=MINUTE_S - int(time.time()) % MINUTE_S,
            usage=usage,
            operation=operation,
        )
    return limit - count


def _incr(key: str, *, timeout_s: int) -> int:
    """Add one to the cache's counter `key` (created with a `timeout_s` expiry): SET NX and INCR
    in one round trip, on the cache's own client (`cache.add` + `cache.incr` took three: SET NX,
    EXISTS, INCR)."""
    key = cache.make_and_validate_key(key)
    pipe = cache._cache.get_client(key, write=True).pipeline(transaction=False)
    pipe.set(key, 0, ex=timeout_s, nx=True)
    pipe.incr(key)
    return pipe.execute()[1]


class ReadRateThrottle(UserRateThrottle):
    """Caps reads (GET, HEAD, OPTIONS) per user; writes have their own quota."""

    scope = "read"

    def get_rate(self) -> str:
        return settings.READ_RATE

    def allow_request(self, request, view) -> bool:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            return True
        try:
            return super().allow_request(request, view)
        except redis.RedisError as exc:
            logger.warning("read not throttled, Redis is unreachable: %s", exc)
            return True
