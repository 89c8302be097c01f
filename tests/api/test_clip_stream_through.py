"""A clip is playable before our copy lands: its audio is streamed through from the vendor."""

import time

import pytest
import requests
from asgiref.sync import async_to_sync
from django.test import AsyncClient
from django.utils import timezone
from rest_framework.test import APIClient

from generations import lifecycle
from generations.models import Clip, ClipState, MediaState
from tests.media_server import MediaServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def clip(
    alice, generation_factory, upstream, simulator, settings, django_capture_on_commit_callbacks
):
    """A clip the simulator finished, stored as succeeded; our copy has not been made."""
    settings.MUSICAPI_MEDIA_HOSTS = [simulator.public_url]
    generation = generation_factory(owner=alice)
    with django_capture_on_commit_callbacks(execute=False):
        lifecycle.generation_submit(generation_id=generation.pk, upstream=upstream)
    time.sleep(simulator.ready_after_s + 0.05)
    with django_capture_on_commit_callbacks(execute=False):  # no copy is sent
        lifecycle.generation_poll(generation_id=generation.pk, seq=1, upstream=upstream)
    clip = generation.clips.first()
    assert clip.state == ClipState.SUCCEEDED and clip.media_state == MediaState.PENDING
    return clip


@pytest.fixture
def wav(clip) -> bytes:
    """What the vendor serves for this clip (fetched directly, as ground truth)."""
    return requests.get(clip.vendor_audio_url, timeout=5).content


def audio_url(client, clip) -> str:
    url = client.get(f"/api/v1/clips/{clip.pk}").json()["audio_url"]
    assert url is not None
    return url


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_a_succeeded_clip_plays_before_its_copy_lands(wav, alice_client, clip):
    resource = alice_client.get(f"/api/v1/clips/{clip.pk}").json()
    assert resource["media"] == "pending"
    response = APIClient().get(resource["audio_url"])
    assert response.status_code == 200
    assert body(response) == wav
    assert response["Content-Type"] == "audio/wav"
    assert response["Content-Length"] == str(len(wav))
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert "127.0.0.1" not in str(resource) + str(response.items())  # no vendor URL shown


def test_a_range_is_forwarded_and_answered_206(wav, alice_client, clip):
    response = APIClient().get(audio_url(alice_client, clip), HTTP_RANGE="bytes=0-99")
    assert response.status_code == 206
    assert body(response) == wav[:100]
    assert response["Content-Range"] == f"bytes 0-99/{len(wav)}"
    assert response["Accept-Ranges"] == "bytes"


def test_a_range_past_the_end_is_416(alice_client, clip):
    response = APIClient().get(audio_url(alice_client, clip), HTTP_RANGE=f"bytes={'9' * 5000}-")
    assert response.status_code == 416
    assert response["Content-Type"] == "application/problem+json"


def test_a_streaming_clip_plays_live(wav, alice_client, clip):
    Clip.objects.filter(pk=clip.pk).update(state=ClipState.STREAMING)
    response = APIClient().get(audio_url(alice_client, clip), HTTP_RANGE="bytes=0-")
    assert response.status_code == 206
    assert body(response) == wav


def test_the_cover_is_streamed_through_too(alice_client, clip):
    url = alice_client.get(f"/api/v1/clips/{clip.pk}").json()["image_url"]
    response = APIClient().get(url)
    assert (response.status_code, response["Content-Type"]) == (200, "image/png")
    assert body(response).startswith(b"\x89PNG")


def test_an_unfinished_clip_has_no_audio(alice_client, clip):
    Clip.objects.filter(pk=clip.pk).update(state=ClipState.RUNNING)
    assert alice_client.get(f"/api/v1/clips/{clip.pk}").json()["audio_url"] is None
    assert alice_client.get(f"/api/v1/clips/{clip.pk}/audio").status_code == 404


