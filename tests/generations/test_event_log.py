"""The event log: one row per change, written with it, forgotten after a week."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from generations import events, states
from generations.models import Event, Status

pytestmark = pytest.mark.django_db


def test_each_status_change_is_one_event_written_in_its_transaction(alice, generation_factory):
    generation = generation_factory(owner=alice, status=Status.QUEUED)
    with pytest.raises(RuntimeError), transaction.atomic():
        states.transition(generation_id=generation.pk, expected=Status.QUEUED, to=Status.CANCELED)
        raise RuntimeError("rolled back")
    assert not Event.objects.filter(generation=generation).exists()
    # submitting shows as queued: no event of its own
    states.transition(generation_id=generation.pk, expected=Status.QUEUED, to=Status.SUBMITTING)
    states.transition(generation_id=generation.pk, expected=Status.SUBMITTING, to=Status.RUNNING)
    assert list(Event.objects.filter(generation=generation).values_list("type", "owner")) == [
        ("generation.running", alice.pk)
    ]


def test_events_older_than_a_week_are_purged(alice, generation_factory):
    generation = generation_factory(owner=alice, status=Status.RUNNING)
    old = events.publish(generation.pk, "generation.running")
    recent = events.publish(generation.pk, "generation.succeeded")
    Event.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=7, hours=1))
    assert events.events_purge() == 1
    assert list(Event.objects.values_list("pk", flat=True)) == [recent.pk]


@pytest.mark.parametrize("value", ["evt_12", "evt_0"])
def test_event_ids_parse(value):
    assert events.parse_id(value) == int(value[4:])


@pytest.mark.parametrize("value", [None, "", "12", "evt_", "evt_1a", "evt_١٢", "evt_" + "9" * 19])
def test_anything_else_is_no_id(value):
    assert events.parse_id(value) is None


def test_wake_ups_borrow_the_caches_connections_instead_of_holding_their_own():
    # Each web process's Redis connections are counted (docs/benchmarks.md): a wake-up goes
    # out on the cache's one pool per process.
    assert events._client().connection_pool is cache._cache._get_connection_pool(write=True)
