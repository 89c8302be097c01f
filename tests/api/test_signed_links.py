"""Signed links (`events_url`, `audio_url`, `image_url`) speak for the token that asked for them:
they never renew themselves and die with that token, its user, or their own lifetime."""

from __future__ import annotations

import time

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import AsyncClient, RequestFactory
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import ApiToken
from api.signing import BUCKET_S, CLOCK_SKEW_S, Grant, signed_url
from api.tokens import token_create, token_revoke
from generations.models import MediaState, Status
from tests.api.sse import Reader

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fast_heartbeat_and_media(settings, tmp_path):
    settings.SSE_HEARTBEAT_S = 0.2
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def issued(alice):
    return token_create(user=alice, name="links")


@pytest.fixture
def generation(alice, generation_factory, clip_factory):
    generation = generation_factory(owner=alice, status=Status.RUNNING, vendor_task_id="t")
    clip = clip_factory(generation=generation, media_state=MediaState.READY)
    clip.audio_file.name = default_storage.save(f"clips/{clip.pk}.wav", ContentFile(b"RIFF"))
    clip.audio_type, clip.media_copied_at = "audio/wav", timezone.now()
    clip.save()
    return generation


def resource(generation, secret) -> dict:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client.get(f"/api/v1/generations/{generation.pk}").json()


def first_event(url: str, **headers):
    @async_to_sync
    async def read():
        reader = Reader(await AsyncClient().get(url, headers=headers))
        _, body = await reader.event()
        return body

    return read()


def test_a_stream_opened_with_a_link_never_hands_out_a_renewed_link(
    generation, issued, monkeypatch
):
    before = resource(generation, issued.secret)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + BUCKET_S)  # fresh links would differ

    seen = first_event(before["events_url"])
    assert seen["events_url"] == before["events_url"]
    assert seen["clips"][0]["audio_url"] == before["clips"][0]["audio_url"]
    # The token holder's own stream does hand out fresh links.
    own = first_event(
        f"/api/v1/generations/{generation.pk}/events",
        Authorization=f"Bearer {issued.secret}",
    )
    assert own["events_url"] != before["events_url"]


def test_a_stream_opened_with_a_link_ends_when_the_link_expires(generation, issued, settings):
    # The link's lifetime counts from the start of its 5-minute bucket: make it end in ~10 s
    # (room for a loaded machine to open the stream while the link is still good).
    now = time.time()
    settings.MEDIA_URL_MAX_AGE_S = int(now - now // BUCKET_S * BUCKET_S) + 10
    events_url = resource(generation, issued.secret)["events_url"]

    @async_to_sync
    async def scenario():
        reader = Reader(await AsyncClient().get(events_url))
        await reader.event()
        assert await reader.ends_within(30), "the stream outlived its link"

    scenario()
    assert APIClient().get(events_url).status_code == 403


def _revoke(issued):
    token_revoke(token=issued.token)


def _deactivate(issued):
    type(issued.token.user).objects.filter(pk=issued.token.user_id).update(is_active=False)


def _expire(issued):
    ApiToken.objects.filter(pk=issued.token.pk).update(expires_at=timezone.now())


@pytest.mark.parametrize("end", [_revoke, _deactivate, _expire])
def test_streams_and_links_end_with_the_token_or_its_user(generation, issued, end):
    before = resource(generation, issued.secret)
    assert APIClient().get(before["clips"][0]["audio_url"]).status_code == 200

    @async_to_sync
    async def scenario():
        signed = Reader(await AsyncClient().get(before["events_url"]))
        bearer = Reader(
            await AsyncClient().get(
                f"/api/v1/generations/{generation.pk}/events",
                headers={"Authorization": f"Bearer {issued.secret}"},
            )
        )
        await signed.event()
        await bearer.event()
        await sync_to_async(end)(issued)
        assert await signed.ends_within(30), "the signed stream outlived its token"
        assert await bearer.ends_within(30), "the Bearer stream outlived its token"

    scenario()
    for url in (before["events_url"], before["clips"][0]["audio_url"]):
        response = APIClient().get(url)
        assert response.status_code == 403, url
        assert response["Content-Type"] == "application/problem+json"


def test_a_link_made_by_one_token_survives_revoking_another(generation, issued, alice):
    other = token_create(user=alice, name="other")
    before = resource(generation, issued.secret)
    token_revoke(token=other.token)
    assert APIClient().get(before["clips"][0]["audio_url"]).status_code == 200


@pytest.mark.parametrize("ahead_s", [365 * 24 * 3600, BUCKET_S])
def test_a_grant_dated_in_the_future_is_refused(generation, issued, ahead_s):
    """A grant stamped now + 365 days (forged with the server's key) opened the audio for a
    year past its lifetime: no grant is issued ahead of the clock, so none is accepted."""
    clip = generation.clips.get()
    grant = Grant(token_id=issued.token.pk.hex, issued_at=int(time.time()) + ahead_s)
    request = RequestFactory().get("/")
    response = APIClient().get(signed_url(request, clip.pk, "audio", grant))
    assert response.status_code in (401, 403), response.status_code
    genuine = resource(generation, issued.secret)["clips"][0]["audio_url"]
    assert APIClient().get(genuine).status_code == 200


def test_a_grant_a_little_ahead_is_clock_skew_and_accepted(generation, issued):
    clip = generation.clips.get()
    grant = Grant(token_id=issued.token.pk.hex, issued_at=int(time.time()) + CLOCK_SKEW_S // 2)
    request = RequestFactory().get("/")
    assert APIClient().get(signed_url(request, clip.pk, "audio", grant)).status_code == 200
