"""Services that take a generation through the vendor: submit, poll, finish, give up, reconcile.

The workers' actors call these with an `Upstream` (the vendor port). Each step is safe to run
twice: status moves are conditional UPDATEs (see `states`), and each poll message carries the
generation's `poll_seq`, so a duplicate or superseded poll chain dies out instead of doubling.
"""

from __future__ import annotations

import functools
import logging
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from generations import dispatch, events, media, states, submissions
from generations.models import (
    IN_FLIGHT_STATUSES,
    Clip,
    ClipState,
    ErrorCode,
    EventType,
    Generation,
    MediaState,
    Operation,
    Status,
)
from generations.upstream import (
    Upstream,
    UpstreamBroken,
    UpstreamError,
    UpstreamRejected,
    UpstreamStatus,
    UpstreamTransient,
    UpstreamUnavailable,
    UpstreamUnconfirmed,
)

logger = logging.getLogger(__name__)

UNAVAILABLE_DETAIL = "Music generation is temporarily unavailable. Please try again later."
INTERNAL_DETAIL = "Something went wrong while generating this song. Please try again."
TIMED_OUT_DETAIL = "The music service did not finish this song in time."
UNCONFIRMED_DETAIL = (
    "The music service did not confirm this request, so it may have been made; it counts "
    "against your quota. Please try again."
)
CLIP_FIELDS = (
    "state",
    "title",
    "tags",
    "lyrics",
    "duration",
    "model",
    "error_detail",
    "vendor_audio_url",
    "vendor_image_url",
)


CLIP_EVENTS = {
    ClipState.SUCCEEDED: EventType.CLIP_SUCCEEDED,
    ClipState.FAILED: EventType.CLIP_FAILED,
}


def _seconds(s: float) -> timedelta:
    return timedelta(seconds=s)


# --- submit --------------------------------------------------------------------------------------


def generation_submit(*, generation_id: Any, upstream: Upstream) -> None:
    """Create the vendor task for a queued generation, then schedule its first poll.

    Raises UpstreamTransient (after putting the generation back to `queued`) so that the caller
    retries with backoff. A duplicate delivery finds the generation no longer queued and stops.
    The claim commits a `PendingCreate` before the vendor is called (see `submissions`).
    """
    now = timezone.now()
    generation = Generation.objects.filter(pk=generation_id).only("submit_attempts").first()
    if generation is None:
        return
    with transaction.atomic():
        claimed = states.transition(
            generation_id=generation_id,
            expected=Status.QUEUED,
            to=Status.SUBMITTING,
            next_check_at=now + _seconds(settings.SUBMIT_LEASE_S),
            submit_attempts=generation.submit_attempts + 1,
        )
        if claimed:
            submissions.create_started(generation_id=generation_id)
    if not claimed:
        logger.info("generation %s is not queued; submission skipped", generation_id)
        return
    generation = (
        Generation.objects.select_related("source_clip__generation", "persona__job")
        .filter(pk=generation_id)
        .first()
    )
    if generation is None or generation.status != Status.SUBMITTING:
        # Canceled or deleted since the claim, and nothing was sent: it costs nothing.
        submissions.create_resolved(generation_id=generation_id, charge=False)
        return
    if generation.operation == Operation.UPLOAD:
        webhook_url = webhook_secret = ""  # the vendor's upload answers with its clip
    else:
        webhook_url, webhook_secret = _webhook_for(generation)
    try:
        if generation.operation == Operation.UPLOAD:
            vendor_clip_id = upstream.upload(generation)
        else:
            task_id = upstream.create(
                generation, webhook_url=webhook_url, webhook_secret=webhook_secret
            )
    except UpstreamTransient as exc:
        # Nothing was created: release the claim so the retry (or the reconciler) can take it.
        retry_in = settings.RETRY_MAX_BACKOFF_MS / 1000
        with transaction.atomic():
            states.transition(
                generation_id=generation_id,
                expected=Status.SUBMITTING,
                to=Status.QUEUED,
                next_check_at=timezone.now() + _seconds(retry_in),
            )
            submissions.create_resolved(generation_id=generation_id, charge=False)
        logger.warning("generation %s: create not taken (%s); will retry", generation_id, exc)
        raise
    except UpstreamUnconfirmed as exc:
        _create_unconfirmed(generation_id, exc.detail)
        return
    except UpstreamError as exc:
        with transaction.atomic():
            _ending(
                generation_id,
                ClipState.FAILED,
                functools.partial(_fail_for, generation_id, Status.SUBMITTING, exc),
            )
            submissions.create_resolved(generation_id=generation_id, charge=False)
        return
    if generation.operation == Operation.UPLOAD:
        _upload_succeeded(generation_id, vendor_clip_id)
    else:
        _start_running(generation_id, task_id)


