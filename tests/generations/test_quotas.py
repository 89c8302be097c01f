from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.admin.sites import site
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from django.utils import timezone

from generations import lifecycle, quotas, services, states
from generations.models import Account, LedgerEntry, Plan, Status

pytestmark = pytest.mark.django_db

REQUEST = {"description": "x", "model": "sonic-v5"}


@pytest.fixture
def plan():
    return Plan.objects.create(
        name="tiny", credits_per_period=45, max_in_flight=2, creates_per_minute=100
    )


@pytest.fixture
def on_tiny(alice, plan):
    quotas.plan_assign(user=alice, plan_name="tiny")
    return alice


def create(user):
    return services.generation_create(owner=user, request=REQUEST).generation


def finish(generation, to, **fields):
    start = Status.RUNNING if to != Status.CANCELED else generation.status
    if start == Status.RUNNING and generation.status == Status.QUEUED:
        generation.__class__.objects.filter(pk=generation.pk).update(status=Status.RUNNING)
    assert states.transition(generation_id=generation.pk, expected=start, to=to, **fields)


def account(user):
    return Account.objects.get(user=user)


def test_a_reservation_counts_used_and_in_flight_and_is_in_the_ledger(on_tiny, broker):
    generation = create(on_tiny)
    assert (account(on_tiny).used, account(on_tiny).in_flight) == (15, 1)
    entry = LedgerEntry.objects.get(generation=generation)
    assert (entry.kind, entry.units) == ("reserve", 15)


def test_the_in_flight_limit_holds(on_tiny, broker):
    create(on_tiny)
    create(on_tiny)
    with pytest.raises(quotas.QuotaExceeded) as caught:
        create(on_tiny)
    assert caught.value.limit == "max_in_flight"
    assert account(on_tiny).used == 30


def test_the_period_limit_holds_and_says_when_it_resets(on_tiny, broker):
    for _ in range(3):
        finish(create(on_tiny), Status.SUCCEEDED)
    with pytest.raises(quotas.QuotaExceeded) as caught:
        create(on_tiny)
    assert caught.value.limit == "credits_per_period"
    tomorrow = quotas.period_bounds(Plan.objects.get(name="tiny"), timezone.now())[1]
    assert abs(caught.value.retry_after_s - (tomorrow - timezone.now()).total_seconds()) < 3


def test_a_refused_reservation_stores_nothing(on_tiny, broker, sent_messages):
    create(on_tiny)
    create(on_tiny)
    count = on_tiny.generations.count()
    with pytest.raises(quotas.QuotaExceeded):
        create(on_tiny)
    assert on_tiny.generations.count() == count
    assert LedgerEntry.objects.filter(user=on_tiny).count() == 2


@pytest.mark.parametrize(
    ("to", "fields", "used_after"),
    [
        (Status.SUCCEEDED, {}, 15),
        (Status.FAILED, {"error_code": "rejected"}, 0),
        (Status.CANCELED, {}, 0),  # canceled before it reached the vendor
        (Status.CANCELED, {"vendor_task_id": "t1"}, 15),  # after: the vendor spent credits
    ],
)
def test_terminal_moves_settle_the_unit(on_tiny, broker, to, fields, used_after):
    generation = create(on_tiny)
    if fields.get("vendor_task_id"):
        generation.__class__.objects.filter(pk=generation.pk).update(
            status=Status.RUNNING, vendor_task_id="t1"
        )
        generation.refresh_from_db()
        fields = {}
    finish(generation, to, **fields)
    assert account(on_tiny).used == used_after
    assert account(on_tiny).in_flight == 0


def test_a_unit_is_settled_once(on_tiny, broker):
    generation = create(on_tiny)
    finish(generation, Status.FAILED)
    quotas.quota_settle(generation_id=generation.pk)
    assert (account(on_tiny).used, account(on_tiny).in_flight) == (0, 0)
    assert LedgerEntry.objects.filter(generation=generation).count() == 2


def test_a_new_period_starts_from_zero(on_tiny, broker):
    for _ in range(2):
        finish(create(on_tiny), Status.SUCCEEDED)
    Account.objects.filter(user=on_tiny).update(
        period_start=timezone.now() - timedelta(days=2), used=45
    )
    create(on_tiny)
    assert account(on_tiny).used == 15


