"""One Redis reader per web process, fanning live events out to every open stream.

A stream subscribes to a generation id (or to its user's topic) and then only awaits an
asyncio.Event: it holds no thread and no Redis connection. The hub's reader blocks on the
`mg:events` feed (one connection) and routes each entry to the streams of its generation and of
its owner; a sweeper ends, once per heartbeat and in one query, every stream whose token was
revoked or expired or whose user was deactivated. A subscription keeps only the latest event
id per generation (events carry the whole current state, so coalescing loses nothing), bounded
by SSE_SUBSCRIPTION_MAX_PENDING; a stream that falls further behind is ended and reconnects with
`Last-Event-ID`.

Database work of streams runs on a small shared thread pool (`run_db`), not a thread per stream,
and is shared: the hub's `snapshots` load each generation once per event for all the streams it
wakes (`api.live_snapshots`), and `batched` coalesces the same check asked by many streams at
once (opening 50 streams of one generation with one token authorizes once).

An event stream never ends by itself, and uvicorn (also as gunicorn's worker) waits for open
responses before it exits: on SIGTERM/SIGINT the hub ends every stream (`close_all`), so a
stopping process lets its clients go at once (they reconnect, with `Last-Event-ID`, to one that
stays) instead of holding the stop for the whole grace period until it is killed under them.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
import uuid
import weakref
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import redis.asyncio as aioredis
from django.conf import settings
from django.db import close_old_connections
from redis.exceptions import RedisError

from api.live_snapshots import Batcher, Snapshots
from api.tokens import token_live_ids
from generations.events import FEED_KEY

logger = logging.getLogger(__name__)

T = TypeVar("T")
CLIENT_NAME = "mg-sse-hub"
# How long a loaded state stays shared: streams opening later reuse it while no event came.
SNAPSHOTS_KEPT_S = 120
LEASES_PER_COMMAND = 1000
_executor: ThreadPoolExecutor | None = None


def _in_db_thread(fn: Callable[..., T], *args: Any) -> T:
    close_old_connections()  # what Django's request signals do for a request thread
    try:
        return fn(*args)
    finally:
        close_old_connections()


async def run_db(fn: Callable[..., T], *args: Any) -> T:
    """Run blocking ORM work for a stream on the shared pool of SSE_DB_THREADS threads."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(settings.SSE_DB_THREADS, thread_name_prefix="sse-db")
    return await asyncio.get_running_loop().run_in_executor(_executor, _in_db_thread, fn, *args)


def _live_tokens(token_ids: set[str]) -> set[str]:
    ids = sorted(token_ids)
    return set().union(*(token_live_ids(ids[i : i + 500]) for i in range(0, len(ids), 500)))


# The per-user cap: a sorted set of the user's open streams scored by lease expiry, so a
# process that dies without closing its streams frees their places within a few heartbeats.
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


def _lease_key(user_id: Any) -> str:
    return f"mg:sse:user:{user_id}"


def _lease_s() -> float:
    return 3 * settings.SSE_HEARTBEAT_S + 5


