"""Live status events: workers append to a Redis Stream per generation; SSE readers block on it.

A stream rather than plain pub/sub so that a client reconnecting with `Last-Event-ID` gets what
it missed. Entries only say *what* changed; readers serialize the current state themselves.
Publishing is best effort: the resource is the truth, events only save clients from polling.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import redis
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

STREAM_MAX_LEN = 200
# Kinds with a meaning of their own for clients (the SSE view names its event after them).
CLIP_STREAMING = "clip.streaming"
STREAM_TTL_S = 24 * 3600


def stream_key(generation_id: Any) -> str:
    return f"mg:events:{generation_id}"


@functools.cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def publish(generation_id: Any, kind: str) -> None:
    """Append an event after the current transaction commits (readers must see the new state)."""

    def send() -> None:
        try:
            key = stream_key(generation_id)
            pipe = _client().pipeline()
            pipe.xadd(key, {"kind": kind}, maxlen=STREAM_MAX_LEN, approximate=True)
            pipe.expire(key, STREAM_TTL_S)
            pipe.execute()
        except redis.RedisError as exc:
            logger.warning("event for generation %s not published: %s", generation_id, exc)

    transaction.on_commit(send)
