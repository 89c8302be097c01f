"""The vendor create in flight: the one moment money can move with nothing in our rows to show it.

The worker claims a generation and, in the same transaction, writes a `PendingCreate` — before it
calls the vendor. While that mark exists the generation's credits are neither released nor charged,
whatever a cancel or a delete does meanwhile (they still answer at once). The create's outcome
then settles it, exactly once, in the transaction that removes the mark:

- created → charged (when the generation already ended; otherwise its terminal move charges it),
- refused (an answer saying no, or nothing sent at all) → released,
- no answer (read timeout, dropped connection, a worker that died: the reconciler finds the mark
  past `SUBMIT_LEASE_S`) → charged as unconfirmed, and never sent again.

So every task the vendor creates costs exactly its generation's price, and a generation canceled
before its create started costs nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from generations.models import (
    TERMINAL_STATUSES,
    Generation,
    LedgerEntry,
    LedgerKind,
    PendingCreate,
)
from generations.quotas import credits_settle


def create_started(*, generation_id: Any) -> None:
    """Mark the create as possibly in flight (call in the transaction that claims it)."""
    reservation = LedgerEntry.objects.filter(
        generation_id=generation_id, kind=LedgerKind.RESERVE
    ).first()
    PendingCreate.objects.create(
        generation_id=generation_id, reservation=reservation, started_at=timezone.now()
    )


def create_resolved(*, generation_id: Any, charge: bool) -> bool:
    """The create's outcome is known (`charge`: the vendor may have spent credits on it).

    Removes the mark; if the generation has already ended (canceled, failed, deleted), settles
    its credits now. Call it after the generation's own status move, in the same transaction, so a
    concurrent cancel is either before it (and deferred to here) or after it (and settles
    itself). Returns False when another caller resolved it first.
    """
    with transaction.atomic():
        pending = PendingCreate.objects.filter(generation_id=generation_id).first()
        if pending is None:
            return False
        deleted, _ = PendingCreate.objects.filter(pk=pending.pk).delete()
        if not deleted:
            return False
        # Locked, so a delete cannot remove the row between this read and the ledger entry.
        status = (
            Generation.objects.select_for_update()
            .filter(pk=generation_id)
            .values_list("status", flat=True)
            .first()
        )
        if pending.reservation_id is not None and (status is None or status in TERMINAL_STATUSES):
            credits_settle(
                reservation=LedgerEntry.objects.get(pk=pending.reservation_id),
                generation_id=generation_id if status is not None else None,
                charge=charge,
            )
    return True


def creates_unanswered(*, older_than_s: float, limit: int) -> list[Any]:
    """Generation ids whose create has been in flight longer than `older_than_s` seconds."""
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    return list(
        PendingCreate.objects.filter(started_at__lt=cutoff)
        .order_by("started_at")
        .values_list("generation_id", flat=True)[:limit]
    )
