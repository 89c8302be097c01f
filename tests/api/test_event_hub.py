"""The event hub: one Redis reader and a few threads per process however many streams are
open, a cap of streams per user, bounded backlogs, and resume ids that are checked."""

from __future__ import annotations

import asyncio
import gc
import threading

import pytest
import redis
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings as django_settings
from django.test import AsyncClient

from api import eventhub
from api.tokens import token_create
from config import asgi
from config.asgi import application
from config.streams import STREAM_THREADS
from generations import events
from generations.models import Status
from tests.api.sse import Reader

pytestmark = pytest.mark.django_db(transaction=True)

STREAMS = 20


@pytest.fixture(autouse=True)
def _fast_heartbeat(settings):
    settings.SSE_HEARTBEAT_S = 0.2


@pytest.fixture
def auth(alice):
    return {"Authorization": f"Bearer {token_create(user=alice, name='hub').secret}"}


@pytest.fixture
def running(alice, generation_factory):
    return generation_factory(owner=alice, status=Status.RUNNING, vendor_task_id="t")


def url(generation) -> str:
    return f"/api/v1/generations/{generation.pk}/events"


def hub_connections() -> int:
    """The event hubs' connections on the Redis server (this test's own client not counted)."""
    with redis.Redis.from_url(django_settings.REDIS_URL) as client:
        return sum(1 for c in client.client_list() if c["name"] == eventhub.CLIENT_NAME)


def test_many_streams_share_one_reader_and_a_few_threads(alice, auth, generation_factory, settings):
    settings.SSE_MAX_STREAMS_PER_USER = STREAMS
    generations = [
        generation_factory(owner=alice, status=Status.RUNNING, vendor_task_id=f"t{i}")
        for i in range(STREAMS)
    ]

    @async_to_sync
    async def scenario():
        readers = []
        for generation in generations[:1]:  # the hub starts with the first stream
            readers.append(Reader(await AsyncClient().get(url(generation), headers=auth)))
            await readers[-1].event()
        clients, threads = await sync_to_async(hub_connections)(), threading.active_count()
        for generation in generations[1:]:
            readers.append(Reader(await AsyncClient().get(url(generation), headers=auth)))
            await readers[-1].event()
        # The hub's pool may open up to its bound (the reader holds one of them), never more.
        added = await sync_to_async(hub_connections)() - clients
        assert added <= settings.SSE_REDIS_CONNECTIONS - 1
        assert threading.active_count() - threads <= settings.SSE_DB_THREADS
        for generation in generations:
            await sync_to_async(events.publish)(generation.pk, "generation.running")
        for generation, reader in zip(generations, readers, strict=True):
            _, body = await reader.event()
            assert body["id"] == str(generation.pk)
        for reader in readers:
            await reader.chunks.aclose()

    scenario()


def test_over_the_cap_of_streams_per_user_is_429_until_one_closes(running, auth, settings):
    settings.SSE_MAX_STREAMS_PER_USER = 2

    @async_to_sync
    async def scenario():
        open_ = [Reader(await AsyncClient().get(url(running), headers=auth)) for _ in range(2)]
        for reader in open_:
            await reader.event()
        refused = await AsyncClient().get(url(running), headers=auth)
        assert refused.status_code == 429
        assert refused["Content-Type"] == "application/problem+json"
        assert int(refused["Retry-After"]) >= 0
        await open_[0].chunks.aclose()
        for _ in range(100):  # the place is freed in the background: poll, bounded
            again = await AsyncClient().get(url(running), headers=auth)
            if again.status_code == 200:
                await Reader(again).event()
                break
        else:
            raise AssertionError("closing a stream did not free its place")

    scenario()


@pytest.mark.parametrize(
    "last_event_id",
    ["evt_1\n", "abc", "1-2", "evt_-1", "evt_99999999999999999999999", "evt_922337203685477"],
)
def test_a_malformed_or_unknown_last_event_id_starts_from_the_current_state(
    running, auth, last_event_id
):
    @async_to_sync
    async def scenario():
        response = await AsyncClient().get(
            url(running), headers={**auth, "Last-Event-ID": last_event_id}
        )
        assert response.status_code == 200
        _, body = await Reader(response).event()
        assert body["status"] == "running"

    scenario()


def test_a_stream_that_falls_too_far_behind_is_ended(settings):
    settings.SSE_SUBSCRIPTION_MAX_PENDING = 3
    sub = eventhub.Subscription("topic", "token", user_id=1)
    for n in range(3):
        sub.deliver(f"g{n}", n)
    sub.deliver("g0", 9)  # the same generation again only replaces its id
    assert not sub.closed and sub.pending["g0"] == (9, "")
    sub.deliver("g3", 10)
    assert sub.closed


