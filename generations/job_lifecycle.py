"""Services that take a job through the vendor: submit, poll, finish, give up, reconcile.

The same pattern as a generation (`generations.lifecycle`): the workers' actors call these with
the `Upstream` port; every step is safe to run twice (conditional status moves, a `poll_seq` per
poll chain). A submit claims the job (`submitting`, with a lease) before calling the vendor: a
submit with no answer, or a claim whose lease lapsed (the worker died in the call), fails the job
as unconfirmed, charged and never sent again, because every one of these calls spends credits.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from generations import dispatch, media
from generations.jobs import job_transition
from generations.lifecycle import ReconcileReport
from generations.models import ErrorCode, Job, JobFile, JobKind, MediaState, Status
from generations.upstream import (
    Upstream,
    UpstreamBroken,
    UpstreamError,
    UpstreamJob,
    UpstreamRejected,
    UpstreamTransient,
    UpstreamUnavailable,
    UpstreamUnconfirmed,
)

logger = logging.getLogger(__name__)

UNAVAILABLE_DETAIL = "The music service is temporarily unavailable. Please try again later."
INTERNAL_DETAIL = "Something went wrong at the music service. Please try again."
TIMED_OUT_DETAIL = "The music service did not finish this in time."
UNCONFIRMED_DETAIL = (
    "The music service did not confirm this request, so it may have been made; it counts "
    "against your quota. Please try again."
)
# Where a job's data result is kept in `Job.result`.
RESULT_KEYS = {
    JobKind.LYRICS_TIMELINE: "segments",
    JobKind.LYRICS: "drafts",
    JobKind.PERSONA: "persona_id",  # the vendor's id: internal, sent with persona_music
}


def _seconds(s: float) -> timedelta:
    return timedelta(seconds=s)


def _poll_delay_s() -> float:
    return random.uniform(settings.POLL_INTERVAL_MIN_S, settings.POLL_INTERVAL_MAX_S)


# --- submit --------------------------------------------------------------------------------------


def job_submit(*, job_id: Any, upstream: Upstream) -> None:
    """Start a queued job at the vendor; finish it (synchronous calls) or schedule its poll.

    Raises UpstreamTransient (after putting the job back to `queued`) for the caller to retry.
    """
    claimed = job_transition(
        job_id=job_id,
        expected=Status.QUEUED,
        to=Status.SUBMITTING,
        next_check_at=timezone.now() + _seconds(settings.SUBMIT_LEASE_S),
        submit_attempts=F("submit_attempts") + 1,
    )
    if not claimed:
        logger.info("job %s is not queued; submission skipped", job_id)
        return
    job = Job.objects.filter(pk=job_id).first()
    if job is None:  # its owner was deleted meanwhile; nothing was sent
        return
    try:
        answer = upstream.job_submit(job)
    except UpstreamTransient as exc:
        job_transition(
            job_id=job_id,
            expected=Status.SUBMITTING,
            to=Status.QUEUED,
            next_check_at=timezone.now() + _seconds(settings.RETRY_MAX_BACKOFF_MS / 1000),
        )
        logger.warning("job %s: vendor busy on submit (%s); will retry", job_id, exc)
        raise
    except UpstreamUnconfirmed as exc:
        _unconfirmed(job_id, exc.detail)
        return
    except UpstreamError as exc:
        _fail_for(job, Status.SUBMITTING, exc)
        return
    if answer.finished:
        _finish(job, Status.SUBMITTING, answer)
        return
    delay_s = _poll_delay_s()
    with transaction.atomic():
        moved = job_transition(
            job_id=job_id,
            expected=Status.SUBMITTING,
            to=Status.RUNNING,
            vendor_task_id=answer.task_id,
            poll_seq=1,
            next_check_at=timezone.now() + _seconds(delay_s),
        )
        if moved:
            transaction.on_commit(
                lambda: dispatch.send(
                    dispatch.POLL_JOB, str(job_id), 1, delay_ms=int(delay_s * 1000)
                )
            )
    logger.info("job %s running as vendor task %s", job_id, answer.task_id)


def _unconfirmed(job_id: Any, reason: str) -> None:
    if _fail(job_id, Status.SUBMITTING, ErrorCode.UNCONFIRMED, UNCONFIRMED_DETAIL):
        logger.error(
            "OPERATOR: job %s: the vendor's answer never came (%s); charged as unconfirmed",
            job_id,
            reason,
        )


# --- poll ----------------------------------------------------------------------------------------


def job_poll(*, job_id: Any, seq: int, upstream: Upstream) -> None:
    """Ask the vendor once; finish the job or schedule the next poll (UpstreamTransient is
    for the caller to retry, keeping `seq`)."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None or job.status != Status.RUNNING or job.poll_seq != seq:
        return
    deadline = job.started_at + _seconds(settings.GENERATION_DEADLINE_S)
    if timezone.now() >= deadline:
        _fail(job_id, Status.RUNNING, ErrorCode.TIMED_OUT, TIMED_OUT_DETAIL)
        logger.warning("job %s timed out at the vendor", job_id)
        return
    try:
        answer = upstream.job_status(job)
    except UpstreamTransient:
        raise
    except UpstreamError as exc:
        _fail_for(job, Status.RUNNING, exc)
        return
    if answer.finished:
        _finish(job, Status.RUNNING, answer)
        return
    remaining_s = (deadline - timezone.now()).total_seconds()
    _schedule_poll(job_id, seq=seq, delay_s=max(0.0, min(_poll_delay_s(), remaining_s + 0.5)))


