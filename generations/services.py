"""Services: the functions that change generations. One transaction each."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from generations import dispatch, states
from generations.errors import NotCancelable
from generations.models import Generation, Status

logger = logging.getLogger(__name__)

CANCELABLE = (Status.QUEUED, Status.SUBMITTING, Status.RUNNING)


def generation_create(*, owner: Any, request: dict[str, Any]) -> Generation:
    """Store a validated generation request and queue its submission once the row is committed."""
    with transaction.atomic():
        generation = Generation.objects.create(owner=owner, **request)
        # After commit: a worker must never see a message for a row that does not exist yet,
        # and a rolled-back request must leave no message behind.
        transaction.on_commit(lambda: dispatch.send(dispatch.SUBMIT_GENERATION, str(generation.pk)))
    logger.info("generation %s queued for user %s", generation.pk, owner.pk)
    return generation


def generation_cancel(*, generation: Generation) -> Generation:
    """Stop waiting for a generation that has not finished yet."""
    if not states.transition(generation_id=generation.pk, expected=CANCELABLE, to=Status.CANCELED):
        generation.refresh_from_db()
        raise NotCancelable(f"The generation is already {generation.status}.")
    generation.refresh_from_db()
    logger.info("generation %s canceled", generation.pk)
    return generation


def generation_delete(*, generation: Generation) -> None:
    """Remove a generation and its clips (a worker finding it gone simply stops)."""
    with transaction.atomic():
        generation.delete()
    logger.info("generation %s deleted", generation.pk)
