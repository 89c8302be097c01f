"""Serving stored audio: every Range form against the real file, signed URLs, scoping."""

import hashlib

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from rest_framework.test import APIClient

from generations.models import MediaState

pytestmark = pytest.mark.django_db

AUDIO = bytes(range(256)) * 40  # 10,240 bytes


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def clip(alice, clip_factory):
    clip = clip_factory(generation__owner=alice)
    name = default_storage.save(
        f"clips/{clip.generation_id}/{clip.pk}-audio.wav", ContentFile(AUDIO)
    )
    image = default_storage.save(
        f"clips/{clip.generation_id}/{clip.pk}-image.png", ContentFile(b"\x89PNG")
    )
    clip.audio_file.name, clip.image_file.name = name, image
    clip.audio_type, clip.image_type = "audio/wav", "image/png"
    clip.audio_sha256 = hashlib.sha256(AUDIO).hexdigest()
    clip.image_sha256 = hashlib.sha256(b"\x89PNG").hexdigest()
    clip.media_state = MediaState.READY
    clip.media_copied_at = timezone.now()
    clip.save()
    return clip


def audio(client, clip, **headers):
    return client.get(f"/api/v1/clips/{clip.pk}/audio", **headers)


def body(response) -> bytes:
    return b"".join(response)


def test_the_whole_file_with_its_headers(alice_client, clip):
    response = audio(alice_client, clip)
    assert response.status_code == 200
    assert body(response) == AUDIO
    assert response["Content-Type"] == "audio/wav"
    assert response["Content-Length"] == str(len(AUDIO))
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"] == f'"{clip.audio_sha256}"'
    assert response["Last-Modified"]


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, len(AUDIO) - 1),
        ("bytes=-10", len(AUDIO) - 10, len(AUDIO) - 1),
        ("bytes=10000-99999", 10000, len(AUDIO) - 1),
        ("bytes=-99999", 0, len(AUDIO) - 1),
    ],
)
def test_single_ranges_are_206_with_the_exact_bytes(alice_client, clip, header, start, end):
    response = audio(alice_client, clip, HTTP_RANGE=header)
    assert response.status_code == 206
    assert body(response) == AUDIO[start : end + 1]
    assert response["Content-Range"] == f"bytes {start}-{end}/{len(AUDIO)}"
    assert response["Content-Length"] == str(end - start + 1)


@pytest.mark.parametrize("header", ["bytes=10240-", "bytes=20000-30000", "bytes=-0", "bytes=50-10"])
def test_unsatisfiable_ranges_are_416(alice_client, clip, header):
    response = audio(alice_client, clip, HTTP_RANGE=header)
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(AUDIO)}"
    assert response["Content-Type"] == "application/problem+json"


MANY = "9" * 5000  # past Python's 4,300-digit int() limit


@pytest.mark.parametrize(
    ("header", "status", "start"),
    [
        (f"bytes={MANY}-", 416, None),
        (f"bytes={MANY}-{MANY}", 416, None),
        (f"bytes=0-{MANY}", 206, 0),
        (f"bytes=-{MANY}", 206, 0),
        (f"bytes={'0' * 5000}5-", 206, 5),
    ],
)
def test_ranges_with_thousands_of_digits_are_answered(alice_client, clip, header, status, start):
    response = audio(alice_client, clip, HTTP_RANGE=header)
    assert response.status_code == status
    if start is not None:
        assert body(response) == AUDIO[start:]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 200), ({"HTTP_RANGE": "bytes=0-9"}, 206), ({"HTTP_RANGE": "bytes=99999-"}, 416)],
)
def test_media_is_never_sniffed_or_run_as_a_page(alice_client, clip, headers, status):
    for kind in ("audio", "image"):
        response = alice_client.get(f"/api/v1/clips/{clip.pk}/{kind}", **headers)
        assert response.status_code == status
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response["Content-Security-Policy"]
        assert "default-src 'none'" in response["Content-Security-Policy"]


def test_a_stored_type_outside_the_allow_list_is_served_as_bytes(alice_client, clip):
    type(clip).objects.filter(pk=clip.pk).update(image_type="image/svg+xml")
    response = alice_client.get(f"/api/v1/clips/{clip.pk}/image")
    assert response["Content-Type"] == "application/octet-stream"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-5", "bytes=x-y"])
