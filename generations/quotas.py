"""Credits: what each operation costs, and the reservation that holds it until it settles.

The public API, for every priced operation (a generation, a WAV, stems, lyrics...):

    reservation = credits_reserve(user=user, operation="wav")  # or raises QuotaExceeded (429)
    credits_charge(reservation=reservation)   # it succeeded: the cost stays spent
    credits_release(reservation=reservation)  # the vendor failed or refunded: given back

Each settles exactly once (a second call returns False). Prices come from one setting,
`CREDIT_COSTS` (`price`, `prices`). A plan gives credits per period and a number of operations in
flight at once; a reservation takes the operation's price from the period and one in-flight slot.

Counters live on the user's `Account` row and change only through conditional UPDATEs
(`... WHERE used <= limit - cost AND in_flight < max`), so concurrent requests from many devices can
never overshoot a limit, on PostgreSQL or SQLite. Every change is also written to the ledger, from
which usage can be recomputed and audited.

A generation holds its price from acceptance. It gives it back when it fails or is canceled
before it reached the vendor, or when the vendor itself failed its task (the vendor refunds
those); once the vendor accepted it, any other end (a cancel, a time-out here, polls out of
retries) still costs the price, because the vendor has spent the credits. While the vendor's
create is in flight nothing settles: its outcome does (see `generations.submissions`).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import IntegrityError, connections, transaction
from django.db.models import Case, F, Q, QuerySet, Sum, Value, When, sql
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


def prices() -> dict[str, int]:
    """Every priced operation and its cost in credits (the CREDIT_COSTS setting)."""
    return dict(settings.CREDIT_COSTS)


def price(operation: str) -> int:
    """The cost of `operation` in credits; ValueError for an operation without a price."""
    try:
        return settings.CREDIT_COSTS[operation]
    except KeyError:
        raise ValueError(f"No price for operation {operation!r} (see CREDIT_COSTS).") from None


class QuotaExceeded(DomainError):
    code = "quota_exceeded"

    def __init__(
        self, message: str, *, limit: str, retry_after_s: int, usage: Usage, operation: str
    ) -> None:
        super().__init__(message)
        self.limit = limit
        self.retry_after_s = max(1, retry_after_s)
        self.usage = usage
        self.operation = operation
        self.cost = price(operation)


@dataclass(frozen=True)
class Usage:
    """A user's credits this period: `used` includes what reservations hold."""

    plan: Plan
    used: int
    in_flight: int
    period_start: datetime
    resets_at: datetime

    @property
    def limit(self) -> int:
        return self.plan.credits_per_period

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


def usage_for(user: Any, *, plan: Plan | None = None) -> Usage:
    """The user's credits this period. `plan`: the user's plan when the caller has it already
    (then only the counters are read)."""
    if plan is None:
        account = account_for(user)
        plan = plan_for(account)
        row = {"used": account.used, "in_flight": account.in_flight}
        row["period_start"] = account.period_start
    else:
        row = Account.objects.filter(user=user).values("used", "in_flight", "period_start").get()
    return _usage(plan, row, timezone.now())


def _usage(plan: Plan, row: dict[str, Any], now: datetime) -> Usage:
    start, end = period_bounds(plan, now)
    return Usage(
        plan=plan,
        used=row["used"] if row["period_start"] >= start else 0,
        in_flight=row["in_flight"],
        period_start=start,
        resets_at=end,
    )


def credits_reserve(
    *,
    user: Any,
    operation: str,
    generation: Generation | None = None,
    plan: Plan | None = None,
) -> LedgerEntry:
    """Hold `operation`'s price and one in-flight slot for `user`; return the reservation.

    Raises QuotaExceeded (nothing held) when the price exceeds the credits left this period or
    the in-flight slots are full. Call it inside the transaction that stores the operation, so
    both commit or neither does. `generation`: only for a generation's own reservation (its
    terminal move settles it). `plan`: the user's plan when the caller has just read it.
    """
    return credits_reserve_with_usage(
        user=user, operation=operation, generation=generation, plan=plan
    )[0]


