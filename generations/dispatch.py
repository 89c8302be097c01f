"""Messages from the domain to the workers, sent by actor name.

The domain must not import `workers` (arrows point one way), so it names the actors here and
`workers.actors` registers its actors under these same names and queues.

Each kind of step has a queue of its own, so a backlog of one never delays another: Dramatiq moves
a delayed message that falls due to the tail of its queue, and on a shared queue a due poll waited
behind every submission of a burst of creates (detection latency grew with the burst). A worker
consumes all of them and runs polls first (actor priority, `workers.actors`); a deployment can
also give polls workers of their own (`rundramatiq --queues polls`).
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

QUEUE = "generations"  # submissions, give-ups and the periodic jobs
POLL_QUEUE = "polls"  # one vendor status call each: the latency users see
MEDIA_QUEUE = "media"  # audio copies: long downloads
SUBMIT_GENERATION = "submit_generation"
POLL_GENERATION = "poll_generation"
GIVE_UP_GENERATION = "give_up_generation"
COPY_CLIP_MEDIA = "copy_clip_media"
GIVE_UP_CLIP_MEDIA = "give_up_clip_media"
# Jobs (WAV, stems, timelines, lyrics) take the same paths as generations.
SUBMIT_JOB = "submit_job"
POLL_JOB = "poll_job"
GIVE_UP_JOB = "give_up_job"
COPY_JOB_FILE = "copy_job_file"
GIVE_UP_JOB_FILE = "give_up_job_file"
DELIVER_WEBHOOK = "deliver_webhook"
QUEUES = {
    SUBMIT_GENERATION: QUEUE,
    POLL_GENERATION: POLL_QUEUE,
    GIVE_UP_GENERATION: QUEUE,
    COPY_CLIP_MEDIA: MEDIA_QUEUE,
    GIVE_UP_CLIP_MEDIA: MEDIA_QUEUE,
    SUBMIT_JOB: QUEUE,
    POLL_JOB: POLL_QUEUE,
    GIVE_UP_JOB: QUEUE,
    COPY_JOB_FILE: MEDIA_QUEUE,
    GIVE_UP_JOB_FILE: MEDIA_QUEUE,
    # Outbound webhooks: I/O to the users' receivers, on the media pool (bounded by
    # WEBHOOK_TIMEOUT_S each), never in the way of polls.
    DELIVER_WEBHOOK: MEDIA_QUEUE,
}
ALL_QUEUES = (POLL_QUEUE, QUEUE, MEDIA_QUEUE)
# Pools (config/runstack.py, Procfile): one consumes polls and generations, another media, so
# long downloads never hold up polls.


def queue_of(actor_name: str) -> str:
    return QUEUES[actor_name]


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