def test_a_vendor_url_the_rules_refuse_is_never_fetched(wav, alice_client, clip):
    unlisted = MediaServer()
    try:
        url = unlisted.route("/a.wav", headers={"Content-Type": "audio/wav"}, body=wav)
        Clip.objects.filter(pk=clip.pk).update(vendor_audio_url=url)
        assert alice_client.get(f"/api/v1/clips/{clip.pk}").json()["audio_url"] is None
        response = alice_client.get(f"/api/v1/clips/{clip.pk}/audio")
    finally:
        unlisted.close()
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert unlisted.hits == []


def test_a_vendor_answer_that_is_not_audio_is_not_served(alice_client, clip, settings):
    cdn = MediaServer()
    try:
        svg = b"<svg><script>alert(1)</script></svg>"
        url = cdn.route("/a", headers={"Content-Type": "image/svg+xml"}, body=svg)
        settings.MUSICAPI_MEDIA_HOSTS = [f"http://127.0.0.1:{cdn.port}"]
        Clip.objects.filter(pk=clip.pk).update(vendor_audio_url=url)
        response = alice_client.get(f"/api/v1/clips/{clip.pk}/audio")
    finally:
        cdn.close()
    assert response.status_code == 502
    assert b"script" not in response.content


def test_a_vendor_that_drops_mid_way_ends_the_answer_and_the_next_request_works(
    wav, alice_client, clip, settings
):
    cdn = MediaServer(http10=True)  # closes the connection after the (short) body
    try:
        headers = {"Content-Type": "audio/wav", "Content-Length": str(len(wav))}
        url = cdn.route("/a.wav", headers=headers, body=wav[:1000])
        settings.MUSICAPI_MEDIA_HOSTS = [f"http://127.0.0.1:{cdn.port}"]
        Clip.objects.filter(pk=clip.pk).update(vendor_audio_url=url)
        broken = alice_client.get(f"/api/v1/clips/{clip.pk}/audio")
        assert broken.status_code == 200
        assert broken["Content-Length"] == str(len(wav))
        assert len(body(broken)) < len(wav)  # short: the player knows it was cut
        cdn.route("/a.wav", headers={"Content-Type": "audio/wav"}, body=wav)
        again = alice_client.get(f"/api/v1/clips/{clip.pk}/audio")
        assert body(again) == wav
    finally:
        cdn.close()


def test_an_unreachable_vendor_is_502_not_500(alice_client, clip, settings):
    settings.MUSICAPI_MEDIA_HOSTS = ["http://127.0.0.1:9"]
    Clip.objects.filter(pk=clip.pk).update(vendor_audio_url="http://127.0.0.1:9/a.wav")
    response = alice_client.get(f"/api/v1/clips/{clip.pk}/audio")
    assert (response.status_code, response["Retry-After"]) == (502, "5")


def test_once_copied_the_same_url_serves_our_copy(wav, alice_client, clip, tmp_path, settings):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    settings.MEDIA_ROOT = tmp_path / "media"
    url = audio_url(alice_client, clip)
    name = default_storage.save(f"clips/{clip.generation_id}/{clip.pk}-audio.wav", ContentFile(wav))
    Clip.objects.filter(pk=clip.pk).update(
        media_state=MediaState.READY,
        audio_file=name,
        audio_type="audio/wav",
        audio_sha256="ab",
        media_copied_at=timezone.now(),
    )
    response = APIClient().get(url, HTTP_RANGE="bytes=0-99")
    assert (response.status_code, response["ETag"]) == (206, '"ab"')
    assert body(response) == wav[:100]


def test_under_asgi_the_vendor_is_read_on_the_event_loop(wav, alice_client, clip):
    url = audio_url(alice_client, clip)

    async def play():
        response = await AsyncClient().get(url, headers={"Range": "bytes=0-99"})
        chunks = [chunk async for chunk in response.streaming_content]
        return response, b"".join(chunks)

    response, data = async_to_sync(play)()
    assert (response.status_code, data) == (206, wav[:100])


def test_a_clip_whose_copy_failed_stays_playable(alice_client, clip, wav):
    Clip.objects.filter(pk=clip.pk).update(media_state=MediaState.FAILED, media_error="x")
    resource = alice_client.get(f"/api/v1/clips/{clip.pk}").json()
    assert resource["media"] == "failed"
    assert body(APIClient().get(resource["audio_url"])) == wav
