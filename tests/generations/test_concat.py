"""Concat an extension into the full song: a generation of operation concat, submitted and polled
like any other against the simulator over loopback, priced at its own cost (2 credits)."""

import time

import pytest

from generations import lifecycle, services
from generations.models import Account, ErrorCode, Generation, LedgerEntry, Operation, Status

pytestmark = pytest.mark.django_db


def run(generation, upstream, simulator, capture):
    with capture(execute=True):
        lifecycle.generation_submit(generation_id=generation.pk, upstream=upstream)
    generation.refresh_from_db()
    if generation.status == Status.RUNNING:
        time.sleep(simulator.ready_after_s + 0.05)
        with capture(execute=True):
            lifecycle.generation_poll(generation_id=generation.pk, seq=1, upstream=upstream)
        generation.refresh_from_db()
    return generation


@pytest.fixture
def make(alice, upstream, simulator, django_capture_on_commit_callbacks, broker):
    def _make(**request):
        created = services.generation_create(owner=alice, request=request)
        return run(created.generation, upstream, simulator, django_capture_on_commit_callbacks)

    return _make


def test_concat_of_an_extension_stores_the_full_song_and_charges_two_credits(alice, make):
    song = make(description="calm piano", model="sonic-v5")
    extension = make(
        description="more",
        model="sonic-v5",
        operation=Operation.EXTEND,
        source_clip=song.clips.first(),
        continue_at=2.0,
    )
    used = Account.objects.get(user=alice).used
    full = make(operation=Operation.CONCAT, model="sonic-v5", source_clip=extension.clips.first())
    assert full.status == Status.SUCCEEDED
    [clip] = full.clips.all()
    assert clip.duration == pytest.approx(2.0 + 3.0)  # the simulator's clips last 3 s
    assert Account.objects.get(user=alice).used == used + 2
    ledger = LedgerEntry.objects.filter(generation=full).values_list("kind", "units")
    assert sorted(ledger) == [("charge", 0), ("reserve", 2)]


def test_a_concat_the_vendor_refuses_fails_with_its_reason_and_gives_the_credits_back(alice, make):
    song = make(description="calm piano", model="sonic-v5")  # not an extension
    used = Account.objects.get(user=alice).used
    full = make(operation=Operation.CONCAT, model="sonic-v5", source_clip=song.clips.first())
    assert full.status == Status.FAILED
    assert full.error_code == ErrorCode.REJECTED
    assert "extend" in full.error_detail
    assert Account.objects.get(user=alice).used == used
    assert Generation.objects.get(pk=full.pk).clips.count() == 0