def test_a_new_period_with_the_in_flight_limit_full_names_that_limit(on_tiny, broker):
    Account.objects.filter(user=on_tiny).update(
        period_start=timezone.now() - timedelta(days=2), used=45, in_flight=2
    )
    with pytest.raises(quotas.QuotaExceeded) as caught:
        create(on_tiny)
    assert caught.value.limit == "max_in_flight"
    assert caught.value.usage.used == 0  # the old period's count is not this period's


def test_a_plan_of_zero_credits_grants_none_in_a_new_period(on_tiny, plan, broker):
    Plan.objects.filter(pk=plan.pk).update(credits_per_period=0)
    Account.objects.filter(user=on_tiny).update(period_start=timezone.now() - timedelta(days=2))
    with pytest.raises(quotas.QuotaExceeded) as caught:
        create(on_tiny)
    assert caught.value.limit == "credits_per_period"


def test_a_plan_smaller_than_a_song_grants_none_in_a_new_period(on_tiny, plan, broker):
    Plan.objects.filter(pk=plan.pk).update(credits_per_period=14)
    Account.objects.filter(user=on_tiny).update(period_start=timezone.now() - timedelta(days=2))
    with pytest.raises(quotas.QuotaExceeded) as caught:
        create(on_tiny)
    assert (caught.value.limit, caught.value.usage.used) == ("credits_per_period", 0)


def test_deleting_an_in_flight_generation_settles_it(on_tiny, broker):
    generation = create(on_tiny)
    services.generation_delete(generation=generation)
    assert (account(on_tiny).used, account(on_tiny).in_flight) == (0, 0)


def test_give_up_and_time_out_release_the_unit(on_tiny, broker):
    generation = create(on_tiny)
    lifecycle.generation_give_up(generation_id=generation.pk)
    assert account(on_tiny).used == 0


def test_recomputed_usage_equals_stored_usage_after_a_mixed_run(alice, broker):
    outcomes = [
        (Status.SUCCEEDED, {}),
        (Status.FAILED, {"error_code": "internal"}),
        (Status.CANCELED, {}),
        (Status.SUCCEEDED, {}),
        (None, {}),  # still in flight
        (Status.FAILED, {"error_code": "timed_out"}),
        (Status.CANCELED, {"vendor_task_id": "t"}),
    ]
    for to, fields in outcomes:
        generation = create(alice)
        if to is None:
            continue
        if to == Status.CANCELED and fields:
            generation.__class__.objects.filter(pk=generation.pk).update(
                status=Status.RUNNING, vendor_task_id="t"
            )
            generation.refresh_from_db()
            fields = {}
        finish(generation, to, **fields)
    stored = (account(alice).used, account(alice).in_flight)
    assert stored == (4 * 15, 1)
    assert quotas.usage_recompute(user=alice) == stored


def test_a_user_without_a_plan_gets_the_default_plan(alice, settings):
    usage = quotas.usage_for(alice)
    assert usage.plan.name == settings.DEFAULT_PLAN["name"]
    assert usage.limit == settings.DEFAULT_PLAN["credits_per_period"] == 300


def test_month_periods_run_to_the_first_of_the_next_month():
    plan = Plan(name="m", period="month")
    start, end = quotas.period_bounds(plan, datetime(2026, 2, 14, 9, tzinfo=UTC))
    assert (start.day, start.month, end.day, end.month) == (1, 2, 1, 3)


def test_create_api_user_puts_the_user_on_a_plan(db, plan, capsys):
    call_command("create_api_user", "carol", "--plan", "tiny")
    assert quotas.usage_for(Account.objects.get(user__username="carol").user).plan == plan


def test_create_api_user_refuses_an_unknown_plan_and_creates_nothing(db, plan):
    from django.contrib.auth import get_user_model

    with pytest.raises(CommandError, match=r"No plan named 'gold'.*tiny"):
        call_command("create_api_user", "dave", "--plan", "gold")
    assert not get_user_model().objects.filter(username="dave").exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("credits_per_period", -1),
        ("max_in_flight", -5),
        ("allowed_models", '["sonic-v9"]'),
        ("allowed_operations", '["remix"]'),
    ],
)
def test_the_admin_refuses_bad_plans(admin_user, field, value):
    request = RequestFactory().post("/admin/")
    request.user = admin_user
    form_class = site._registry[Plan].get_form(request)
    data = {
        "name": "bad",
        "period": "day",
        "credits_per_period": 1,
        "max_in_flight": 1,
        "creates_per_minute": 1,
        "allowed_models": "[]",
        "allowed_operations": "[]",
        field: value,
    }
    form = form_class(data=data)
    assert not form.is_valid()
    assert field in form.errors
