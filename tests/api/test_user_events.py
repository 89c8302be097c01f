"""`GET /api/v1/events`: one stream for all of the caller's generations, new ones included."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import AsyncClient

from api.tokens import token_create, token_revoke
from generations import events, services, states
from generations.models import Event, Status
from tests.api.sse import Reader

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/events"


@pytest.fixture(autouse=True)
def _fast_heartbeat(settings):
    settings.SSE_HEARTBEAT_S = 0.2


@pytest.fixture
def issued(alice):
    return token_create(user=alice, name="sse")


@pytest.fixture
def auth(issued):
    return {"Authorization": f"Bearer {issued.secret}"}


@pytest.fixture
def running(alice, generation_factory):
    generation = generation_factory(owner=alice, status=Status.RUNNING, vendor_task_id="t")
    events.publish(generation.pk, "generation.running")
    return generation


def move(generation, expected, to, **fields):
    return sync_to_async(states.transition)(
        generation_id=generation.pk, expected=expected, to=to, **fields
    )


async def typed_event(reader: Reader) -> tuple[str, str, dict]:
    """(id, event name, data) of the next event frame."""
    while True:
        frame = await reader.frame()
        if frame.startswith("id:"):
            lines = dict(line.split(": ", 1) for line in frame.splitlines())
            return lines["id"], lines["event"], json.loads(lines["data"])


def create(alice) -> str:
    created = services.generation_create(owner=alice, request={"description": "a new song"})
    return str(created.generation.pk)


def test_it_starts_with_what_is_in_flight_then_follows_every_generation_new_ones_too(
    alice, running, auth
):
    @async_to_sync
    async def scenario():
        response = await AsyncClient().get(URL, headers=auth)
        assert response.status_code == 200
        assert response["Content-Type"] == "text/event-stream"
        reader = Reader(response)
        assert (await reader.frame()).startswith("retry:")
        event_id, name, first = await typed_event(reader)
        assert (name, first["type"], first["data"]["id"]) == (
            "generation.running",
            "generation.running",
            str(running.pk),
        )
        assert first["id"] == event_id
        new_id = await sync_to_async(create)(alice)
        _, name, created = await typed_event(reader)
        assert (name, created["data"]["id"], created["data"]["status"]) == (
            "generation.queued",
            new_id,
            "queued",
        )
        await move(running, Status.RUNNING, Status.SUCCEEDED)
        event_id, name, done = await typed_event(reader)
        assert (name, done["data"]["status"]) == ("generation.succeeded", "succeeded")
        logged = await sync_to_async(Event.objects.filter(generation=running).latest)("id")
        assert event_id == done["id"] == logged.public_id

    scenario()


def test_another_users_generations_are_never_sent(alice, bob, running, auth, generation_factory):
    theirs = generation_factory(owner=bob, status=Status.RUNNING, vendor_task_id="b")

    @async_to_sync
    async def scenario():
        reader = Reader(await AsyncClient().get(URL, headers=auth))
        await typed_event(reader)  # alice's running one
        await move(theirs, Status.RUNNING, Status.FAILED, error_code="internal")
        await move(running, Status.RUNNING, Status.CANCELED)
        _, _, next_one = await typed_event(reader)
        assert next_one["data"]["id"] == str(running.pk)

    scenario()


def test_last_event_id_replays_what_changed_while_away_once(alice, running, auth, issued):
    @async_to_sync
    async def scenario():
        reader = Reader(await AsyncClient().get(URL, headers=auth))
        seen, _, _ = await typed_event(reader)
        await reader.chunks.aclose()
        # Away: the running one ends; a new one is created.
        await move(running, Status.RUNNING, Status.SUCCEEDED)
        new_id = await sync_to_async(create)(alice)
        resumed = Reader(await AsyncClient().get(URL, headers={**auth, "Last-Event-ID": seen}))
        first = await typed_event(resumed)
        second = await typed_event(resumed)
        replayed = {
            body["data"]["id"]: (name, body["data"]["status"])
            for _, name, body in (
                first,
                second,
            )
        }
        assert replayed == {
            str(running.pk): ("generation.succeeded", "succeeded"),
            new_id: ("generation.queued", "queued"),
        }
        assert await resumed.frame() == ": heartbeat"  # nothing else: no duplicates

    scenario()


@pytest.mark.parametrize("last_event_id", ["abc", "evt_x", "evt_99999999", "1732435200000-0"])
def test_a_malformed_or_unknown_last_event_id_starts_from_the_current_state(
    alice, running, auth, generation_factory, last_event_id
):
    finished = generation_factory(owner=alice, status=Status.SUCCEEDED, vendor_task_id="f")
    events.publish(finished.pk, "generation.succeeded")

    @async_to_sync
    async def scenario():
        response = await AsyncClient().get(URL, headers={**auth, "Last-Event-ID": last_event_id})
        assert response.status_code == 200
        reader = Reader(response)
        _, _, body = await typed_event(reader)
        assert body["data"]["id"] == str(running.pk)  # in flight; the finished one is not sent
        assert await reader.frame() == ": heartbeat"

    scenario()


def test_the_same_event_id_arrives_on_both_streams(alice, running, auth):
    @async_to_sync
    async def scenario():
        mine = Reader(await AsyncClient().get(URL, headers=auth))
        one = Reader(
            await AsyncClient().get(f"/api/v1/generations/{running.pk}/events", headers=auth)
        )
        await typed_event(mine)
        await one.event()
        await move(running, Status.RUNNING, Status.FAILED, error_code="internal")
        user_id, _, _ = await typed_event(mine)
        generation_id, _ = await one.event()
        assert user_id == generation_id

    scenario()


def test_a_clip_event_names_its_clip_and_carries_the_log_id(alice, running, auth, clip_factory):
    clip = clip_factory(generation=running, state="succeeded")

    @async_to_sync
    async def scenario():
        reader = Reader(await AsyncClient().get(URL, headers=auth))
        await typed_event(reader)  # the running one
        logged = await sync_to_async(events.publish)(running.pk, "clip.succeeded", clip_id=clip.pk)
        event_id, name, body = await typed_event(reader)
        assert (name, body["type"], body["clip"]) == (
            "clip.succeeded",
            "clip.succeeded",
            str(clip.pk),
        )
        assert event_id == body["id"] == logged.public_id
        assert [c["state"] for c in body["data"]["clips"]] == ["succeeded"]

    scenario()


def test_the_signed_events_url_from_me_opens_it_without_a_header(alice, running, auth):
    @async_to_sync
    async def scenario():
        me = await AsyncClient().get("/api/v1/me", headers=auth)
        events_url = me.json()["events_url"]
        assert events_url.startswith("http://testserver/api/v1/events?sig=")
        reader = Reader(await AsyncClient().get(events_url))
        _, _, body = await typed_event(reader)
        assert body["data"]["id"] == str(running.pk)
        assert (
            body["data"]["events_url"].split("sig=")[1].split(":")[1]
            == events_url.split("sig=")[1].split(":")[1]
        )  # links inside speak for the same grant, never a renewed one

    scenario()


@pytest.mark.parametrize(
    ("auth_", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer mg_nope"}, 401),
        ("?sig=forged:abc", 403),
        ("?sig=" + "0" * 32 + ":1:abc", 403),
    ],
)
def test_without_valid_credentials_there_is_no_stream(running, auth_, status):
    @async_to_sync
    async def scenario():
        if isinstance(auth_, str):
            response = await AsyncClient().get(URL + auth_)
        else:
            response = await AsyncClient().get(URL, headers=auth_)
        assert response.status_code == status
        assert response["Content-Type"] == "application/problem+json"

    scenario()


def test_a_generations_signature_does_not_open_the_users_stream(running, auth):
    @async_to_sync
    async def scenario():
        resource = await AsyncClient().get(f"/api/v1/generations/{running.pk}", headers=auth)
        sig = resource.json()["events_url"].split("?", 1)[1]
        assert (await AsyncClient().get(f"{URL}?{sig}")).status_code == 403

    scenario()


def test_streams_of_both_kinds_share_the_per_user_cap(running, auth, settings):
    settings.SSE_MAX_STREAMS_PER_USER = 2

    @async_to_sync
    async def scenario():
        one = Reader(await AsyncClient().get(URL, headers=auth))
        two = Reader(
            await AsyncClient().get(f"/api/v1/generations/{running.pk}/events", headers=auth)
        )
        await typed_event(one)
        await two.event()
        refused = await AsyncClient().get(URL, headers=auth)
        assert refused.status_code == 429
        assert int(refused["Retry-After"]) >= 0

    scenario()


def test_revoking_the_token_ends_the_stream_within_a_heartbeat(running, auth, issued):
    @async_to_sync
    async def scenario():
        reader = Reader(await AsyncClient().get(URL, headers=auth))
        await typed_event(reader)
        await sync_to_async(token_revoke)(token=issued.token)
        assert await reader.ends_within(30), "the stream outlived its token"

    scenario()


def test_a_post_is_405(auth):
    response = async_to_sync(AsyncClient().post)(URL, headers=auth)
    assert response.status_code == 405
