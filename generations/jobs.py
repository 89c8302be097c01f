"""Jobs: a clip's derived outputs (WAV, stems, lyrics timeline) and lyrics drafts.

`job_create` is the API's service (one transaction: the operation's credits reserved, the row
stored, its submission queued after commit); `job_transition` is the only code that changes a
job's status, and settles its reservation exactly once with the move that ends it. Workers take
a job through the vendor in `generations.job_lifecycle`.

Costs, as for a generation: held from acceptance, charged when the job succeeds, when the vendor
may have acted without answering (unconfirmed), or when it ends any other way once the vendor has
a task for it (timed out here, polls out of retries: the vendor billed the task). Given back when
nothing reached the vendor (a refusal, retries out before the task) or when the vendor itself
reports the task failed (it refunds those).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from generations import dispatch, events
from generations.errors import DomainError
from generations.idempotency import key_claim
from generations.models import (
    ONE_PER_CLIP_KINDS,
    TERMINAL_STATUSES,
    Clip,
    ClipState,
    ErrorCode,
    EventType,
    IdempotencyKey,
    Job,
    JobKind,
    LedgerEntry,
    Plan,
    Status,
)
from generations.quotas import Usage, credits_reserve_with_usage, credits_settle

logger = logging.getLogger(__name__)

# A job may finish straight from `submitting`: the vendor's synchronous calls (timeline,
# lyrics, a WAV handed over at once) answer with the result.
ALLOWED: dict[Status, frozenset[Status]] = {
    Status.QUEUED: frozenset({Status.SUBMITTING, Status.FAILED}),
    Status.SUBMITTING: frozenset({Status.QUEUED, Status.RUNNING, Status.SUCCEEDED, Status.FAILED}),
    Status.RUNNING: frozenset({Status.SUCCEEDED, Status.FAILED}),
}


class ClipNotReady(DomainError):
    """The clip cannot be worked on (yet): not finished, or without what the kind needs."""

    code = "clip_not_ready"


@dataclass(frozen=True)
class JobCreated:
    job: Job
    usage: Usage | None  # None when nothing was reserved (an existing job was returned)
    replayed: bool = False  # the Idempotency-Key's original
    existing: bool = False  # the clip already has this output (or it is on its way)


def job_create(
    *,
    owner: Any,
    kind: JobKind,
    clip: Clip | None = None,
    description: str = "",
    idempotency_key: str = "",
    request_hash: str = "",
    plan: Plan | None = None,
) -> JobCreated:
    """Reserve the operation's credits and queue a job of `kind` on the owner's `clip` (or, for
    lyrics, from `description`).

    A clip that already has this output, done or on its way, returns that job and costs nothing
    (`existing`); a failed one can be asked for again. Raises QuotaExceeded, ClipNotReady or an
    idempotency error, with nothing stored.
    """
    if clip is not None:
        _check_clip(clip, kind)
    try:
        return _create(
            owner=owner,
            kind=kind,
            clip=clip,
            description=description,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            plan=plan,
        )
    except IntegrityError:
        # A concurrent request made this clip's job first (the unique constraint): theirs.
        existing = _live_job(clip, kind)
        if existing is None:
            raise
        return JobCreated(job=existing, usage=None, existing=True)


def _create(*, owner, kind, clip, description, idempotency_key, request_hash, plan) -> JobCreated:
    with transaction.atomic():
        claimed = None
        if idempotency_key:
            claimed, original = key_claim(
                user=owner, key=idempotency_key, request_hash=request_hash
            )
            if original is not None:
                return JobCreated(job=original, usage=None, replayed=True)
        existing = _live_job(clip, kind)
        if existing is not None:
            if claimed is not None:
                IdempotencyKey.objects.filter(pk=claimed.pk).update(job=existing)
            return JobCreated(job=existing, usage=None, existing=True)
        reservation, usage = credits_reserve_with_usage(user=owner, operation=kind, plan=plan)
        job = Job.objects.create(
            owner=owner,
            kind=kind,
            clip=clip,
            vendor_clip_id=clip.vendor_clip_id if clip is not None else "",
            description=description,
            reservation=reservation,
        )
        if claimed is not None:
            IdempotencyKey.objects.filter(pk=claimed.pk).update(job=job)
        dispatch.send_on_commit_or_leave_to_reconciler(dispatch.SUBMIT_JOB, str(job.pk))
    logger.info("%s job %s queued for user %s", kind, job.pk, owner.pk)
    return JobCreated(job=job, usage=usage)


def _check_clip(clip: Clip, kind: JobKind) -> None:
    if clip.state != ClipState.SUCCEEDED:
        raise ClipNotReady("The clip has not finished successfully.")
    if kind == JobKind.LYRICS_TIMELINE and not clip.lyrics.strip():
        raise ClipNotReady("This clip has no lyrics to align.")


def _live_job(clip: Clip | None, kind: JobKind) -> Job | None:
    if clip is None or kind not in ONE_PER_CLIP_KINDS:
        return None
    return Job.objects.filter(clip=clip, kind=kind).exclude(status=Status.FAILED).first()


def job_transition(
    *,
    job_id: Any,
    expected: Status | Iterable[Status],
    to: Status,
    vendor_refunded: bool = False,
    **fields: Any,
) -> bool:
    """Move a job from one of `expected` to `to` in one conditional UPDATE, writing `fields`.

    A terminal move settles the job's reservation in the same transaction (the refund rule in
    this module's docstring; `vendor_refunded`: the vendor reported its task failed). Returns
    False when the job was not in an expected status (someone else moved it first, or it is
    gone).
    """
    expected = {expected} if isinstance(expected, str) else set(expected)
    for status in expected:
        if to not in ALLOWED.get(status, frozenset()):
            raise ValueError(f"illegal job transition {status} -> {to}")
    now = timezone.now()
    if to == Status.RUNNING:
        fields.setdefault("started_at", now)
    if to in TERMINAL_STATUSES:
        fields.setdefault("finished_at", now)
        fields.setdefault("next_check_at", None)
    with transaction.atomic():
        updated = Job.objects.filter(pk=job_id, status__in=expected).update(
            status=to, updated_at=now, **fields
        )
        if updated and to in TERMINAL_STATUSES:
            _settle(job_id, vendor_refunded=vendor_refunded)
        if updated:
            job_announce(job_id)
    return updated == 1


def _settle(job_id: Any, *, vendor_refunded: bool) -> None:
    """Once per job, whoever ends it (the `settled` flag flips in a conditional UPDATE)."""
    job = (
        Job.objects.filter(pk=job_id, settled=False, reservation__isnull=False)
        .values("reservation_id", "status", "vendor_task_id", "error_code")
        .first()
    )
    if job is None or not Job.objects.filter(pk=job_id, settled=False).update(settled=True):
        return
    charge = job["status"] == Status.SUCCEEDED or job["error_code"] == ErrorCode.UNCONFIRMED
    if job["status"] == Status.FAILED and job["vendor_task_id"] and not vendor_refunded:
        charge = True  # the vendor billed its task and did not fail it: timed out, polls ran out
    credits_settle(reservation=LedgerEntry.objects.get(pk=job["reservation_id"]), charge=charge)


def job_announce(job_id: Any) -> None:
    """Tell the live streams of the clip's generation (whose clips carry their jobs): an event
    naming the clip, in the current transaction, announced after commit."""
    found = Job.objects.filter(pk=job_id).values_list("clip__generation_id", "clip_id").first()
    if found is not None and found[0] is not None:
        events.publish(found[0], EventType.CLIP_JOB_UPDATED, clip_id=found[1])