async def _open_through_the_asgi_application(path: str, secret: str):
    """A stream opened as uvicorn opens it (config.asgi.application, not the test client):
    (the task serving it, a queue of what it sends, an event that disconnects it)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {secret}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent: asyncio.Queue = asyncio.Queue()
    gone, asked = asyncio.Event(), False

    async def receive():
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    task = asyncio.create_task(application(scope, receive, sent.put))
    return task, sent, gone


def test_streams_served_by_the_asgi_application_hold_no_thread_each(alice, settings):
    # Django gives each request a thread of its own for its sync middleware, for as long as the
    # request lasts: a stream's whole life. Streams share config.streams.STREAM_THREADS.
    settings.SSE_MAX_STREAMS_PER_USER = STREAMS
    secret = token_create(user=alice, name="asgi").secret

    async def scenario():
        threads = threading.active_count()
        streams = []
        for _ in range(STREAMS):
            streams.append(await _open_through_the_asgi_application("/api/v1/events", secret))
            _, sent, _ = streams[-1]
            start = await asyncio.wait_for(sent.get(), 10)
            assert start["status"] == 200, start
            assert (await asyncio.wait_for(sent.get(), 10))["body"].startswith(b"retry:")
        added = threading.active_count() - threads
        for _task, _, gone in streams:
            gone.set()
        await asyncio.wait_for(asyncio.gather(*(task for task, _, _ in streams)), 10)
        return added

    # Its own loop, as uvicorn's (async_to_sync would lend the middleware this test's thread).
    assert asyncio.run(scenario()) <= settings.SSE_DB_THREADS + STREAM_THREADS


def test_the_leases_of_a_users_streams_are_renewed_in_one_command(alice, auth, running, settings):
    settings.SSE_MAX_STREAMS_PER_USER = STREAMS

    @async_to_sync
    async def scenario():
        readers = []
        for _ in range(STREAMS):
            readers.append(Reader(await AsyncClient().get(url(running), headers=auth)))
            await readers[-1].event()
        hub = eventhub.hub()
        key = f"mg:sse:user:{alice.pk}"
        before = dict(await hub.redis.zrange(key, 0, -1, withscores=True))
        sent = []
        real = hub.redis.pipeline

        def counting_pipeline(**kwargs):
            pipe = real(**kwargs)
            real_zadd = pipe.zadd
            pipe.zadd = lambda *args, **kw: sent.append(args[0]) or real_zadd(*args, **kw)
            return pipe

        hub.redis.pipeline = counting_pipeline
        try:
            await hub._renew_leases(hub.subscriptions)
        finally:
            del hub.redis.pipeline
        after = dict(await hub.redis.zrange(key, 0, -1, withscores=True))
        for reader in readers:
            await reader.chunks.aclose()
        return sent, before, after

    sent, before, after = scenario()
    assert sent == [f"mg:sse:user:{alice.pk}"]
    assert len(after) == STREAMS and all(after[lease] >= before[lease] for lease in before)


async def ends(reader: Reader) -> bool:
    """The stream ends within a few frames (a heartbeat already on its way may come first)."""
    for _ in range(3):
        if await reader.ended():
            return True
    return False


def test_a_stopping_process_ends_every_stream_and_each_new_one_after_its_state(
    alice, running, auth
):
    events.publish(running.pk, "generation.running")  # what the user's stream starts with

    @async_to_sync
    async def scenario():
        streams = [
            Reader(await AsyncClient().get(url(running), headers=auth)),
            Reader(await AsyncClient().get("/api/v1/events", headers=auth)),
        ]
        for reader in streams:
            await reader.event()
        eventhub.hub().close_all()
        for reader in streams:
            assert await ends(reader)
        late = Reader(await AsyncClient().get(url(running), headers=auth))
        _, body = await late.event()
        assert body["status"] == "running"
        assert await ends(late)

    scenario()


def test_the_web_process_keeps_full_garbage_collections_rare():
    # Each walks every object: with 10,000 streams open, 1.2-1.6 s with nothing else running.
    assert gc.get_freeze_count() > 0  # start-up's objects are out of every collection
    assert gc.get_threshold() == asgi.GC_THRESHOLDS
    assert asgi.GC_THRESHOLDS[0] >= 10_000


def test_a_waiting_stream_holds_no_task_of_its_own():
    # 10,000 streams wait at once: each object a wait holds is one more for the collector.
    async def scenario():
        subs = [eventhub.Subscription(f"g{n}", "token", user_id=1) for n in range(STREAMS)]
        tasks = asyncio.all_tasks()
        waits = [asyncio.ensure_future(sub.changes(10)) for sub in subs]
        await asyncio.sleep(0)  # every wait has begun
        added = len(asyncio.all_tasks() - tasks) - len(waits)
        subs[0].deliver("g0", 7, "generation.running")
        assert await asyncio.wait_for(waits[0], 5) == {"g0": (7, "generation.running")}
        subs[1].close()
        assert await asyncio.wait_for(waits[1], 5) == {}
        for wait in waits[2:]:
            wait.cancel()
        return added

    assert asyncio.run(scenario()) == 0
