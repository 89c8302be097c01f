"""Selectors: the functions that read generations, always scoped to their owner."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Min, QuerySet
from django.utils import timezone

from generations.models import IN_FLIGHT_STATUSES, Clip, Generation, Job

# A clip carries what was made from it; each of those carries its files.
CLIP_JOBS = ("jobs", "jobs__files")


def generation_list(*, owner: Any) -> QuerySet[Generation]:
    return Generation.objects.filter(owner=owner).prefetch_related(
        "clips", *(f"clips__{name}" for name in CLIP_JOBS)
    )


def generation_get(*, owner: Any, generation_id: Any) -> Generation:
    """Raise Generation.DoesNotExist for another user's generation, exactly as for a missing one."""
    return generation_list(owner=owner).get(pk=generation_id)


def clip_get(*, owner: Any, clip_id: Any) -> Clip:
    return (
        Clip.objects.select_related("generation")
        .prefetch_related(*CLIP_JOBS)
        .get(pk=clip_id, generation__owner=owner)
    )


def job_list(*, owner: Any) -> QuerySet[Job]:
    return Job.objects.filter(owner=owner).prefetch_related("files")


def job_get(*, owner: Any, job_id: Any) -> Job:
    """Raise Job.DoesNotExist for another user's job, exactly as for a missing one."""
    return job_list(owner=owner).get(pk=job_id)


def generation_counts(*, field: str, **filters: Any) -> dict[str, int]:
    """How many generations per value of `field` (e.g. status, error_code), for metrics."""
    rows = Generation.objects.filter(**filters).values(field).annotate(n=Count("pk"))
    return {row[field]: row["n"] for row in rows}


def clip_media_counts() -> dict[str, int]:
    rows = Clip.objects.values("media_state").annotate(n=Count("pk"))
    return {row["media_state"]: row["n"] for row in rows}


def generations_overdue(*, grace_s: float) -> tuple[int, float]:
    """(how many in-flight generations are past their next step by `grace_s`, the worst lag)."""
    now = timezone.now()
    overdue = Generation.objects.filter(
        status__in=IN_FLIGHT_STATUSES, next_check_at__lt=now - timedelta(seconds=grace_s)
    )
    oldest = overdue.aggregate(oldest=Min("next_check_at"))["oldest"]
    return overdue.count(), (now - oldest).total_seconds() if oldest else 0.0
