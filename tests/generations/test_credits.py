"""Credits: each operation's price comes from one setting, a reservation holds that price, and it is
kept on success or given back when the vendor fails or refunds — for generations and for any other
priced operation (WAV, stems, lyrics...)."""

import pytest

from generations import jobs, quotas, services, states
from generations.models import Account, JobKind, LedgerEntry, Plan, Status

pytestmark = pytest.mark.django_db

VENDOR_PRICES = {
    # docs.musicapi.ai credits guide, sonic instructions, output-endpoints and lyric-alignment
    # guides (docs/upstream.md, "Credits").
    "create": 15,
    "extend": 15,
    "cover": 15,
    "persona_music": 15,
    "concat": 2,
    "wav": 2,
    "stems_basic": 15,
    "stems_full": 75,
    "lyrics_timeline": 1,
    "lyrics": 10,
}


@pytest.fixture
def on_100(alice):
    Plan.objects.create(name="hundred", credits_per_period=100, max_in_flight=20)
    quotas.plan_assign(user=alice, plan_name="hundred")
    return alice


def account(user):
    return Account.objects.get(user=user)


def test_the_default_prices_are_the_vendors(settings):
    assert {op: quotas.price(op) for op in VENDOR_PRICES} == VENDOR_PRICES
    assert quotas.prices() == settings.CREDIT_COSTS


def test_one_setting_decides_a_price(settings, on_100, broker):
    settings.CREDIT_COSTS = {**settings.CREDIT_COSTS, "create": 40}
    services.generation_create(owner=on_100, request={"description": "x", "model": "sonic-v5"})
    assert account(on_100).used == 40
    assert LedgerEntry.objects.get(user=on_100).units == 40


def test_an_unpriced_operation_is_a_programming_error():
    with pytest.raises(ValueError, match="remix"):
        quotas.price("remix")


def test_a_reservation_holds_the_operations_cost_and_says_what_it_was_for(on_100):
    reservation = quotas.credits_reserve(user=on_100, operation="stems_full")
    assert (reservation.kind, reservation.units, reservation.operation) == (
        "reserve",
        75,
        "stems_full",
    )
    assert (account(on_100).used, account(on_100).in_flight) == (75, 1)
    assert quotas.usage_for(on_100).remaining == 25


def test_success_keeps_the_cost_and_frees_the_in_flight_slot(on_100):
    reservation = quotas.credits_reserve(user=on_100, operation="wav")
    assert quotas.credits_charge(reservation=reservation)
    assert (account(on_100).used, account(on_100).in_flight) == (2, 0)


def test_a_vendor_failure_or_refund_gives_the_credits_back(on_100):
    reservation = quotas.credits_reserve(user=on_100, operation="stems_basic")
    assert quotas.credits_release(reservation=reservation)
    assert (account(on_100).used, account(on_100).in_flight) == (0, 0)
    kinds = list(LedgerEntry.objects.filter(user=on_100).values_list("kind", "units"))
    assert kinds == [("reserve", 15), ("release", -15)]


def test_a_reservation_settles_once(on_100):
    reservation = quotas.credits_reserve(user=on_100, operation="wav")
    assert quotas.credits_release(reservation=reservation)
    assert not quotas.credits_release(reservation=reservation)
    assert not quotas.credits_charge(reservation=reservation)
    assert (account(on_100).used, account(on_100).in_flight) == (0, 0)
    assert LedgerEntry.objects.filter(user=on_100).count() == 2


def test_an_operation_over_the_balance_is_refused_with_its_cost_and_the_balance(on_100):
    quotas.credits_reserve(user=on_100, operation="stems_full")
    quotas.credits_reserve(user=on_100, operation="stems_basic")  # 90 of 100
    with pytest.raises(quotas.QuotaExceeded) as caught:
        quotas.credits_reserve(user=on_100, operation="stems_basic")
    assert caught.value.limit == "credits_per_period"
    assert (caught.value.operation, caught.value.cost) == ("stems_basic", 15)
    assert caught.value.usage.remaining == 10
    assert "15 credits" in str(caught.value) and "10" in str(caught.value)
    assert account(on_100).used == 90  # the refused one holds nothing


def test_the_last_credits_can_be_spent_exactly(on_100):
    quotas.credits_reserve(user=on_100, operation="stems_full")
    for _ in range(12):
        quotas.credits_reserve(user=on_100, operation="wav")  # 75 + 24 = 99
    with pytest.raises(quotas.QuotaExceeded):
        quotas.credits_reserve(user=on_100, operation="wav")
    quotas.credits_reserve(user=on_100, operation="lyrics_timeline")
    assert quotas.usage_for(on_100).remaining == 0


def test_a_generation_reserves_its_operations_price(on_100, broker, settings):
    settings.CREDIT_COSTS = {**settings.CREDIT_COSTS, "cover": 20}
    source = services.generation_create(
        owner=on_100, request={"description": "x", "model": "sonic-v5"}
    ).generation
    entry = LedgerEntry.objects.get(generation=source)
    assert (entry.operation, entry.units) == ("create", 15)
    states.transition(generation_id=source.pk, expected=Status.QUEUED, to=Status.FAILED)
    assert account(on_100).used == 0  # the vendor failed: given back
    cover = services.generation_create(
        owner=on_100, request={"description": "y", "model": "sonic-v5", "operation": "cover"}
    ).generation
    assert LedgerEntry.objects.get(generation=cover).units == 20


def test_recomputed_usage_counts_jobs_and_generations_in_flight(
    on_100, broker, clip_factory, generation_factory
):
    clip = clip_factory(generation=generation_factory(owner=on_100, status=Status.SUCCEEDED))
    wav = jobs.job_create(owner=on_100, kind=JobKind.WAV, clip=clip).job
    jobs.job_create(owner=on_100, kind=JobKind.LYRICS, description="sky")
    services.generation_create(owner=on_100, request={"description": "x", "model": "sonic-v5"})
    stored = (account(on_100).used, account(on_100).in_flight)
    assert stored == (2 + 10 + 15, 3)
    assert quotas.usage_recompute(user=on_100) == stored
    jobs.job_transition(job_id=wav.pk, expected=Status.QUEUED, to=Status.FAILED)
    assert quotas.usage_recompute(user=on_100) == (10 + 15, 2)
    assert (account(on_100).used, account(on_100).in_flight) == (10 + 15, 2)
