"""Plans and quotas: atomic reservations at create time, settlement at the terminal move.

Counters live on the user's `Account` row and change only through conditional UPDATEs
(`... WHERE used < limit AND in_flight < max`), so concurrent creates from many devices can never
overshoot a limit, on PostgreSQL or SQLite. Every change is also written to the ledger, from which
usage can be recomputed and audited.

Costs: a generation holds one unit from acceptance. It gives the unit back when it fails or is
canceled before it reached the vendor, or when the vendor itself failed its task (the vendor
refunds those); once the vendor accepted it, any other end (a cancel, a time-out here, polls out
of retries) still costs the unit, because the vendor has spent the credits. While the
vendor's create is in flight nothing settles: its outcome does (see `generations.submissions`).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Sum, Value, When
from django.utils import timezone

from generations.errors import DomainError
from generations.models import (
    IN_FLIGHT_STATUSES,
    Account,
    Clip,
    ClipState,
    Generation,
    Job,
    LedgerEntry,
    LedgerKind,
    PendingCreate,
    Period,
    Plan,
    Status,
)

# How long a client should wait when only the in-flight limit is full: about one generation.
IN_FLIGHT_RETRY_S = 30


class QuotaExceeded(DomainError):
    code = "quota_exceeded"

    def __init__(self, message: str, *, limit: str, retry_after_s: int, usage: Usage) -> None:
        super().__init__(message)
        self.limit = limit
        self.retry_after_s = max(1, retry_after_s)
        self.usage = usage


@dataclass(frozen=True)
class Usage:
    plan: Plan
    used: int
    in_flight: int
    period_start: datetime
    resets_at: datetime

    @property
    def limit(self) -> int:
        return self.plan.generations_per_period

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def window_s(self) -> int:
        return int((self.resets_at - self.period_start).total_seconds())

    def resets_in_s(self, now: datetime | None = None) -> int:
        return max(0, int((self.resets_at - (now or timezone.now())).total_seconds()) + 1)


def default_plan() -> Plan:
    defaults = dict(settings.DEFAULT_PLAN)
    name = defaults.pop("name")
    plan, _ = Plan.objects.get_or_create(name=name, defaults=defaults)
    return plan


def period_bounds(plan: Plan, now: datetime) -> tuple[datetime, datetime]:
    """The current period in UTC: a calendar day or a calendar month."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if plan.period == Period.DAY:
        return day, day + timedelta(days=1)
    start = day.replace(day=1)
    days = calendar.monthrange(start.year, start.month)[1]
    return start, start + timedelta(days=days)


def account_for(user: Any) -> Account:
    account = Account.objects.select_related("plan").filter(user=user).first()
    if account is not None:
        return account
    plan = default_plan()
    try:
        with transaction.atomic():
            return Account.objects.create(
                user=user, plan=None, period_start=period_bounds(plan, timezone.now())[0]
            )
    except IntegrityError:  # created by a concurrent request
        return Account.objects.select_related("plan").get(user=user)


def plan_for(account: Account) -> Plan:
    return account.plan or default_plan()


def usage_for(user: Any) -> Usage:
    account = account_for(user)
    plan = plan_for(account)
    start, end = period_bounds(plan, timezone.now())
    used = account.used if account.period_start >= start else 0
    return Usage(
        plan=plan, used=used, in_flight=account.in_flight, period_start=start, resets_at=end
    )


def quota_reserve(*, user: Any, generation: Generation, plan: Plan | None = None) -> Usage:
    """Take one unit for `generation` (call inside the transaction that creates it).

    `plan`: the user's plan when the caller has just read it (usage_for), saving a second read
    on the create path.
    """
    return _reserve(user=user, generation=generation, units=1, plan=plan)[0]


def quota_reserve_operation(
    *, user: Any, kind: str, plan: Plan | None = None
) -> tuple[Usage, LedgerEntry]:
    """Take the units an operation of `kind` costs (OPERATION_UNITS), for a job rather than a
    generation; returns the reservation, which the caller settles exactly once with
    `quota_settle_reservation(generation_id=None)`. Call inside the creating transaction."""
    return _reserve(user=user, generation=None, units=operation_units(kind), plan=plan)


def operation_units(kind: str) -> int:
    """What an operation costs in plan units (a song is one)."""
    return settings.OPERATION_UNITS[kind]


def _reserve(
    *, user: Any, generation: Generation | None, units: int, plan: Plan | None
) -> tuple[Usage, LedgerEntry]:
    plan = plan or plan_for(account_for(user))
    now = timezone.now()
    start, end = period_bounds(plan, now)
    limit = plan.generations_per_period
    # One conditional UPDATE, so concurrent requests can never overshoot: within the current
    # period while the units are left, or the first units of a new period (which resets `used`).
    fits = Q(period_start=start, used__lte=limit - units)
    if limit >= units:
        fits |= Q(period_start__lt=start)
    accounts = Account.objects.filter(user=user)
    reserved = accounts.filter(fits, in_flight__lt=plan.max_in_flight).update(
        period_start=start,
        used=Case(When(period_start__lt=start, then=Value(units)), default=F("used") + units),
        in_flight=F("in_flight") + 1,
    )
    row = accounts.values("used", "in_flight", "period_start").get()
    usage = Usage(
        plan=plan,
        used=row["used"] if row["period_start"] >= start else 0,
        in_flight=row["in_flight"],
        period_start=start,
        resets_at=end,
    )
    if not reserved:
        raise _exceeded(usage, now, units)
    entry = LedgerEntry.objects.create(
        user=user, generation=generation, kind=LedgerKind.RESERVE, units=units, period_start=start
    )
    return usage, entry


