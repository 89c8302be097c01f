"""The generation state machine: the only code that changes `Generation.status`.

Every move is one conditional UPDATE (`... WHERE id = %s AND status IN (expected)`), so two racing
workers, a worker and a cancel, or a redelivered message can never both win.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from generations import events
from generations.models import TERMINAL_STATUSES, Generation, Status
from generations.quotas import quota_settle

ALLOWED: dict[Status, frozenset[Status]] = {
    Status.QUEUED: frozenset({Status.SUBMITTING, Status.FAILED, Status.CANCELED}),
    # Back to queued when the submission failed transiently before the vendor accepted it.
    # Straight to succeeded: an upload, which the vendor answers with its clip (no task).
    Status.SUBMITTING: frozenset(
        {Status.QUEUED, Status.RUNNING, Status.SUCCEEDED, Status.FAILED, Status.CANCELED}
    ),
    Status.RUNNING: frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELED}),
}


class IllegalTransition(ValueError):
    """A move the state machine does not allow (a programming error, not a race)."""


def transition(
    *, generation_id: Any, expected: Status | Iterable[Status], to: Status, **fields: Any
) -> bool:
    """Move a generation from one of `expected` to `to`, writing `fields` in the same UPDATE.

    Returns False when the row was not in an expected status (someone else moved it first, or
    it is gone); the caller decides whether that is fine.
    """
    expected = {expected} if isinstance(expected, str) else set(expected)
    for status in expected:
        if to not in ALLOWED.get(status, frozenset()):
            raise IllegalTransition(f"{status} -> {to}")
    now = timezone.now()
    if to == Status.RUNNING:
        fields.setdefault("started_at", now)
    if to in TERMINAL_STATUSES:
        fields.setdefault("finished_at", now)
    with transaction.atomic():
        updated = Generation.objects.filter(pk=generation_id, status__in=expected).update(
            status=to, updated_at=now, **fields
        )
        if updated and to in TERMINAL_STATUSES:
            # The quota settles with the move that ends the generation, in one transaction.
            quota_settle(generation_id=generation_id)
        if updated and to in events.GENERATION_EVENTS:  # submitting shows as queued
            events.publish(generation_id, events.GENERATION_EVENTS[to])
    return updated == 1
