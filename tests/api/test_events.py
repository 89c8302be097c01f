"""Server-Sent Events through Django's ASGI path: resume, heartbeat, terminal close, auth."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import transaction
from django.test import AsyncClient

from api.tokens import token_create
from generations import jobs, states
from generations.models import Clip, ClipState, Job, JobFile, JobKind, MediaState, Status
from tests.api.sse import Reader

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fast_heartbeat(settings):
    settings.SSE_HEARTBEAT_S = 0.2


@pytest.fixture
def token(alice):
    return token_create(user=alice, name="sse").secret


@pytest.fixture
def running(alice, generation_factory):
    return generation_factory(owner=alice, status=Status.RUNNING, vendor_task_id="t")


def url(generation) -> str:
    return f"/api/v1/generations/{generation.pk}/events"


def move(generation, expected, to, **fields):
    return sync_to_async(states.transition)(
        generation_id=generation.pk, expected=expected, to=to, **fields
    )


def test_it_sends_the_state_then_each_change_and_closes_at_the_end(running, token):
    @async_to_sync
    async def scenario():
        response = await AsyncClient().get(
            url(running), headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200
        assert response["Content-Type"] == "text/event-stream"
        reader = Reader(response)
        assert (await reader.frame()).startswith("retry:")
        _, first = await reader.event()
        assert first["status"] == "running"
        await move(running, Status.RUNNING, Status.FAILED, error_code="internal")
        _, last = await reader.event()
        assert last["status"] == "failed"
        assert last["error"]["code"] == "internal"
        assert await reader.ended()

    scenario()


def test_it_sends_heartbeats_while_nothing_happens(running, token):
    @async_to_sync
    async def scenario():
        response = await AsyncClient().get(
            url(running), headers={"Authorization": f"Bearer {token}"}
        )
        reader = Reader(response)
        await reader.event()
        assert await reader.frame() == ": heartbeat"

    scenario()


def test_last_event_id_resumes_after_what_was_seen(running, token):
    @async_to_sync
    async def scenario():
        client = AsyncClient()
        headers = {"Authorization": f"Bearer {token}"}
        reader = Reader(await client.get(url(running), headers=headers))
        seen_id, _ = await reader.event()
        # The client drops; a change happens while it is away.
        await move(running, Status.RUNNING, Status.CANCELED)
        resumed = Reader(
            await client.get(url(running), headers={**headers, "Last-Event-ID": seen_id})
        )
        missed_id, body = await resumed.event()
        assert body["status"] == "canceled"
        assert missed_id != seen_id
        assert await resumed.ended()

    scenario()


def test_a_succeeded_generation_streams_until_its_media_is_copied(running, token):
    @async_to_sync
    async def scenario():
        clip = await sync_to_async(Clip.objects.create)(
            generation=running, vendor_clip_id="c", state=ClipState.SUCCEEDED
        )
        reader = Reader(
            await AsyncClient().get(url(running), headers={"Authorization": f"Bearer {token}"})
        )
        await reader.event()
        await move(running, Status.RUNNING, Status.SUCCEEDED)
        _, body = await reader.event()
        assert body["status"] == "succeeded" and body["clips"][0]["media"] == "pending"

        def copied():
            Clip.objects.filter(pk=clip.pk).update(media_state=MediaState.FAILED)
            from generations import events

            events.publish(running.pk, "clip.media_failed")

        await sync_to_async(copied)()
        _, body = await reader.event()
        assert body["clips"][0]["media"] == "failed"
        assert await reader.ended()

    scenario()


def test_the_signed_events_url_works_without_a_header(running, token):
    @async_to_sync
    async def scenario():
        resource = await AsyncClient().get(
            f"/api/v1/generations/{running.pk}", headers={"Authorization": f"Bearer {token}"}
        )
        events_url = resource.json()["events_url"]
        reader = Reader(await AsyncClient().get(events_url))
        _, body = await reader.event()
        assert body["id"] == str(running.pk)

    scenario()


@pytest.mark.parametrize(
    ("auth", "status"),
    [({}, 401), ({"Authorization": "Bearer mg_nope"}, 401), ("bad-sig", 403)],
)
def test_without_valid_credentials_there_is_no_stream(running, auth, status):
    @async_to_sync
    async def scenario():
        if auth == "bad-sig":
            response = await AsyncClient().get(url(running) + "?sig=forged:abc")
        else:
            response = await AsyncClient().get(url(running), headers=auth)
        assert response.status_code == status
        assert response["Content-Type"] == "application/problem+json"

    scenario()


def test_another_users_stream_is_404(running, bob):
    bobs = token_create(user=bob, name="sse").secret

    @async_to_sync
    async def scenario():
        response = await AsyncClient().get(
            url(running), headers={"Authorization": f"Bearer {bobs}"}
        )
        assert response.status_code == 404

    scenario()


def test_a_signature_for_another_generation_is_403(running, alice, generation_factory, token):
    other = generation_factory(owner=alice)

    @async_to_sync
    async def scenario():
        resource = await AsyncClient().get(
            f"/api/v1/generations/{other.pk}", headers={"Authorization": f"Bearer {token}"}
        )
        forged = resource.json()["events_url"].replace(str(other.pk), str(running.pk), 1)
        assert (await AsyncClient().get(forged)).status_code == 403

    scenario()


def test_a_clip_turning_streaming_is_announced_so_a_player_can_start(running, token):
    @async_to_sync
    async def scenario():
        reader = Reader(
            await AsyncClient().get(url(running), headers={"Authorization": f"Bearer {token}"})
        )
        await reader.event()

        def streaming():
            Clip.objects.create(generation=running, vendor_clip_id="c", state="streaming")
            from generations import events

            events.publish(running.pk, "clip.streaming")

        await sync_to_async(streaming)()
        frame = dict(line.split(": ", 1) for line in (await reader.frame()).splitlines())
        assert frame["event"] == "generation"
        assert json.loads(frame["data"])["clips"][0]["state"] == "streaming"

    scenario()


def test_a_job_on_a_clip_is_announced_and_keeps_a_finished_stream_open(alice, running, token):
    """A WAV asked for after the song finished: the generation's stream carries the clip's job
    from queued to its file landing, then ends."""

    @async_to_sync
    async def scenario():
        def finished_song_with_a_wav():
            clip = Clip.objects.create(
                generation=running,
                vendor_clip_id="c",
                state=ClipState.SUCCEEDED,
                media_state=MediaState.READY,
            )
            states.transition(
                generation_id=running.pk, expected=Status.RUNNING, to=Status.SUCCEEDED
            )
            return jobs.job_create(owner=alice, kind=JobKind.WAV, clip=clip).job

        job = await sync_to_async(finished_song_with_a_wav)()
        reader = Reader(
            await AsyncClient().get(url(running), headers={"Authorization": f"Bearer {token}"})
        )
        _, body = await reader.event()
        assert body["clips"][0]["jobs"][0]["status"] == "queued"

        def succeeded():  # as the worker does: the files with the move, in one transaction
            Job.objects.filter(pk=job.pk).update(status=Status.SUBMITTING)
            with transaction.atomic():
                jobs.job_transition(job_id=job.pk, expected=Status.SUBMITTING, to=Status.SUCCEEDED)
                JobFile.objects.create(job=job, name="wav", vendor_url="https://cdn1.suno.ai/w.wav")

        await sync_to_async(succeeded)()
        _, body = await reader.event()
        assert body["clips"][0]["jobs"][0]["status"] == "succeeded"

        def landed():
            JobFile.objects.filter(job=job).update(media_state=MediaState.READY, file="w.wav")
            jobs.job_announce(job.pk)

        await sync_to_async(landed)()
        _, body = await reader.event()
        assert body["clips"][0]["jobs"][0]["files"][0]["media"] == "ready"
        assert await reader.ended()

    scenario()
