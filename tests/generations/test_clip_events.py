"""`clip.succeeded` / `clip.failed`: one event per clip that reaches the state, written in the
transaction that stores it, naming the clip, before the generation's own terminal event."""

import time

import pytest
from django.db import transaction

from generations import lifecycle
from generations.models import Clip, Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished(alice, generation_factory, upstream, simulator, django_capture_on_commit_callbacks):
    """A generation submitted to the simulator and polled once it is ready."""

    def make(description: str):
        generation = generation_factory(owner=alice, description=description)
        with django_capture_on_commit_callbacks(execute=True):
            lifecycle.generation_submit(generation_id=generation.pk, upstream=upstream)
        time.sleep(simulator.ready_after_s + 0.05)
        with django_capture_on_commit_callbacks(execute=True):
            lifecycle.generation_poll(generation_id=generation.pk, seq=1, upstream=upstream)
        return generation

    return make


def log(generation) -> list[tuple[str, str | None]]:
    rows = Event.objects.filter(generation=generation).order_by("pk")
    return [(e.type, str(e.clip_id) if e.clip_id else None) for e in rows]


def test_each_clip_that_succeeds_is_announced_once_before_the_generation_succeeds(
    finished, upstream
):
    generation = finished("calm piano")
    clips = {str(c.pk) for c in Clip.objects.filter(generation=generation, state="succeeded")}
    assert len(clips) == 2
    announced = log(generation)
    succeeded = [clip for type_, clip in announced if type_ == "clip.succeeded"]
    assert sorted(succeeded) == sorted(clips)
    assert announced[-1] == ("generation.succeeded", None)
    # a duplicate poll of the finished generation announces nothing again
    lifecycle.generation_poll(generation_id=generation.pk, seq=1, upstream=upstream)
    assert log(generation) == announced


def test_a_failed_clip_is_announced_as_failed(finished):
    generation = finished("[sim:clip-failed] x")
    failed = Clip.objects.get(generation=generation, state="failed")
    ok = Clip.objects.get(generation=generation, state="succeeded")
    types = log(generation)
    assert ("clip.failed", str(failed.pk)) in types
    assert ("clip.succeeded", str(ok.pk)) in types
    assert types[-1] == ("generation.succeeded", None)


def test_every_clip_failing_is_announced_before_the_generation_fails(finished):
    generation = finished("[sim:failed] x")
    types = [t for t, _ in log(generation)]
    assert types[-3:] == ["clip.failed", "clip.failed", "generation.failed"]


def test_the_clip_events_commit_with_the_clips_or_not_at_all(
    alice, generation_factory, upstream, simulator, django_capture_on_commit_callbacks
):
    generation = generation_factory(owner=alice, description="calm piano")
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.generation_submit(generation_id=generation.pk, upstream=upstream)
    time.sleep(simulator.ready_after_s + 0.05)
    with pytest.raises(RuntimeError), transaction.atomic():
        lifecycle.generation_poll(generation_id=generation.pk, seq=1, upstream=upstream)
        assert Event.objects.filter(generation=generation, type="clip.succeeded").count() == 2
        raise RuntimeError("the worker dies before commit")
    assert not Clip.objects.filter(generation=generation).exists()
    assert not Event.objects.filter(generation=generation, type__startswith="clip.").exists()
