"""Selectors: the functions that read generations, always scoped to their owner."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from generations.models import Clip, Generation


def generation_list(*, owner: Any) -> QuerySet[Generation]:
    return Generation.objects.filter(owner=owner).prefetch_related("clips")


def generation_get(*, owner: Any, generation_id: Any) -> Generation:
    """Raise Generation.DoesNotExist for another user's generation, exactly as for a missing one."""
    return generation_list(owner=owner).get(pk=generation_id)


def clip_get(*, owner: Any, clip_id: Any) -> Clip:
    return Clip.objects.select_related("generation").get(pk=clip_id, generation__owner=owner)
