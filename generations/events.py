"""Live status events: workers append them to Redis Streams; web processes fan them out.

Each change is appended, in one Lua call and with the same id, to two streams:
- `mg:events`: every event; each web process keeps one blocking reader on it (api/eventhub.py),
  so open streams cost no Redis connection of their own;
- `mg:events:{generation}`: that generation's short history, for `Last-Event-ID`.
Entries only say *what* changed; readers serialize the current state themselves.
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

FEED_KEY = "mg:events"
FEED_MAX_LEN = 10_000
STREAM_MAX_LEN = 200
# Kinds with a meaning of their own for clients (the SSE view names its event after them).
CLIP_STREAMING = "clip.streaming"
STREAM_TTL_S = 24 * 3600

# The generation's stream takes the feed entry's id, so one id means one event everywhere.
_APPEND = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'g', ARGV[3], 'kind', ARGV[4])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], id, 'kind', ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return id
"""


def stream_key(generation_id: Any) -> str:
    return f"mg:events:{generation_id}"


@functools.cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@functools.cache
def _append():
    return _client().register_script(_APPEND)


def publish(generation_id: Any, kind: str) -> None:
    """Append an event after the current transaction commits (readers must see the new state)."""

    def send() -> None:
        try:
            _append()(
                keys=[FEED_KEY, stream_key(generation_id)],
                args=[FEED_MAX_LEN, STREAM_MAX_LEN, str(generation_id), kind, STREAM_TTL_S],
            )
        except redis.RedisError as exc:
            logger.warning("event for generation %s not published: %s", generation_id, exc)

    transaction.on_commit(send)
