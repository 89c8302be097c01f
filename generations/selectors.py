"""Selectors: the functions that read generations, always scoped to their owner."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Max, Min, Q, QuerySet
from django.utils import timezone

from generations.models import (
    IN_FLIGHT_STATUSES,
    Clip,
    ClipState,
    Event,
    Generation,
    Job,
    MediaState,
    Persona,
)

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


def persona_list(*, owner: Any) -> QuerySet[Persona]:
    return Persona.objects.filter(owner=owner).select_related("job")


def persona_get(*, owner: Any, persona_id: Any) -> Persona:
    """Raise Persona.DoesNotExist for another user's persona, exactly as for a missing one."""
    return persona_list(owner=owner).get(pk=persona_id)


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


def event_latest_id(*, generation_id: Any) -> int | None:
    """The id of the generation's latest event (None before its first)."""
    return Event.objects.filter(generation_id=generation_id).aggregate(m=Max("id"))["m"]


def generations_with_latest_event(*, generation_ids: list[Any]) -> dict[str, tuple[Any, Any]]:
    """Each generation (str id -> (Generation or None once deleted, its latest event id)), in
    three queries for any number, clips and their jobs loaded. The event ids are read first, so
    each generation is at least as new as its latest event id says."""
    latest = dict(
        Event.objects.filter(generation_id__in=generation_ids)
        .values("generation_id")
        .annotate(m=Max("id"))
        .values_list("generation_id", "m")
    )
    found = {
        str(g.pk): g
        for g in Generation.objects.filter(pk__in=generation_ids).prefetch_related(
            "clips", *(f"clips__{name}" for name in CLIP_JOBS)
        )
    }
    latest = {str(pk): m for pk, m in latest.items()}
    return {str(pk): (found.get(str(pk)), latest.get(str(pk))) for pk in generation_ids}


def events_with_generations(*, event_ids: list[int]) -> dict[int, Event]:
    """The events (of any owner: callers check it) with their generations and clips as they are
    now; an event deleted meanwhile is missing."""
    return {
        event.pk: event
        for event in Event.objects.filter(pk__in=event_ids)
        .select_related("generation")
        .prefetch_related("generation__clips", *(f"generation__clips__{n}" for n in CLIP_JOBS))
    }


def events_to_resume(*, owner: Any, after: int | None) -> list[Event]:
    """What a per-user stream starts with: the latest event of each generation in flight and,
    when `after` is an id the caller may have seen, of each generation with an event since.
    Oldest first; `generation` and its clips are loaded."""
    newest = Event.objects.filter(owner=owner).aggregate(m=Max("id"))["m"] or 0
    wanted = Q(generation__status__in=IN_FLIGHT_STATUSES) | Q(  # or still copying its audio
        generation__clips__state=ClipState.SUCCEEDED,
        generation__clips__media_state=MediaState.PENDING,
    )
    if after is not None and after <= newest:  # an id from the future is no id at all
        wanted |= Q(pk__gt=after)
    generations = Event.objects.filter(wanted, owner=owner).values("generation_id")
    latest = (
        Event.objects.filter(generation_id__in=generations)
        .values("generation_id")
        .annotate(m=Max("id"))
        .values("m")
    )
    return list(
        Event.objects.filter(pk__in=latest)
        .select_related("generation")
        .prefetch_related("generation__clips", *(f"generation__clips__{n}" for n in CLIP_JOBS))
        .order_by("pk")
    )
