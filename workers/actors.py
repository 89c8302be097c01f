"""Dramatiq actors: each takes an id and calls one service in `generations.lifecycle`.

Nothing here waits for the vendor: a poll that finds the task still working schedules the next
poll as a delayed message and returns, so a worker thread is busy only for one HTTP call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dramatiq
from django.conf import settings
from periodiq import cron

from generations import (
    dispatch,
    events,
    idempotency,
    job_lifecycle,
    lifecycle,
    media,
    outbound,
    vendor_balance,
)
from generations.upstream import UpstreamTransient
from workers.fetch import get_fetcher
from workers.upstream import get_upstream
from workers.webhooks import get_webhook_poster

RETRY_OPTIONS = {
    "max_retries": settings.RETRY_MAX_RETRIES,
    "min_backoff": settings.RETRY_MIN_BACKOFF_MS,
    "max_backoff": settings.RETRY_MAX_BACKOFF_MS,
    "on_retry_exhausted": dispatch.GIVE_UP_GENERATION,
    # One vendor call (30 s read timeout at most) plus the database work around it.
    "time_limit": 120_000,
}
# Lower runs first when a worker holds messages of several kinds: a due poll is the next thing
# a free thread does, ahead of submissions and copies already fetched (see generations.dispatch).
POLL_PRIORITY = 0
SUBMIT_PRIORITY = 10
MEDIA_PRIORITY = 20


@contextmanager
def _honour_retry_after() -> Iterator[None]:
    """A transient error with Retry-After retries after exactly that; others back off."""
    try:
        yield
    except UpstreamTransient as exc:
        if exc.retry_after_s is not None:
            raise dramatiq.Retry(str(exc), delay=int(exc.retry_after_s * 1000)) from exc
        raise


@dramatiq.actor(
    actor_name=dispatch.SUBMIT_GENERATION,
    queue_name=dispatch.QUEUES[dispatch.SUBMIT_GENERATION],
    priority=SUBMIT_PRIORITY,
    **RETRY_OPTIONS,
)
def submit_generation(generation_id: str) -> None:
    """Create the vendor task for a queued generation (exactly once) and schedule its poll."""
    with _honour_retry_after():
        lifecycle.generation_submit(generation_id=generation_id, upstream=get_upstream())


@dramatiq.actor(
    actor_name=dispatch.POLL_GENERATION,
    queue_name=dispatch.QUEUES[dispatch.POLL_GENERATION],
    priority=POLL_PRIORITY,
    **RETRY_OPTIONS,
)
def poll_generation(generation_id: str, seq: int) -> None:
    """Ask the vendor once; finish the generation or re-enqueue this poll with a delay."""
    with _honour_retry_after():
        lifecycle.generation_poll(generation_id=generation_id, seq=seq, upstream=get_upstream())


@dramatiq.actor(
    actor_name=dispatch.COPY_CLIP_MEDIA,
    queue_name=dispatch.queue_of(dispatch.COPY_CLIP_MEDIA),
    priority=MEDIA_PRIORITY,
    max_retries=settings.MEDIA_RETRY_MAX_RETRIES,
    min_backoff=settings.RETRY_MIN_BACKOFF_MS,
    max_backoff=settings.RETRY_MAX_BACKOFF_MS,
    on_retry_exhausted=dispatch.GIVE_UP_CLIP_MEDIA,
    time_limit=300_000,
)
def copy_clip_media(clip_id: str, claim: str | None = None) -> None:
    """Copy a succeeded clip's audio and cover into our storage (retried when transient).

    `claim`: the token the sender took the clip with (generations.media.copies_send)."""
    media.clip_copy_media(clip_id=clip_id, fetch=get_fetcher(), claim=claim)


@dramatiq.actor(
    actor_name=dispatch.GIVE_UP_CLIP_MEDIA,
    queue_name=dispatch.queue_of(dispatch.GIVE_UP_CLIP_MEDIA),
    priority=MEDIA_PRIORITY,
    max_retries=3,
)
def give_up_clip_media(message: dict, retry_info: dict) -> None:
    """Called by Dramatiq's Retries when a copy ran out of retries; stream-through still plays."""
    media.clip_copy_give_up(clip_id=message["args"][0], attempts=retry_info.get("retries", 0))


@dramatiq.actor(
    actor_name=dispatch.GIVE_UP_GENERATION,
    queue_name=dispatch.QUEUES[dispatch.GIVE_UP_GENERATION],
    priority=POLL_PRIORITY,
    max_retries=3,
)
def give_up_generation(message: dict, retry_info: dict) -> None:
    """Called by Dramatiq's Retries when a submit or poll ran out of retries."""
    lifecycle.generation_give_up(generation_id=message["args"][0])


# --- jobs: WAV, stems, timelines, lyrics (the same paths as generations) ------------------------

