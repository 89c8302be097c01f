"""An upload through the vendor: a worker hands the simulator a signed link to our copy, the
simulator fetches it over loopback (from the live service) and answers a clip id; a cover or an
extend of that clip is sent with the upload task types. Priced, settled and refunded like any
generation."""

from __future__ import annotations

import io
import time

import pytest
import requests

from generations import lifecycle, services, uploads
from generations.models import (
    Account,
    ClipState,
    ErrorCode,
    Event,
    EventType,
    LedgerEntry,
    Operation,
    Status,
)
from tests.audio_files import wav_bytes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _public(settings, live_server, tmp_path):
    settings.PUBLIC_BASE_URL = live_server.url
    settings.MEDIA_ROOT = tmp_path / "media"


def upload(owner, data: bytes, title="my tune"):
    audio = uploads.upload_check(file=io.BytesIO(data), size=len(data))
    return uploads.upload_create(owner=owner, file=io.BytesIO(data), audio=audio, title=title)


def submit(generation, upstream, capture):
    with capture(execute=True):
        lifecycle.generation_submit(generation_id=generation.pk, upstream=upstream)
    generation.refresh_from_db()
    return generation


@pytest.fixture
def capture(django_capture_on_commit_callbacks, broker):
    return django_capture_on_commit_callbacks


def test_an_upload_becomes_a_vendor_clip_the_user_owns_for_two_credits(
    alice, upstream, simulator, capture
):
    created = upload(alice, wav_bytes(8.0))
    generation = created.generation
    [clip] = generation.clips.all()
    assert (clip.state, clip.media_state, clip.duration) == (ClipState.PENDING, "ready", 8.0)
    assert Account.objects.get(user=alice).used == 2

    generation = submit(generation, upstream, capture)

    assert generation.status == Status.SUCCEEDED
    clip.refresh_from_db()
    assert clip.state == ClipState.SUCCEEDED and clip.vendor_clip_id
    assert simulator.ledger()["credits_spent"] == 2
    ledger = sorted(LedgerEntry.objects.filter(generation=generation).values_list("kind", "units"))
    assert ledger == [("charge", 0), ("reserve", 2)]
    events = list(Event.objects.filter(generation=generation).values_list("type", "clip_id"))
    assert events == [
        (EventType.GENERATION_QUEUED, None),
        (EventType.CLIP_SUCCEEDED, clip.pk),
        (EventType.GENERATION_SUCCEEDED, None),
    ]


def test_the_vendor_fetches_our_copy_through_a_short_lived_signed_link(alice, settings):
    created = upload(alice, wav_bytes(8.0))
    clip = created.generation.clips.get()
    url = uploads.source_url(clip)
    assert url.startswith(f"{settings.PUBLIC_BASE_URL}/api/v1/uploads/{created.generation.pk}/")
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200 and answer.content == wav_bytes(8.0)
    assert requests.get(url.replace("sig=", "sig=x"), timeout=10).status_code == 403
    expired = uploads.source_url(clip, now=time.time() - settings.UPLOAD_SOURCE_URL_MAX_AGE_S - 1)
    assert requests.get(expired, timeout=10).status_code == 403


def test_a_refused_upload_fails_with_the_vendors_reason_and_gives_the_credits_back(
    alice, upstream, simulator, capture
):
    generation = upload(alice, wav_bytes(8.0, comment="[sim:copyright]")).generation
    generation = submit(generation, upstream, capture)
    assert generation.status == Status.FAILED
    assert generation.error_code == ErrorCode.REJECTED
    assert "copyrighted" in generation.error_detail
    clip = generation.clips.get()
    assert clip.state == ClipState.FAILED
    events = list(Event.objects.filter(generation=generation).values_list("type", "clip_id"))
    assert events[-2:] == [(EventType.CLIP_FAILED, clip.pk), (EventType.GENERATION_FAILED, None)]
    assert Account.objects.get(user=alice).used == 0
    assert simulator.ledger()["credits_spent"] == 0


def test_a_cover_of_an_upload_is_sent_as_cover_upload_music(alice, upstream, simulator, capture):
    uploaded = submit(upload(alice, wav_bytes(8.0)).generation, upstream, capture)
    cover = services.generation_create(
        owner=alice,
        request={
            "operation": Operation.COVER,
            "mode": "custom",
            "lyrics": "[Verse]\nmy song, covered",
            "tags": "jazz",
            "model": "sonic-v5",
            "source_clip": uploaded.clips.get(),
        },
    ).generation
    cover = submit(cover, upstream, capture)
    assert cover.status == Status.RUNNING
    assert simulator.ledger()["tasks"][-1]["task_type"] == "cover_upload_music"
    time.sleep(simulator.ready_after_s + 0.05)
    for _ in range(5):  # the simulator's webhook to the live server may start a new poll chain
        with capture(execute=True):
            lifecycle.generation_poll(generation_id=cover.pk, seq=cover.poll_seq, upstream=upstream)
        cover.refresh_from_db()
        if cover.status != Status.RUNNING:
            break
    assert cover.status == Status.SUCCEEDED
    assert Account.objects.get(user=alice).used == 2 + 15


def test_an_extend_of_an_upload_is_sent_as_extend_upload_music(alice, upstream, simulator, capture):
    uploaded = submit(upload(alice, wav_bytes(8.0)).generation, upstream, capture)
    extend = services.generation_create(
        owner=alice,
        request={
            "operation": Operation.EXTEND,
            "description": "carry on",
            "model": "sonic-v5",
            "continue_at": 0.1,
            "source_clip": uploaded.clips.get(),
        },
    ).generation
    assert submit(extend, upstream, capture).status == Status.RUNNING
    assert simulator.ledger()["tasks"][-1]["task_type"] == "extend_upload_music"
