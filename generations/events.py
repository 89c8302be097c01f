"""The event log: each change a client may hear about is a row, and a wake-up for live streams.

`publish` writes an `Event` row in the caller's transaction (the outbox: committed with the state
change, or not at all), and once that commits:
- appends a wake-up to the Redis stream `mg:events`; each web process keeps one blocking reader
  on it (api/eventhub.py), so open streams cost no Redis connection of their own;
Entries only say *what* changed; readers serialize the current state themselves. Resume
(`Last-Event-ID`) reads the table, so it survives a Redis restart.
"""

from __future__ import annotations

import functools
import logging
from datetime import timedelta
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from generations import outbound
from generations.models import Event, EventType, Generation, Status

logger = logging.getLogger(__name__)

FEED_KEY = "mg:events"
FEED_MAX_LEN = 10_000
RETENTION_S = 7 * 24 * 3600  # the log's memory: resume ids and delivery history
EVENT_ID_PREFIX = "evt_"

GENERATION_EVENTS = {
    Status.QUEUED: EventType.GENERATION_QUEUED,
    Status.RUNNING: EventType.GENERATION_RUNNING,
    Status.SUCCEEDED: EventType.GENERATION_SUCCEEDED,
    Status.FAILED: EventType.GENERATION_FAILED,
    Status.CANCELED: EventType.GENERATION_CANCELED,
}


def public_id(event_id: int) -> str:
    return f"{EVENT_ID_PREFIX}{event_id}"


def parse_id(value: str | None) -> int | None:
    """The row id of `evt_<n>`; None for anything else (malformed ids are not errors)."""
    if not value or not value.startswith(EVENT_ID_PREFIX):
        return None
    digits = value[len(EVENT_ID_PREFIX) :]
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 18:
        return None
    return int(digits)


@functools.cache
def _own_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def _client() -> redis.Redis:
    """The cache's client when the cache is on REDIS_URL: wake-ups borrow a connection of the
    process's one cache pool instead of keeping one of their own (a web process's Redis
    connections are counted, see docs/benchmarks.md)."""
    config = settings.CACHES["default"]
    if config["BACKEND"].endswith(".RedisCache") and config["LOCATION"] == settings.REDIS_URL:
        return cache._cache.get_client(write=True)
    return _own_client(settings.REDIS_URL)


def wake(event_id: int, generation_id: Any, owner_id: Any, type_: str) -> None:
    """Tell every web process's hub; best effort (a stream resumes from the table)."""
    try:
        _client().xadd(
            FEED_KEY,
            {"e": event_id, "g": str(generation_id), "u": str(owner_id), "t": type_},
            maxlen=FEED_MAX_LEN,
            approximate=True,
        )
    except redis.RedisError as exc:
        logger.warning("event %s not announced live: %s", public_id(event_id), exc)


def publish(
    generation_id: Any, type_: str, *, owner_id: Any = None, clip_id: Any = None
) -> Event | None:
    """Record an event in the current transaction; announce it once the transaction commits.
    `clip_id`: the clip a clip.* event is about. None if the generation is gone."""
    if owner_id is None:
        owner = Generation.objects.filter(pk=generation_id).values_list("owner_id", flat=True)
        owner_id = owner.first()
        if owner_id is None:
            return None
    return publish_many(generation_id, owner_id, [(type_, clip_id)])[0]


def publish_many(generation_id: Any, owner_id: Any, items: list[tuple[str, Any]]) -> list[Event]:
    """Several events of one generation, in order: one INSERT and one webhook-endpoint lookup
    (a poll that ends both clips writes two clip events)."""
    created = Event.objects.bulk_create(
        [
            Event(generation_id=generation_id, owner_id=owner_id, type=type_, clip_id=clip_id)
            for type_, clip_id in items
        ]
    )
    outbound.deliveries_create(created)  # the webhook outbox, in the same transaction
    for event in created:
        transaction.on_commit(
            functools.partial(wake, event.pk, generation_id, owner_id, event.type)
        )
    return created


def events_purge(*, older_than_s: float = RETENTION_S) -> int:
    """Forget events older than `older_than_s` (their webhook deliveries go with them: by then
    every one has succeeded or run out of its 24 h). A resume from before that starts from the
    current state, as from any unknown id."""
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    deleted, _ = Event.objects.filter(created_at__lt=cutoff).delete()
    return deleted