def _upload_succeeded(generation_id: Any, vendor_clip_id: str) -> None:
    """The vendor made a clip of the upload (synchronously): the clip is now usable."""
    with transaction.atomic():
        # Not when canceled meanwhile: then the clip stays unusable.
        _ending(
            generation_id,
            ClipState.SUCCEEDED,
            lambda: states.transition(
                generation_id=generation_id,
                expected=Status.SUBMITTING,
                to=Status.SUCCEEDED,
                next_check_at=None,
            ),
            vendor_clip_id=vendor_clip_id[:128],
        )
        # The vendor's upload cost its credits either way.
        submissions.create_resolved(generation_id=generation_id, charge=True)
    logger.info("upload %s is vendor clip %s", generation_id, vendor_clip_id)


def _ending(
    generation_id: Any, clip_state: ClipState, move: Callable[[], bool], **clip_fields: Any
) -> bool:
    """Run `move`, the generation's terminal move; for an upload, its clip ends first as
    `clip_state` with its clip.* event, so the generation's event stays the last. A refused
    upload's clip is kept (its audio is the user's) but can never be used. Undone if `move`
    lost (someone else ended the generation)."""
    with transaction.atomic():
        clip = (
            Clip.objects.filter(generation_id=generation_id, generation__operation=Operation.UPLOAD)
            .exclude(state__in=list(CLIP_EVENTS))
            .values("pk", "generation__owner_id")
            .first()
        )
        if clip is not None:
            Clip.objects.filter(pk=clip["pk"]).update(state=clip_state, **clip_fields)
            events.publish(
                generation_id,
                CLIP_EVENTS[clip_state],
                owner_id=clip["generation__owner_id"],
                clip_id=clip["pk"],
            )
        moved = move()
        if not moved:
            transaction.set_rollback(True)
    return moved


def _create_unconfirmed(generation_id: Any, reason: str) -> None:
    """No answer to the create: the vendor may have made the task and spent the credits, and
    it cannot be asked which (no idempotency key, no lookup). Charge it; never send it again."""
    with transaction.atomic():
        failed = _ending(
            generation_id,
            ClipState.FAILED,
            lambda: _fail(
                generation_id, Status.SUBMITTING, ErrorCode.UNCONFIRMED, UNCONFIRMED_DETAIL
            ),
        )
        submissions.create_resolved(generation_id=generation_id, charge=True)
    logger.error(
        "OPERATOR: generation %s: the vendor's create went unanswered (%s); charged as "
        "unconfirmed%s",
        generation_id,
        reason,
        ", generation failed" if failed else "",
    )


def _webhook_for(generation: Generation) -> tuple[str, str]:
    if not settings.PUBLIC_BASE_URL:
        return "", ""
    secret = generation.webhook_secret or secrets.token_urlsafe(32)
    if not generation.webhook_secret:
        Generation.objects.filter(pk=generation.pk).update(webhook_secret=secret)
    return f"{settings.PUBLIC_BASE_URL}/api/v1/hooks/musicapi/{generation.pk}", secret


