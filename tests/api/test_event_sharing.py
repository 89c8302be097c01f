"""Streams share the work of an event: however many streams an event wakes in a process, the
generation is read once for it (and its JSON made once per grant), never once per stream; and
what is shared never carries one stream's signed URLs into another's."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.backends.utils import CursorWrapper
from django.test import AsyncClient
from django.utils import timezone
from rest_framework.test import APIClient

from api import live_snapshots
from api.live_snapshots import Batcher
from api.signing import BUCKET_S
from api.tokens import token_create
from generations import events, states
from generations.models import Event, Generation, MediaState, Status
from tests.api.sse import Reader

pytestmark = pytest.mark.django_db(transaction=True)

STREAMS = 8


@pytest.fixture(autouse=True)
def _fast_heartbeat(settings, tmp_path):
    settings.SSE_HEARTBEAT_S = 0.2
    settings.SSE_MAX_STREAMS_PER_USER = STREAMS + 2
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def issued(alice):
    return token_create(user=alice, name="sharing")


@pytest.fixture
def auth(issued):
    return {"Authorization": f"Bearer {issued.secret}"}


@pytest.fixture
def running(alice, generation_factory, clip_factory):
    generation = generation_factory(owner=alice, status=Status.RUNNING, vendor_task_id="t")
    clip = clip_factory(generation=generation, media_state=MediaState.READY)
    clip.audio_file.name = default_storage.save(f"clips/{clip.pk}.wav", ContentFile(b"RIFF"))
    clip.audio_type, clip.media_copied_at = "audio/wav", timezone.now()
    clip.save()
    return generation


class StreamQueries:
    """Counts the SELECTs on a table made by the streams' database threads (every thread, not
    only the test's connection: streams read on the hub's pool)."""

    def __init__(self, monkeypatch, table: str) -> None:
        self.table, self.counting, self.count = f'"{table}"', False, 0
        real = CursorWrapper._execute

        def counted(cursor, sql, *args):
            if (
                self.counting
                and threading.current_thread().name.startswith("sse-db")
                and sql.lstrip().upper().startswith("SELECT")
                and f"FROM {self.table}" in sql
            ):
                self.count += 1
            return real(cursor, sql, *args)

        monkeypatch.setattr(CursorWrapper, "_execute", counted)


def fail(generation):
    return sync_to_async(states.transition)(
        generation_id=generation.pk,
        expected=[Status.RUNNING],
        to=Status.FAILED,
        error_code="internal",
    )


def test_one_event_reads_its_generation_once_however_many_streams_follow_it(
    running, auth, monkeypatch
):
    queries = StreamQueries(monkeypatch, Generation._meta.db_table)

    @async_to_sync
    async def scenario():
        url = f"/api/v1/generations/{running.pk}/events"
        readers = [Reader(await AsyncClient().get(url, headers=auth)) for _ in range(STREAMS)]
        for reader in readers:
            _, body = await reader.event()
            assert body["status"] == "running"
        queries.counting = True
        await fail(running)
        for reader in readers:
            _, body = await reader.event()
            assert body["status"] == "failed"
            assert await reader.ended()
        queries.counting = False

    scenario()
    assert queries.count == 1


def test_one_event_is_read_once_for_all_of_a_users_streams(alice, running, auth, monkeypatch):
    queries = StreamQueries(monkeypatch, Event._meta.db_table)
    events.publish(running.pk, "generation.running")

    @async_to_sync
    async def scenario():
        readers = [
            Reader(await AsyncClient().get("/api/v1/events", headers=auth)) for _ in range(STREAMS)
        ]
        for reader in readers:  # each starts with what is in flight (its own read, once)
            _, body = await reader.event()
            assert body["type"] == "generation.running"
        queries.counting = True
        await fail(running)
        for reader in readers:
            _, body = await reader.event()
            assert body["type"] == "generation.failed"
            assert body["data"]["status"] == "failed"
        queries.counting = False
        for reader in readers:
            await reader.chunks.aclose()

    scenario()
    assert queries.count == 1


def test_streams_opening_one_after_another_share_the_json_of_the_same_state(
    running, auth, monkeypatch
):
    made = []
    real = live_snapshots.serialized
    monkeypatch.setattr(
        live_snapshots, "serialized", lambda *args: made.append(args[0].pk) or real(*args)
    )
    events.publish(running.pk, "generation.running")

    @async_to_sync
    async def scenario():
        url = f"/api/v1/generations/{running.pk}/events"
        for _ in range(STREAMS):  # each opens after the one before has its first frame
            reader = Reader(await AsyncClient().get(url, headers=auth))
            _, body = await reader.event()
            assert body["status"] == "running"
            await reader.chunks.aclose()

    scenario()
    assert made == [running.pk]


@pytest.mark.django_db(transaction=False)
def test_asks_made_while_a_read_runs_share_the_next_read():
    calls: list[list[int]] = []
    started, release = threading.Event(), threading.Event()

    def load(keys: list[int]) -> dict[int, int]:
        calls.append(sorted(keys))
        started.set()
        release.wait(10)
        return {key: key * 10 for key in keys}

    async def scenario():
        batcher = Batcher(load)
        first = asyncio.create_task(batcher.get(1))
        await asyncio.to_thread(started.wait, 10)
        # The first read has begun: these may not join it (it may have read already), they
        # wait for one more read together; the same key asked twice is read once.
        rest = [asyncio.create_task(batcher.get(key)) for key in (1, 2, 2, 3)]
        await asyncio.sleep(0)
        release.set()
        return await first, [await task for task in rest]

    assert asyncio.run(scenario()) == (10, [10, 20, 20, 30])
    assert calls == [[1], [1, 2, 3]]


def test_a_link_holders_stream_never_gets_the_token_holders_urls_from_a_shared_state(
    running, issued, auth, monkeypatch
):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    before = client.get(f"/api/v1/generations/{running.pk}").json()
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + BUCKET_S)  # fresh links would differ

    @async_to_sync
    async def scenario():
        own = Reader(
            await AsyncClient().get(f"/api/v1/generations/{running.pk}/events", headers=auth)
        )
        linked = Reader(await AsyncClient().get(before["events_url"]))
        for reader in (own, linked):
            await reader.event()
        await fail(running)
        _, own_body = await own.event()
        _, linked_body = await linked.event()
        return own_body, linked_body

    own_body, linked_body = scenario()
    assert linked_body["status"] == own_body["status"] == "failed"
    assert linked_body["events_url"] == before["events_url"]
    assert linked_body["clips"][0]["audio_url"] == before["clips"][0]["audio_url"]
    assert own_body["events_url"] != before["events_url"]
    assert own_body["clips"][0]["audio_url"] != before["clips"][0]["audio_url"]
