"""A clip the vendor reports as `streaming` is stored while the task runs, and announced once."""

import time

import pytest

from generations import lifecycle
from generations.models import ClipState, Event

pytestmark = pytest.mark.django_db


def announced(generation) -> list[str]:
    return list(Event.objects.filter(generation=generation).values_list("type", flat=True))


def test_a_streaming_clip_is_stored_and_announced_once(
    alice, generation_factory, upstream, simulator, broker, django_capture_on_commit_callbacks
):
    generation = generation_factory(owner=alice, description="[sim:never] x")
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.generation_submit(generation_id=generation.pk, upstream=upstream)
    time.sleep(simulator.ready_after_s + 0.05)  # the task stays at 90 %: one clip streaming
    for seq in (1, 2):
        with django_capture_on_commit_callbacks(execute=True):
            lifecycle.generation_poll(generation_id=generation.pk, seq=seq, upstream=upstream)
    clip = generation.clips.get(state=ClipState.STREAMING)
    assert clip.vendor_audio_url
    assert announced(generation).count("clip.streaming") == 1