def _start_running(generation_id: Any, task_id: str) -> None:
    first_poll_s = settings.GENERATION_EXPECTED_S
    with transaction.atomic():
        moved = states.transition(
            generation_id=generation_id,
            expected=Status.SUBMITTING,
            to=Status.RUNNING,
            vendor_task_id=task_id,
            poll_seq=1,
            next_check_at=timezone.now() + _seconds(first_poll_s),
        )
        submissions.create_resolved(generation_id=generation_id, charge=True)
        if not moved:
            # Canceled, deleted or given up while the vendor was creating: the task cost its
            # credits, so the unit is charged (above); its id is kept for the operator and its
            # clips are never fetched.
            Generation.objects.filter(pk=generation_id).update(vendor_task_id=task_id)
            logger.info(
                "generation %s left submitting before task %s was stored; charged",
                generation_id,
                task_id,
            )
            return
        transaction.on_commit(
            lambda: dispatch.send(
                dispatch.POLL_GENERATION, str(generation_id), 1, delay_ms=int(first_poll_s * 1000)
            )
        )
    logger.info("generation %s running as vendor task %s", generation_id, task_id)


# --- poll ----------------------------------------------------------------------------------------


def generation_poll(*, generation_id: Any, seq: int, upstream: Upstream) -> None:
    """Ask the vendor once; finish the generation, or schedule the next poll.

    Raises UpstreamTransient for the caller to retry (the retried message keeps its `seq`).
    """
    generation = Generation.objects.filter(pk=generation_id).first()
    if generation is None or generation.status != Status.RUNNING:
        return
    if generation.poll_seq != seq:
        logger.debug(
            "generation %s: poll %s superseded by %s", generation_id, seq, generation.poll_seq
        )
        return
    deadline = generation.started_at + _seconds(settings.GENERATION_DEADLINE_S)
    if timezone.now() >= deadline:
        _fail(generation_id, Status.RUNNING, ErrorCode.TIMED_OUT, TIMED_OUT_DETAIL)
        logger.warning("generation %s timed out at the vendor", generation_id)
        return
    try:
        status = upstream.status(generation.vendor_task_id)
    except UpstreamTransient:
        raise
    except UpstreamError as exc:
        _fail_for(generation_id, Status.RUNNING, exc)
        return
    if status.finished:
        _finish(generation, status)
        return
    with transaction.atomic():  # a clip turning streaming commits with its event
        _store_clips(generation, status, announce_streaming=True)
    # Never sleep past the deadline: the poll after it reports the time-out.
    remaining_s = (deadline - timezone.now()).total_seconds()
    delay_s = random.uniform(settings.POLL_INTERVAL_MIN_S, settings.POLL_INTERVAL_MAX_S)
    _schedule_poll(generation_id, seq=seq, delay_s=max(0.0, min(delay_s, remaining_s + 0.5)))


def _schedule_poll(generation_id: Any, *, seq: int, delay_s: float) -> bool:
    """Advance `poll_seq` from `seq` and send the next poll; only one caller per seq wins."""
    advanced = Generation.objects.filter(
        pk=generation_id, status=Status.RUNNING, poll_seq=seq
    ).update(poll_seq=seq + 1, next_check_at=timezone.now() + _seconds(delay_s))
    if advanced:
        # No delay at all (not a zero delay) skips Dramatiq's delay queue.
        delay_ms = int(delay_s * 1000) or None
        dispatch.send(dispatch.POLL_GENERATION, str(generation_id), seq + 1, delay_ms=delay_ms)
    return bool(advanced)


def generation_poll_now(*, generation_id: Any) -> None:
    """Poll at once (a vendor webhook said something happened); polling stays the truth.

    Starts a new poll chain, which supersedes the scheduled poll: it will be dropped without
    asking the vendor again. With the broker unreachable (a restart) the poll is left due, and
    the reconciler sends it; the delivery itself was received.
    """
    generation = Generation.objects.filter(pk=generation_id, status=Status.RUNNING).first()
    if generation is None:
        return
    try:
        _schedule_poll(generation_id, seq=generation.poll_seq, delay_s=0)
    except dispatch.BROKER_DOWN as exc:
        logger.warning("poll of %s not sent, the broker is unreachable: %s", generation_id, exc)