def test_other_range_forms_get_the_whole_file(alice_client, clip, header):
    response = audio(alice_client, clip, HTTP_RANGE=header)
    assert response.status_code == 200
    assert body(response) == AUDIO


def test_if_none_match_is_304(alice_client, clip):
    response = audio(alice_client, clip, HTTP_IF_NONE_MATCH=f'"{clip.audio_sha256}"')
    assert response.status_code == 304


def test_head_answers_headers_only(alice_client, clip):
    response = alice_client.head(f"/api/v1/clips/{clip.pk}/audio")
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(AUDIO))


def test_a_player_asking_for_audio_only_is_served(alice_client, clip):
    assert audio(alice_client, clip, HTTP_ACCEPT="audio/*").status_code == 200


def test_the_image_is_served(alice_client, clip):
    response = alice_client.get(f"/api/v1/clips/{clip.pk}/image")
    assert (response.status_code, response["Content-Type"]) == (200, "image/png")


def test_the_signed_audio_url_works_without_a_header(alice_client, clip):
    url = alice_client.get(f"/api/v1/clips/{clip.pk}").json()["audio_url"]
    assert "sig=" in url
    response = APIClient().get(url, HTTP_RANGE="bytes=0-9")
    assert response.status_code == 206
    assert body(response) == AUDIO[:10]


def test_an_expired_signed_url_is_403(alice_client, clip, settings):
    url = alice_client.get(f"/api/v1/clips/{clip.pk}").json()["audio_url"]
    settings.MEDIA_URL_MAX_AGE_S = -1
    response = APIClient().get(url)
    assert response.status_code == 403
    assert "expired" in response.json()["detail"]


def test_a_tampered_signed_url_is_403(alice_client, clip):
    url = alice_client.get(f"/api/v1/clips/{clip.pk}").json()["audio_url"]
    assert APIClient().get(url[:-3] + "abc").status_code == 403


def test_a_signature_for_the_image_does_not_open_the_audio(alice_client, clip):
    image_url = alice_client.get(f"/api/v1/clips/{clip.pk}").json()["image_url"]
    assert APIClient().get(image_url.replace("/image?", "/audio?")).status_code == 403


def test_no_token_and_no_signature_is_401(clip):
    assert APIClient().get(f"/api/v1/clips/{clip.pk}/audio").status_code == 401


def test_another_users_clip_is_404(bob_client, clip):
    assert bob_client.get(f"/api/v1/clips/{clip.pk}").status_code == 404
    assert audio(bob_client, clip).status_code == 404


def test_a_clip_not_yet_copied_has_no_urls_and_no_audio(alice_client, clip):
    type(clip).objects.filter(pk=clip.pk).update(media_state=MediaState.PENDING)
    resource = alice_client.get(f"/api/v1/clips/{clip.pk}").json()
    assert (resource["media"], resource["audio_url"], resource["image_url"]) == (
        "pending",
        None,
        None,
    )
    assert audio(alice_client, clip).status_code == 404


def test_the_proxy_can_send_the_bytes(alice_client, clip, settings):
    settings.MEDIA_OFFLOAD = "nginx"
    response = audio(alice_client, clip, HTTP_RANGE="bytes=0-9")
    assert response["X-Accel-Redirect"] == f"/protected-media/{clip.audio_file.name}"
    assert response.content == b""


def test_a_signed_url_works_whatever_authorization_header_comes_along(alice_client, clip):
    """A valid sig with a stale Bearer header was a 401: the signature is the credential."""
    url = alice_client.get(f"/api/v1/clips/{clip.pk}").json()["audio_url"]
    stale = APIClient()
    stale.credentials(HTTP_AUTHORIZATION="Bearer mg_revoked-long-ago")
    response = stale.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == AUDIO


def test_under_asgi_the_file_is_read_in_chunks_off_the_event_loop(alice_client, clip):
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    url = alice_client.get(f"/api/v1/clips/{clip.pk}").json()["audio_url"]

    async def play():
        response = await AsyncClient().get(url, headers={"Range": "bytes=10-10009"})
        return response, b"".join([chunk async for chunk in response.streaming_content])

    response, data = async_to_sync(play)()
    assert (response.status_code, data) == (206, AUDIO[10:10010])