def _raise_if_cancelled() -> None:
    """redis-py may turn a cancel that lands mid-command into a connection error; a loop that
    then carries on would never end (and hang the event loop's shutdown)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class Subscription:
    """One open stream: a generation's (topic = its id) or a user's (topic = `user:<id>`)."""

    def __init__(self, topic: str, token_id: str, user_id: Any) -> None:
        self.topic, self.token_id, self.user_id = topic, token_id, user_id
        self.lease = uuid.uuid4().hex
        self.pending: dict[str, tuple[int, str]] = {}  # generation id -> latest (event id, type)
        self.closed = False
        self._waiter: asyncio.Future[None] | None = None

    def deliver(self, generation_id: str, event_id: int, type_: str = "") -> None:
        if generation_id not in self.pending and (
            len(self.pending) >= settings.SSE_SUBSCRIPTION_MAX_PENDING
        ):
            self.close()  # too far behind: the client resumes with Last-Event-ID
            return
        self.pending[generation_id] = (event_id, type_)
        self._wake()

    def close(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def changes(self, timeout_s: float) -> dict[str, tuple[int, str]]:
        """What changed since the last call, waiting up to `timeout_s` ({} on a quiet wait).

        A bare future and a timer, not `wait_for` (a task per wait): 10,000 streams wait at
        once, and every object they hold is one more for the garbage collector to walk."""
        if not self.pending and not self.closed:
            loop = asyncio.get_running_loop()
            self._waiter = loop.create_future()
            timer = loop.call_later(max(timeout_s, 0), self._wake)
            try:
                await self._waiter
            finally:
                timer.cancel()
                self._waiter = None
        changed, self.pending = self.pending, {}
        return changed


def user_topic(user_id: Any) -> str:
    return f"user:{user_id}"


class Hub:
    def __init__(self) -> None:
        self.redis = aioredis.Redis(
            connection_pool=aioredis.BlockingConnectionPool.from_url(
                settings.REDIS_URL,
                max_connections=settings.SSE_REDIS_CONNECTIONS,
                # Blocking reads wait up to a heartbeat; the socket must outlive them.
                socket_timeout=settings.SSE_HEARTBEAT_S + 10,
                timeout=30,
                client_name=CLIENT_NAME,  # tells the hub's connections apart in CLIENT LIST
            )
        )
        self.by_topic: dict[str, set[Subscription]] = defaultdict(set)
        self.cursor: str | None = None
        self._tasks: list[asyncio.Task] = []
        self._releasing: set[asyncio.Task] = set()
        self._started = asyncio.Lock()
        self._acquire = self.redis.register_script(_ACQUIRE)
        self.snapshots = Snapshots()
        self._batchers: dict[Callable, Batcher] = {}
        self.stopping = False

    async def batched(self, load: Callable[[list[Any]], dict[Any, Any]], key: Any) -> Any:
        """`load([key, ...])[key]`, run once for every stream asking the same key at once and in
        one call with the other keys asked meanwhile (see `Batcher`)."""
        if load not in self._batchers:
            self._batchers[load] = Batcher(load)
        return await self._batchers[load].get(key)

    @property
    def subscriptions(self) -> list[Subscription]:
        return [s for subs in self.by_topic.values() for s in subs]

    async def subscribe(self, topic: str, token_id: str, *, user_id: Any) -> Subscription | None:
        """Follow `topic` (a generation id or `user_topic`); every event published after this
        returns is seen.

        None when the user already has SSE_MAX_STREAMS_PER_USER streams open (any process).
        """
        sub = Subscription(topic, token_id, user_id)
        now = time.time()
        acquired = await self._acquire(
            keys=[_lease_key(user_id)],
            args=[now, settings.SSE_MAX_STREAMS_PER_USER, now + _lease_s(), sub.lease, 3600],
        )
        if not acquired:
            return None
        self.by_topic[topic].add(sub)
        if self.stopping:
            sub.close()  # it sends the current state, then ends
        async with self._started:
            if not self._tasks:
                _close_all_on_exit(self, asyncio.get_running_loop())
                latest = await self.redis.xrevrange(FEED_KEY, count=1)
                self.cursor = latest[0][0].decode() if latest else "0-0"
                self._tasks = [
                    asyncio.create_task(self._read(), name="sse-hub-reader"),
                    asyncio.create_task(self._sweep(), name="sse-hub-sweeper"),
                ]
        return sub

    def close_all(self) -> None:
        """End every open stream, and each one opened from now on after its first state: the
        process is stopping."""
        self.stopping = True
        for sub in self.subscriptions:
            sub.close()

    def release(self, sub: Subscription) -> None:
        """Stop delivering to `sub` and free its place (in the background: this runs in a
        `finally` of a stream the client may have just dropped)."""
        subs = self.by_topic.get(sub.topic)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self.by_topic[sub.topic]
        task = asyncio.create_task(self.redis.zrem(_lease_key(sub.user_id), sub.lease))
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    async def _read(self) -> None:
        block_ms = int(settings.SSE_HEARTBEAT_S * 1000)
        while True:
            _raise_if_cancelled()
            try:
                entries = await self.redis.xread({FEED_KEY: self.cursor}, block=block_ms, count=500)
            except RedisError as exc:
                _raise_if_cancelled()
                logger.warning("live events: Redis read failed, retrying: %s", exc)
                await asyncio.sleep(1)
                continue
            for _, items in entries or ():
                for raw_id, fields in items:
                    self.cursor = raw_id.decode()
                    self._route(fields)

    def _route(self, fields: dict[bytes, bytes]) -> None:
        try:
            event_id = int(fields[b"e"])
            generation_id, user_id = fields[b"g"].decode(), fields[b"u"].decode()
        except (KeyError, ValueError):  # an entry of an older release: nothing to route
            return
        type_ = fields.get(b"t", b"").decode()
        for topic in (generation_id, user_topic(user_id)):
            for sub in list(self.by_topic.get(topic, ())):
                sub.deliver(generation_id, event_id, type_)

    async def _sweep(self) -> None:
        while True:
            _raise_if_cancelled()
            await asyncio.sleep(settings.SSE_HEARTBEAT_S)
            self.snapshots.forget(older_than_s=SNAPSHOTS_KEPT_S)
            subs = self.subscriptions
            if not subs:
                continue
            try:
                live = await run_db(_live_tokens, {s.token_id for s in subs})
            except Exception:  # a database hiccup must not kill the sweeper
                logger.exception("live events: token sweep failed")
                continue
            for sub in subs:
                if sub.token_id not in live:
                    sub.close()
            await self._renew_leases(subs)

    async def _renew_leases(self, subs: list[Subscription]) -> None:
        """One ZADD per user (of up to LEASES_PER_COMMAND streams), not one per stream: the
        event loop encodes and parses every command, 10,000 of them stalled it for a while."""
        until = time.time() + _lease_s()
        by_user: dict[Any, list[str]] = defaultdict(list)
        for sub in subs:
            by_user[sub.user_id].append(sub.lease)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for user_id, leases in by_user.items():
                    for i in range(0, len(leases), LEASES_PER_COMMAND):
                        chunk = leases[i : i + LEASES_PER_COMMAND]
                        pipe.zadd(_lease_key(user_id), dict.fromkeys(chunk, until), xx=True)
                await pipe.execute()
        except RedisError as exc:
            logger.warning("live events: stream leases not renewed: %s", exc)


def _close_all_on_exit(hub: Hub, loop: asyncio.AbstractEventLoop) -> None:
    """Run `hub.close_all` on SIGTERM and SIGINT, before the server's own handler (uvicorn's, which
    then waits for open responses). Only where a server installed one: a process that would die
    of the signal is left to die of it."""
    if threading.current_thread() is not threading.main_thread():
        return  # signals reach the main thread only (tests run hubs in others)
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(signum)
        if not callable(previous):
            continue

        def on_exit(number, frame, previous=previous):
            loop.call_soon_threadsafe(hub.close_all)
            previous(number, frame)

        signal.signal(signum, on_exit)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def hub() -> Hub:
    """This process's hub (one per event loop: uvicorn runs one; tests start several)."""
    loop = asyncio.get_running_loop()
    if loop not in _hubs:
        _hubs[loop] = Hub()
    return _hubs[loop]