def _finish(generation: Generation, status: UpstreamStatus) -> None:
    succeeded = any(c.state == ClipState.SUCCEEDED for c in status.clips)
    with transaction.atomic():
        # The clips (and their clip.* events) go in before the move: its event is the last of
        # the generation's, and the settlement reads them (quotas: when every clip failed, the
        # vendor refunds the task).
        _store_clips(generation, status)
        if succeeded:
            moved = states.transition(
                generation_id=generation.pk,
                expected=Status.RUNNING,
                to=Status.SUCCEEDED,
                next_check_at=None,
            )
        else:
            reason = next((c.error for c in status.clips if c.error), "")
            moved = states.transition(
                generation_id=generation.pk,
                expected=Status.RUNNING,
                to=Status.FAILED,
                next_check_at=None,
                error_code=ErrorCode.INTERNAL,
                error_detail=f"The music service could not generate this song. {reason}".strip(),
            )
        if not moved:
            transaction.set_rollback(True)  # someone else ended it: leave its clips alone
        elif succeeded:
            _copy_media_on_commit(generation.pk)
    if moved:
        logger.info("generation %s %s", generation.pk, "succeeded" if succeeded else "failed")


def _copy_media_on_commit(generation_id: Any) -> None:
    clip_ids = list(
        Clip.objects.filter(generation_id=generation_id, state=ClipState.SUCCEEDED).values_list(
            "pk", flat=True
        )
    )
    transaction.on_commit(lambda: media.copies_send(clip_ids))


def _store_clips(
    generation: Generation, status: UpstreamStatus, *, announce_streaming: bool = False
) -> None:
    """Upsert the vendor's clips; in the same transaction, announce each clip that reached
    succeeded or failed (once), and (when asked) that a clip first turned streaming."""
    if not status.clips:
        return
    known = {
        vendor_id: (state, pk)
        for vendor_id, state, pk in Clip.objects.filter(generation_id=generation.pk).values_list(
            "vendor_clip_id", "state", "pk"
        )
    }
    moved = [c for c in status.clips if known.get(c.vendor_clip_id, (None,))[0] != c.state]
    # Players may start now: say so once, when a clip first turns streaming.
    newly_streaming = announce_streaming and any(c.state == ClipState.STREAMING for c in moved)
    ended = [c for c in moved if c.state in CLIP_EVENTS]
    rows = [
        Clip(
            generation_id=generation.pk,
            vendor_clip_id=clip.vendor_clip_id,
            state=clip.state,
            title=clip.title[:200],
            tags=clip.tags[:400],
            lyrics=clip.lyrics,
            duration=clip.duration,
            model=clip.model[:32],
            error_detail=clip.error,
            vendor_audio_url=clip.audio_url[:1000],
            vendor_image_url=clip.image_url[:1000],
        )
        for clip in status.clips
    ]
    # An upsert, so a duplicate poll writing the same clips is harmless.
    Clip.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["generation", "vendor_clip_id"],
        update_fields=list(CLIP_FIELDS),
    )
    if newly_streaming:
        events.publish(generation.pk, EventType.CLIP_STREAMING, owner_id=generation.owner_id)
    if ended:
        # A clip's id: the stored row's, else the one this upsert inserted (set in Python).
        ids = {row.vendor_clip_id: row.pk for row in rows}
        ids.update({vendor_id: pk for vendor_id, (_, pk) in known.items()})
        events.publish_many(
            generation.pk,
            generation.owner_id,
            [(CLIP_EVENTS[clip.state], ids[clip.vendor_clip_id]) for clip in ended],
        )


# --- failing -------------------------------------------------------------------------------------


