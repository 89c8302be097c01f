"""The move from counting generations to counting credits loses no usage: plans' limits, the
period's usage and the ledger are multiplied by a song's price, and every settlement is linked to
the reservation it settles. Run with Django's MigrationExecutor on the test database."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("generations", "0005_jobs")]
AFTER = [("generations", "0006_credits")]
PERIOD = datetime(2026, 11, 25, tzinfo=UTC)


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def old_apps():
    apps = migrate(BEFORE)
    yield apps
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def _seed(apps):
    """Two users on the old scheme: a plan of 20 a day and one of 0, usage with every outcome."""
    User = apps.get_model("auth", "User")
    Plan = apps.get_model("generations", "Plan")
    Account = apps.get_model("generations", "Account")
    Generation = apps.get_model("generations", "Generation")
    LedgerEntry = apps.get_model("generations", "LedgerEntry")
    PendingCreate = apps.get_model("generations", "PendingCreate")
    pro = Plan.objects.create(name="pro", generations_per_period=20, max_in_flight=4)
    Plan.objects.create(name="none", generations_per_period=0)
    alice = User.objects.create(username="alice")
    Account.objects.create(user=alice, plan=pro, period_start=PERIOD, used=9, in_flight=3)

    def generation(operation, status):
        return Generation.objects.create(
            owner=alice, operation=operation, status=status, model="sonic-v5"
        )

    def entry(g, kind, units):
        return LedgerEntry.objects.create(
            user=alice, generation=g, kind=kind, units=units, period_start=PERIOD
        )

    done = generation("create", "succeeded")
    entry(done, "reserve", 1)
    entry(done, "charge", 0)
    failed = generation("cover", "failed")
    entry(failed, "reserve", 1)
    entry(failed, "release", -1)
    running = generation("extend", "running")
    entry(running, "reserve", 1)
    submitting = generation("create", "submitting")
    reservation = entry(submitting, "reserve", 1)
    PendingCreate.objects.create(
        generation_id=submitting.pk, reservation=reservation, started_at=PERIOD
    )
    # A deleted generation's entries keep no generation id.
    entry(None, "reserve", 1)
    entry(None, "charge", 0)
    # A job's reservation held its price in songs: full stems were 5.
    Job = apps.get_model("generations", "Job")
    stems = Job.objects.create(
        owner=alice, kind="stems_full", reservation=entry(None, "reserve", 5)
    )
    return alice.pk, {"done": done.pk, "failed": failed.pk, "running": running.pk, "job": stems.pk}


def test_plans_usage_and_the_ledger_become_credits(old_apps, settings):
    settings.CREDIT_COSTS = {**settings.CREDIT_COSTS, "create": 15}
    user_id, ids = _seed(old_apps)
    apps = migrate(AFTER)
    Plan = apps.get_model("generations", "Plan")
    Account = apps.get_model("generations", "Account")
    LedgerEntry = apps.get_model("generations", "LedgerEntry")

    assert dict(Plan.objects.values_list("name", "credits_per_period")) == {"pro": 300, "none": 0}
    assert Plan.objects.get(name="pro").max_in_flight == 4  # counts stay counts
    account = Account.objects.get(user_id=user_id)
    assert (account.used, account.in_flight, account.period_start) == (135, 3, PERIOD)
    entries = LedgerEntry.objects.filter(user_id=user_id)
    total = sum(entries.values_list("units", flat=True))
    assert total == account.used  # the audit still recomputes the usage
    for name, operation, kinds in [
        ("done", "create", [("reserve", 15), ("charge", 0)]),
        ("failed", "cover", [("reserve", 15), ("release", -15)]),
        ("running", "extend", [("reserve", 15)]),
    ]:
        rows = entries.filter(generation_id=ids[name]).order_by("pk")
        assert list(rows.values_list("kind", "units")) == kinds
        assert set(rows.values_list("operation", flat=True)) == {operation}
        reserve = rows.get(kind="reserve")
        settled = rows.exclude(kind="reserve").first()
        assert settled is None or settled.settles_id == reserve.pk
    job = apps.get_model("generations", "Job").objects.get(pk=ids["job"])
    held = LedgerEntry.objects.get(pk=job.reservation_id)
    assert (held.operation, held.units) == ("stems_full", 75)


def test_a_song_price_set_by_the_operator_is_the_factor(old_apps, settings):
    settings.CREDIT_COSTS = {**settings.CREDIT_COSTS, "create": 12}
    user_id, _ = _seed(old_apps)
    apps = migrate(AFTER)
    assert apps.get_model("generations", "Plan").objects.get(name="pro").credits_per_period == 240
    assert apps.get_model("generations", "Account").objects.get(user_id=user_id).used == 108


def test_the_migration_reverses_to_generation_counts(old_apps):
    user_id, _ = _seed(old_apps)
    migrate(AFTER)
    apps = migrate(BEFORE)
    Plan = apps.get_model("generations", "Plan")
    assert dict(Plan.objects.values_list("name", "generations_per_period")) == {
        "pro": 20,
        "none": 0,
    }
    assert apps.get_model("generations", "Account").objects.get(user_id=user_id).used == 9
    units = apps.get_model("generations", "LedgerEntry").objects.values_list("units", flat=True)
    assert sorted(units) == [-1, 0, 0, 1, 1, 1, 1, 1, 5]