def _exceeded(usage: Usage, now: datetime, units: int = 1) -> QuotaExceeded:
    if units > 1 and usage.in_flight < usage.plan.max_in_flight and usage.remaining < units:
        return QuotaExceeded(
            f"This costs {units} units and {usage.remaining} of your {usage.limit} are left "
            f"for this {usage.plan.period}.",
            limit="generations_per_period",
            retry_after_s=usage.resets_in_s(now),
            usage=usage,
        )
    if usage.used >= usage.limit:
        return QuotaExceeded(
            f"You have used your {usage.limit} generation{'s' if usage.limit != 1 else ''} "
            f"for this {usage.plan.period}.",
            limit="generations_per_period",
            retry_after_s=usage.resets_in_s(now),
            usage=usage,
        )
    return QuotaExceeded(
        f"You already have {usage.in_flight} generations in progress, the most your plan allows.",
        limit="max_in_flight",
        retry_after_s=IN_FLIGHT_RETRY_S,
        usage=usage,
    )


def quota_settle(*, generation_id: Any) -> None:
    """Settle a generation's unit after its terminal move: release or charge, exactly once.

    Not while a vendor create may be in flight (a `PendingCreate`): the create's outcome settles
    the unit then (`generations.submissions`), whatever ended the generation meanwhile.
    """
    if PendingCreate.objects.filter(generation_id=generation_id).exists():
        return
    generation = (
        Generation.objects.filter(pk=generation_id)
        .values("owner_id", "status", "vendor_task_id")
        .first()
    )
    reservation = LedgerEntry.objects.filter(
        generation_id=generation_id, kind=LedgerKind.RESERVE
    ).first()
    if generation is None or reservation is None:
        return
    quota_settle_reservation(
        reservation=reservation,
        generation_id=generation_id,
        charge=not _vendor_spent_nothing(generation_id, generation),
    )


def _vendor_spent_nothing(generation_id: Any, generation: dict) -> bool:
    """The refund rule: did the vendor end up charging nothing for this generation?

    Without a vendor task, a failed or canceled generation cost nothing. With one, the vendor
    bills the task and refunds it only when it reports the task failed (every clip failed): a
    generation timed out here, whose polls ran out of retries, whose task the vendor lost or
    whose poll answer was unusable still cost the credits, and so does a cancel after the task.
    """
    if generation["status"] not in (Status.FAILED, Status.CANCELED):
        return False
    if not generation["vendor_task_id"]:
        return True
    if generation["status"] == Status.CANCELED:
        return False
    clips = Clip.objects.filter(generation_id=generation_id)
    return clips.exists() and not clips.exclude(state=ClipState.FAILED).exists()


def quota_settle_reservation(
    *, reservation: LedgerEntry, generation_id: Any | None, charge: bool
) -> bool:
    """Turn `reservation` into a charge or a release; False when it was already settled.

    `generation_id` is None once the generation is deleted (the ledger keeps the entry).
    """
    try:
        with transaction.atomic():
            LedgerEntry.objects.create(
                user_id=reservation.user_id,
                generation_id=generation_id,
                kind=LedgerKind.CHARGE if charge else LedgerKind.RELEASE,
                units=0 if charge else -reservation.units,
                period_start=reservation.period_start,
            )
    except IntegrityError:
        return False  # already settled
    account = Account.objects.filter(user_id=reservation.user_id)
    account.filter(in_flight__gt=0).update(in_flight=F("in_flight") - 1)
    if not charge:
        account.filter(period_start=reservation.period_start, used__gte=reservation.units).update(
            used=F("used") - reservation.units
        )
    return True


def usage_recompute(*, user: Any) -> tuple[int, int]:
    """(used, in flight) recomputed from the ledger, the generations and the jobs, for audits."""
    account = account_for(user)
    used = (
        LedgerEntry.objects.filter(user=user, period_start=account.period_start).aggregate(
            total=Sum("units")
        )["total"]
        or 0
    )
    in_flight = Generation.objects.filter(owner=user, status__in=IN_FLIGHT_STATUSES).count()
    in_flight += Job.objects.filter(owner=user, reservation__isnull=False, settled=False).count()
    return used, in_flight


def plan_assign(*, user: Any, plan_name: str) -> Plan:
    plan = Plan.objects.filter(name=plan_name).first()
    if plan is None:
        known = ", ".join(Plan.objects.order_by("name").values_list("name", flat=True)) or "none"
        raise Plan.DoesNotExist(f"No plan named {plan_name!r} (known: {known}).")
    account = account_for(user)
    Account.objects.filter(pk=account.pk).update(plan=plan)
    return plan