def _fail_for(generation_id: Any, expected: Status, exc: UpstreamError) -> bool:
    if isinstance(exc, UpstreamRejected):
        detail = exc.detail or "The request was refused."
        logger.info("generation %s rejected by the vendor: %s", generation_id, exc.detail)
        return _fail(generation_id, expected, ErrorCode.REJECTED, detail)
    if isinstance(exc, UpstreamUnavailable):
        logger.error(
            "OPERATOR: vendor account problem for generation %s: %s", generation_id, exc.detail
        )
        return _fail(generation_id, expected, ErrorCode.UNAVAILABLE, UNAVAILABLE_DETAIL)
    kind = "broken answer" if isinstance(exc, UpstreamBroken) else type(exc).__name__
    logger.error("OPERATOR: vendor %s for generation %s: %s", kind, generation_id, exc.detail)
    return _fail(generation_id, expected, ErrorCode.INTERNAL, INTERNAL_DETAIL)


def _fail(generation_id: Any, expected: Status | tuple, code: ErrorCode, detail: str) -> bool:
    return states.transition(
        generation_id=generation_id,
        expected=expected,
        to=Status.FAILED,
        error_code=code,
        error_detail=detail,
        next_check_at=None,
    )


def generation_give_up(*, generation_id: Any) -> None:
    """Retries ran out on transient vendor errors: fail it as unavailable."""
    if _ending(
        generation_id,
        ClipState.FAILED,
        lambda: _fail(generation_id, IN_FLIGHT_STATUSES, ErrorCode.UNAVAILABLE, UNAVAILABLE_DETAIL),
    ):
        logger.error("OPERATOR: generation %s failed after retries ran out", generation_id)


# --- reconcile -----------------------------------------------------------------------------------


@dataclass
class ReconcileReport:
    resubmitted: int = 0
    unconfirmed: int = 0
    repolled: int = 0
    recopied: int = 0

    def __str__(self) -> str:
        return (
            f"resubmitted {self.resubmitted}, unconfirmed creates {self.unconfirmed}, "
            f"re-polled {self.repolled}, media re-sent {self.recopied}"
        )


def generations_reconcile(*, grace_s: float | None = None) -> ReconcileReport:
    """Find generations whose next step is overdue (a lost message, a killed worker, a Redis
    restart) and send that step again. Safe to run at any time, from any number of hosts."""
    grace = _seconds(settings.RECONCILE_GRACE_S if grace_s is None else grace_s)
    now = timezone.now()
    overdue = now - grace
    batch = settings.RECONCILE_BATCH
    report = ReconcileReport()

    # A create unanswered past its lease (the worker died in it): charged, never sent again.
    for generation_id in submissions.creates_unanswered(
        older_than_s=settings.SUBMIT_LEASE_S, limit=batch
    ):
        _create_unconfirmed(generation_id, "no answer within the submission lease")
        report.unconfirmed += 1

    # Queued with no live message: send the submission again (a duplicate is harmless).
    for generation in (
        Generation.objects.filter(status=Status.QUEUED)
        .filter(
            Q(next_check_at__lt=overdue)
            | Q(next_check_at__isnull=True, created_at__lt=overdue)
            | Q(next_check_at__isnull=True, status=Status.QUEUED, submit_attempts__gt=0)
        )
        .only("id")[:batch]
    ):
        updated = Generation.objects.filter(pk=generation.pk, status=Status.QUEUED).update(
            next_check_at=now + grace
        )
        if updated:
            dispatch.send(dispatch.SUBMIT_GENERATION, str(generation.pk))
            report.resubmitted += 1

    # Running with an overdue poll: start a fresh chain; the old one, if alive, is superseded.
    for generation in Generation.objects.filter(
        status=Status.RUNNING, next_check_at__lt=overdue
    ).only("id", "poll_seq")[:batch]:
        if _schedule_poll(generation.pk, seq=generation.poll_seq, delay_s=0):
            report.repolled += 1

    # Succeeded clips whose copy never happened (a lost copy message); not those whose copy is
    # queued, running or waiting to retry (media.copies_send).
    report.recopied = media.copies_send(
        Clip.objects.filter(
            state=ClipState.SUCCEEDED,
            media_state=MediaState.PENDING,
            generation__status=Status.SUCCEEDED,
            generation__finished_at__lt=overdue,
        ).values_list("pk", flat=True)[:batch]
    )

    if report.resubmitted or report.unconfirmed or report.repolled:
        logger.warning("reconcile: %s", report)
    return report
