"""Messages from the domain to the workers, sent by actor name.

The domain must not import `workers` (arrows point one way), so it names the actors here and
`workers.actors` registers its actors under these same names.
"""

from __future__ import annotations

import logging

import dramatiq
import redis
from django.db import transaction

logger = logging.getLogger(__name__)

# What an enqueue raises while the broker restarts: RabbitmqBroker wraps its connection errors,
# RedisBroker lets redis-py's through.
BROKER_DOWN = (dramatiq.errors.BrokerConnectionError, redis.RedisError)

QUEUE = "generations"
# Media copies have a queue (and worker pool) of their own: a burst of thousands of downloads
# must never sit in front of the polls that detect finished songs.
MEDIA_QUEUE = "media"
QUEUES = (QUEUE, MEDIA_QUEUE)
SUBMIT_GENERATION = "submit_generation"
POLL_GENERATION = "poll_generation"
GIVE_UP_GENERATION = "give_up_generation"
COPY_CLIP_MEDIA = "copy_clip_media"
GIVE_UP_CLIP_MEDIA = "give_up_clip_media"
_QUEUE_OF = {COPY_CLIP_MEDIA: MEDIA_QUEUE, GIVE_UP_CLIP_MEDIA: MEDIA_QUEUE}


def queue_of(actor_name: str) -> str:
    return _QUEUE_OF.get(actor_name, QUEUE)


def send(actor_name: str, *args: str | int, delay_ms: int | None = None) -> dramatiq.Message:
    """Enqueue a message for `actor_name` on its queue; `delay_ms` in milliseconds."""
    message = dramatiq.Message(
        queue_name=queue_of(actor_name), actor_name=actor_name, args=args, kwargs={}, options={}
    )
    return dramatiq.get_broker().enqueue(message, delay=delay_ms)


def send_on_commit_or_leave_to_reconciler(actor_name: str, *args: str | int) -> None:
    """Enqueue once the transaction commits. If the broker is unreachable then, log it and leave
    the step to the reconciler, which re-sends every overdue step: the row is committed, so the
    caller's answer must not be an error."""

    def send_now() -> None:
        try:
            send(actor_name, *args)
        except BROKER_DOWN as exc:
            logger.warning(
                "%s%r not sent, the broker is unreachable (%s); the reconciler will send it",
                actor_name,
                args,
                exc,
            )

    transaction.on_commit(send_now)