def credits_reserve_with_usage(
    *,
    user: Any,
    operation: str,
    generation: Generation | None = None,
    plan: Plan | None = None,
) -> tuple[LedgerEntry, Usage]:
    """`credits_reserve`, and the user's usage just after it (for the quota headers), read by
    the reservation's own UPDATE (RETURNING) rather than by another query."""
    cost = price(operation)
    plan = plan or plan_for(account_for(user))
    now = timezone.now()
    start, _ = period_bounds(plan, now)
    limit = plan.credits_per_period
    # One conditional UPDATE, so concurrent requests can never overshoot: within the current
    # period while the price fits, or the first operation of a new period (which resets `used`).
    fits = Q(period_start=start, used__lte=limit - cost)
    if cost <= limit:
        fits |= Q(period_start__lt=start)
    accounts = Account.objects.filter(user=user)
    reserved = _update_returning(
        accounts.filter(fits, in_flight__lt=plan.max_in_flight),
        ("used", "in_flight"),
        period_start=start,
        used=Case(When(period_start__lt=start, then=Value(cost)), default=F("used") + cost),
        in_flight=F("in_flight") + 1,
    )
    if reserved is None:
        row = accounts.values("used", "in_flight", "period_start").get()
        raise _exceeded(_usage(plan, row, now), operation, cost, now)
    used, in_flight = reserved
    reservation = LedgerEntry.objects.create(
        user=user,
        generation=generation,
        kind=LedgerKind.RESERVE,
        operation=operation,
        units=cost,
        period_start=start,
    )
    usage = _usage(plan, {"used": used, "in_flight": in_flight, "period_start": start}, now)
    return reservation, usage


def _update_returning(queryset: QuerySet, fields: tuple[str, ...], **values: Any) -> tuple | None:
    """`queryset.update(**values)` for at most one row, returning its `fields` as updated (UPDATE
    ... RETURNING: PostgreSQL, SQLite 3.35+); None when no row matched. The statement is the one
    `update` compiles, with the RETURNING clause added."""
    query = queryset.query.chain(sql.UpdateQuery)
    query.add_update_values(values)
    try:
        statement, params = query.get_compiler(queryset.db).as_sql()
    except EmptyResultSet:  # a condition no row can meet (a price above the plan's credits)
        return None
    connection = connections[queryset.db]
    columns = ", ".join(
        connection.ops.quote_name(queryset.model._meta.get_field(name).column) for name in fields
    )
    with connection.cursor() as cursor:
        cursor.execute(f"{statement} RETURNING {columns}", params)
        return cursor.fetchone()


def _exceeded(usage: Usage, operation: str, cost: int, now: datetime) -> QuotaExceeded:
    if usage.used + cost > usage.limit:
        return QuotaExceeded(
            f"This {operation} costs {cost} credit{'s' if cost != 1 else ''} and you have "
            f"{usage.remaining} of your {usage.limit} left for this {usage.plan.period}.",
            limit="credits_per_period",
            retry_after_s=usage.resets_in_s(now),
            usage=usage,
            operation=operation,
        )
    return QuotaExceeded(
        f"You already have {usage.in_flight} operations in progress, the most your plan allows.",
        limit="max_in_flight",
        retry_after_s=IN_FLIGHT_RETRY_S,
        usage=usage,
        operation=operation,
    )


def credits_charge(*, reservation: LedgerEntry) -> bool:
    """The operation succeeded (or the vendor spent the credits anyway): keep the cost.

    Frees the in-flight slot. False when the reservation was already settled.
    """
    return credits_settle(reservation=reservation, charge=True)


def credits_release(*, reservation: LedgerEntry) -> bool:
    """The vendor failed or refunded, or nothing reached it: give the credits back.

    Frees the in-flight slot. False when the reservation was already settled.
    """
    return credits_settle(reservation=reservation, charge=False)


def credits_settle(
    *, reservation: LedgerEntry, charge: bool, generation_id: Any | None = ...
) -> bool:
    """Turn `reservation` into a charge or a release, exactly once; False when already settled.

    `generation_id`: the generation the settlement names, by default the reservation's; None
    once the generation is deleted (the ledger keeps the entry).
    """
    if generation_id is ...:
        generation_id = reservation.generation_id
    try:
        with transaction.atomic():
            LedgerEntry.objects.create(
                user_id=reservation.user_id,
                generation_id=generation_id,
                kind=LedgerKind.CHARGE if charge else LedgerKind.RELEASE,
                operation=reservation.operation,
                units=0 if charge else -reservation.units,
                settles=reservation,
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


def quota_settle(*, generation_id: Any) -> None:
    """Settle a generation's reservation after its terminal move: release or charge, once.

    Not while a vendor create may be in flight (a `PendingCreate`): the create's outcome settles
    it then (`generations.submissions`), whatever ended the generation meanwhile.
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
    credits_settle(
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


def usage_recompute(*, user: Any) -> tuple[int, int]:
    """(credits used, operations in flight) recomputed from the ledger, the generations and the
    jobs, for audits."""
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
