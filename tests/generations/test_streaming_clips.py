"""A clip the vendor reports as `streaming` is stored while the task runs, and announced once."""

import time

import pytest
import redis
from django.conf import settings

from generations import events, lifecycle
from generations.models import ClipState

pytestmark = pytest.mark.django_db


def announced(generation) -> list[bytes]:
    entries = redis.Redis.from_url(settings.REDIS_URL).xrange(events.stream_key(generation.pk))
    return [fields[b"kind"] for _, fields in entries]


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
    assert announced(generation).count(b"clip.streaming") == 1
