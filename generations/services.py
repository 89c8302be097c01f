"""Services: the functions that change generations. One transaction each."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from config import logs
from generations import dispatch, events, states
from generations.errors import NotCancelable
from generations.idempotency import key_claim
from generations.media import media_delete, media_names
from generations.models import (
    IN_FLIGHT_STATUSES,
    TERMINAL_STATUSES,
    Clip,
    EventType,
    Generation,
    IdempotencyKey,
    Job,
    JobKind,
    Plan,
    Status,
)
from generations.quotas import Usage, credits_reserve_with_usage

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Created:
    generation: Generation
    usage: Usage | None  # None when replayed
    replayed: bool = False


def generation_create(
    *,
    owner: Any,
    request: dict[str, Any],
    idempotency_key: str = "",
    request_hash: str = "",
    plan: Plan | None = None,
) -> Created:
    """Reserve the operation's credits, store a validated request and queue its submission after
    commit.

    Raises QuotaExceeded (nothing stored) or an idempotency error; with an `idempotency_key` seen
    before for the same body, returns the original generation instead (`replayed`). `plan`: the
    owner's plan when the caller has just read it.
    """
    with transaction.atomic():
        claimed = None
        if idempotency_key:
            claimed, original = key_claim(
                user=owner, key=idempotency_key, request_hash=request_hash
            )
            if original is not None:
                return Created(generation=original, usage=None, replayed=True)
        generation = Generation.objects.create(owner=owner, **request)
        # It has no clips yet: whoever shows it need not ask the database (as a prefetch would),
        # nor build the query (an empty queryset still compiles its SELECT when iterated).
        clips = Clip.objects.none()
        clips._result_cache = []
        generation._prefetched_objects_cache = {"clips": clips}
        _, usage = credits_reserve_with_usage(
            user=owner, operation=generation.operation, generation=generation, plan=plan
        )
        if claimed is not None:
            IdempotencyKey.objects.filter(pk=claimed.pk).update(generation=generation)
        events.publish(generation.pk, EventType.GENERATION_QUEUED, owner_id=owner.pk)
        # After commit: a worker must never see a message for a row that does not exist yet,
        # and a rolled-back request must leave no message behind.
        dispatch.send_on_commit_or_leave_to_reconciler(
            dispatch.SUBMIT_GENERATION, str(generation.pk)
        )
    logs.bind(generation_id=generation.pk)
    logger.info("generation %s queued for user %s", generation.pk, owner.pk)
    return Created(generation=generation, usage=usage)


def generation_cancel(*, generation: Generation) -> Generation:
    """Stop waiting for a generation that has not finished yet (its unit settles at once, or
    when its in-flight vendor create answers: see `submissions`)."""
    if not states.transition(
        generation_id=generation.pk, expected=IN_FLIGHT_STATUSES, to=Status.CANCELED
    ):
        generation.refresh_from_db()
        raise NotCancelable(f"The generation is already {generation.status}.")
    generation.refresh_from_db()
    logger.info("generation %s canceled", generation.pk)
    return generation


def generation_delete(*, generation: Generation) -> None:
    """Remove a generation and its clips; one still in flight is canceled first, which settles
    its quota — unless its vendor create is in flight: the create's outcome settles it then
    (`submissions`), the row being gone (a worker finding it gone simply stops).

    Its clips' finished jobs (a WAV, stems) go with them; one still in flight stays, without
    its clip, to finish and settle its own reservation. Personas made from them stay."""
    names = media_names(generation_id=generation.pk)
    with transaction.atomic():
        states.transition(
            generation_id=generation.pk, expected=IN_FLIGHT_STATUSES, to=Status.CANCELED
        )
        # Personas outlive the song they were made from (the vendor keeps them).
        Job.objects.filter(clip__generation_id=generation.pk, status__in=TERMINAL_STATUSES).exclude(
            kind=JobKind.PERSONA
        ).delete()
        generation.delete()
        # Files go only once the rows are gone for good.
        transaction.on_commit(lambda: media_delete(names))
    logger.info("generation %s deleted", generation.pk)