def _schedule_poll(job_id: Any, *, seq: int, delay_s: float) -> bool:
    advanced = Job.objects.filter(pk=job_id, status=Status.RUNNING, poll_seq=seq).update(
        poll_seq=seq + 1, next_check_at=timezone.now() + _seconds(delay_s)
    )
    if advanced:
        delay_ms = int(delay_s * 1000) or None
        dispatch.send(dispatch.POLL_JOB, str(job_id), seq + 1, delay_ms=delay_ms)
    return bool(advanced)


# --- finish and fail -----------------------------------------------------------------------------


def _finish(job: Job, expected: Status, answer: UpstreamJob) -> None:
    if answer.failed:
        # The vendor failed its own task, and refunds it.
        detail = f"The music service could not make this. {answer.failed}".strip()
        _fail(job.pk, expected, ErrorCode.INTERNAL, detail, vendor_refunded=True)
        return
    result = {RESULT_KEYS[job.kind]: answer.data} if job.kind in RESULT_KEYS else {}
    with transaction.atomic():
        moved = job_transition(job_id=job.pk, expected=expected, to=Status.SUCCEEDED, result=result)
        if moved and answer.files:
            files = JobFile.objects.bulk_create(
                JobFile(job_id=job.pk, name=f.name[:64], position=i, vendor_url=f.url[:1000])
                for i, f in enumerate(answer.files)
            )
            ids = [f.pk for f in files]
            transaction.on_commit(lambda: media.job_file_copies_send(ids))
    if moved:
        logger.info("job %s succeeded (%d files)", job.pk, len(answer.files))


def _fail_for(job: Job, expected: Status, exc: UpstreamError) -> None:
    if isinstance(exc, UpstreamRejected):
        _fail(job.pk, expected, ErrorCode.REJECTED, exc.detail or "The request was refused.")
        logger.info("job %s refused by the vendor: %s", job.pk, exc.detail)
    elif isinstance(exc, UpstreamUnavailable):
        _fail(job.pk, expected, ErrorCode.UNAVAILABLE, UNAVAILABLE_DETAIL)
        logger.error("OPERATOR: vendor account problem for job %s: %s", job.pk, exc.detail)
    else:
        _fail(job.pk, expected, ErrorCode.INTERNAL, INTERNAL_DETAIL)
        kind = "broken answer" if isinstance(exc, UpstreamBroken) else type(exc).__name__
        logger.error("OPERATOR: vendor %s for job %s: %s", kind, job.pk, exc.detail)


def _fail(
    job_id: Any,
    expected: Status | tuple,
    code: ErrorCode,
    detail: str,
    *,
    vendor_refunded: bool = False,
) -> bool:
    return job_transition(
        job_id=job_id,
        expected=expected,
        to=Status.FAILED,
        vendor_refunded=vendor_refunded,
        error_code=code,
        error_detail=detail,
    )


def job_give_up(*, job_id: Any) -> None:
    """Retries ran out on transient vendor errors: fail it as unavailable (released before the
    vendor had a task, charged after: the vendor billed it)."""
    if _fail(job_id, (Status.QUEUED, Status.RUNNING), ErrorCode.UNAVAILABLE, UNAVAILABLE_DETAIL):
        logger.error("OPERATOR: job %s failed after retries ran out", job_id)


# --- reconcile -----------------------------------------------------------------------------------


def jobs_reconcile(*, grace_s: float | None = None) -> ReconcileReport:
    """Send again each job step whose message was lost; fail as unconfirmed each submit whose
    lease lapsed (its worker died in the vendor call). Safe to run any time, anywhere."""
    now = timezone.now()
    overdue = now - _seconds(settings.RECONCILE_GRACE_S if grace_s is None else grace_s)
    batch = settings.RECONCILE_BATCH
    report = ReconcileReport()
    for job_id in Job.objects.filter(status=Status.SUBMITTING, next_check_at__lt=now).values_list(
        "pk", flat=True
    )[:batch]:
        _unconfirmed(job_id, "no answer within the submission lease")
        report.unconfirmed += 1
    for job_id in Job.objects.filter(
        Q(next_check_at__lt=overdue) | Q(next_check_at__isnull=True, created_at__lt=overdue),
        status=Status.QUEUED,
    ).values_list("pk", flat=True)[:batch]:
        if Job.objects.filter(pk=job_id, status=Status.QUEUED).update(
            next_check_at=now + (now - overdue)
        ):
            dispatch.send(dispatch.SUBMIT_JOB, str(job_id))
            report.resubmitted += 1
    for job in Job.objects.filter(status=Status.RUNNING, next_check_at__lt=overdue).only(
        "id", "poll_seq"
    )[:batch]:
        if _schedule_poll(job.pk, seq=job.poll_seq, delay_s=0):
            report.repolled += 1
    # Files whose copy message was lost; one copy at a time (media.job_file_copies_send).
    report.recopied = media.job_file_copies_send(
        JobFile.objects.filter(
            media_state=MediaState.PENDING, job__finished_at__lt=overdue
        ).values_list("pk", flat=True)[:batch]
    )
    if report.resubmitted or report.unconfirmed or report.repolled or report.recopied:
        logger.warning("reconcile jobs: %s", report)
    return report