JOB_RETRY_OPTIONS = {**RETRY_OPTIONS, "on_retry_exhausted": dispatch.GIVE_UP_JOB}


@dramatiq.actor(
    actor_name=dispatch.SUBMIT_JOB,
    queue_name=dispatch.queue_of(dispatch.SUBMIT_JOB),
    priority=SUBMIT_PRIORITY,
    **JOB_RETRY_OPTIONS,
)
def submit_job(job_id: str) -> None:
    """Start a queued job at the vendor (exactly once); finish it or schedule its poll."""
    with _honour_retry_after():
        job_lifecycle.job_submit(job_id=job_id, upstream=get_upstream())


@dramatiq.actor(
    actor_name=dispatch.POLL_JOB,
    queue_name=dispatch.queue_of(dispatch.POLL_JOB),
    priority=POLL_PRIORITY,
    **JOB_RETRY_OPTIONS,
)
def poll_job(job_id: str, seq: int) -> None:
    """Ask the vendor once about a job; finish it or re-enqueue this poll with a delay."""
    with _honour_retry_after():
        job_lifecycle.job_poll(job_id=job_id, seq=seq, upstream=get_upstream())


@dramatiq.actor(
    actor_name=dispatch.GIVE_UP_JOB,
    queue_name=dispatch.queue_of(dispatch.GIVE_UP_JOB),
    priority=POLL_PRIORITY,
    max_retries=3,
)
def give_up_job(message: dict, retry_info: dict) -> None:
    """Called by Dramatiq's Retries when a job's submit or poll ran out of retries."""
    job_lifecycle.job_give_up(job_id=message["args"][0])


@dramatiq.actor(
    actor_name=dispatch.COPY_JOB_FILE,
    queue_name=dispatch.queue_of(dispatch.COPY_JOB_FILE),
    priority=MEDIA_PRIORITY,
    max_retries=settings.MEDIA_RETRY_MAX_RETRIES,
    min_backoff=settings.RETRY_MIN_BACKOFF_MS,
    max_backoff=settings.RETRY_MAX_BACKOFF_MS,
    on_retry_exhausted=dispatch.GIVE_UP_JOB_FILE,
    time_limit=300_000,
)
def copy_job_file(file_id: str, claim: str | None = None) -> None:
    """Copy a file a job produced (WAV, a stem) into our storage (retried when transient).

    `claim`: the token the sender took the file with (generations.media.job_file_copies_send)."""
    media.job_file_copy(file_id=file_id, fetch=get_fetcher(), claim=claim)


@dramatiq.actor(
    actor_name=dispatch.GIVE_UP_JOB_FILE,
    queue_name=dispatch.queue_of(dispatch.GIVE_UP_JOB_FILE),
    priority=MEDIA_PRIORITY,
    max_retries=3,
)
def give_up_job_file(message: dict, retry_info: dict) -> None:
    """A job file's copy ran out of retries; stream-through still serves it."""
    media.job_file_copy_give_up(file_id=message["args"][0], attempts=retry_info.get("retries", 0))


@dramatiq.actor(queue_name=dispatch.QUEUE, periodic=cron("* * * * *"), max_retries=0)
def reconcile_generations() -> None:
    """Every minute (periodiq): re-send steps whose messages were lost."""
    lifecycle.generations_reconcile()
    job_lifecycle.jobs_reconcile()
    outbound.deliveries_reconcile()


@dramatiq.actor(queue_name=dispatch.QUEUE, periodic=cron("* * * * *"), max_retries=0)
def check_vendor_balance() -> None:
    """Every minute (periodiq): read the vendor's balance for the admin and /readyz."""
    vendor_balance.vendor_balance_check(upstream=get_upstream())


@dramatiq.actor(queue_name=dispatch.QUEUE, periodic=cron("17 * * * *"), max_retries=0)
def purge_idempotency_keys() -> None:
    """Hourly (periodiq): forget Idempotency-Keys older than IDEMPOTENCY_KEY_TTL_S."""
    idempotency.keys_purge()


@dramatiq.actor(
    actor_name=dispatch.DELIVER_WEBHOOK,
    queue_name=dispatch.queue_of(dispatch.DELIVER_WEBHOOK),
    priority=MEDIA_PRIORITY,
    max_retries=0,  # the service schedules its own retries (outbound.RETRY_DELAYS_S, 24 h)
    time_limit=60_000,
)
def deliver_webhook(delivery_id: int) -> None:
    """One attempt to deliver an event to a user's webhook endpoint."""
    outbound.delivery_attempt(delivery_id=delivery_id, post=get_webhook_poster())


@dramatiq.actor(queue_name=dispatch.QUEUE, periodic=cron("37 * * * *"), max_retries=0)
def purge_events() -> None:
    """Hourly (periodiq): forget events (and their webhook deliveries) older than a week."""
    events.events_purge()
