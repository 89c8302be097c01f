import threading

import pytest
from django.db import connection

from generations import states
from generations.models import Generation, Status


@pytest.mark.django_db
def test_a_transition_from_the_expected_status_wins(generation_factory, alice):
    generation = generation_factory(owner=alice)
    moved = states.transition(
        generation_id=generation.pk, expected=Status.QUEUED, to=Status.SUBMITTING
    )
    assert moved
    generation.refresh_from_db()
    assert generation.status == Status.SUBMITTING


@pytest.mark.django_db
def test_a_transition_from_a_stale_status_changes_nothing(generation_factory, alice):
    generation = generation_factory(owner=alice, status=Status.CANCELED)
    assert not states.transition(
        generation_id=generation.pk, expected=Status.RUNNING, to=Status.SUCCEEDED
    )
    generation.refresh_from_db()
    assert generation.status == Status.CANCELED
    assert generation.finished_at is None


@pytest.mark.django_db
def test_it_stamps_started_and_finished(generation_factory, alice):
    generation = generation_factory(owner=alice, status=Status.SUBMITTING)
    states.transition(
        generation_id=generation.pk,
        expected=Status.SUBMITTING,
        to=Status.RUNNING,
        vendor_task_id="t1",
    )
    states.transition(generation_id=generation.pk, expected=Status.RUNNING, to=Status.SUCCEEDED)
    generation.refresh_from_db()
    assert generation.vendor_task_id == "t1"
    assert generation.started_at <= generation.finished_at


def test_an_illegal_move_is_refused():
    with pytest.raises(states.IllegalTransition):
        states.transition(generation_id=None, expected=Status.SUCCEEDED, to=Status.RUNNING)


@pytest.mark.django_db(transaction=True)
def test_only_one_of_two_racing_updates_wins(alice, generation_factory):
    """Two threads, two connections, one row: the conditional UPDATE lets exactly one through."""
    generation = generation_factory(owner=alice)
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def race(to):
        barrier.wait()
        try:
            results.append(
                states.transition(generation_id=generation.pk, expected=Status.QUEUED, to=to)
            )
        finally:
            connection.close()

    threads = [
        threading.Thread(target=race, args=(Status.SUBMITTING,)),
        threading.Thread(target=race, args=(Status.CANCELED,)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [False, True]
    assert Generation.objects.get(pk=generation.pk).status in {Status.SUBMITTING, Status.CANCELED}
