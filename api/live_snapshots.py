"""What live streams send, computed once per process and shared by every stream that needs it.

An event wakes every stream of its generation (and its owner's per-user streams). Each of them
used to read and serialize the generation on its own; here one load per (generation, event) is
made, in a batch with the others asked at the same time (`Batcher`), and the JSON of each state
is made once per grant and origin (the signed URLs in it speak for that grant, at that host),
so a stream opened with a signature never gets the URLs of a token holder's stream, nor one
user another's. Streams only format and write bytes.

Loads are never older than the ask: an ask joins a load only when that load has not started
yet (or when it is a load for the same event, which started after the event was published).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from django.http import HttpRequest

from api.serializers.generations import GenerationSerializer
from api.signing import Grant
from generations import selectors
from generations.models import TERMINAL_STATUSES, Event, Generation, MediaState, Status

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Batcher(Generic[K, V]):
    """Runs `load(keys) -> {key: value}` on the hub's DB threads, one call of a kind at a time.

    Every key asked while no call runs, or while one runs, goes into the next call; a key asked
    again before its call starts shares it. So there is one call per burst of asks, however
    many, and no result was read before it was asked for.
    """

    def __init__(self, load: Callable[[list[K]], dict[K, V]]) -> None:
        self.load = load
        self.calls = 0  # how many loads ran (the tests count them)
        self._queued: dict[K, asyncio.Future[V | None]] = {}
        self._running: asyncio.Task | None = None

    async def get(self, key: K) -> V | None:
        future = self._queued.get(key)
        if future is None:
            future = self._queued[key] = asyncio.get_running_loop().create_future()
            if self._running is None:
                self._start()
        # Shielded: a stream dropped while waiting must not cancel the others' answer.
        return await asyncio.shield(future)

    def _start(self) -> None:
        batch, self._queued = self._queued, {}
        self._running = asyncio.create_task(self._run(batch), name="sse-batch")

    async def _run(self, batch: dict[K, asyncio.Future[V | None]]) -> None:
        from api.eventhub import run_db  # the hub imports this module

        try:
            self.calls += 1
            found = await run_db(self.load, list(batch))
        except BaseException as exc:
            for future in batch.values():
                if not future.done():
                    future.set_exception(exc)
                    future.exception()  # retrieved: no "never retrieved" noise if all left
            if not isinstance(exc, Exception):
                raise
        else:
            for key, future in batch.items():
                if not future.done():
                    future.set_result(found.get(key))
        finally:
            self._running = None
            if self._queued:
                self._start()


def is_done(generation: Generation) -> bool:
    """Over, every clip's copy settled (when it succeeded) and every job on its clips (a WAV,
    stems) ended with its files landed: nothing more will change."""
    clips = generation.clips.all()
    done = generation.status in TERMINAL_STATUSES and (
        generation.status != Status.SUCCEEDED
        or all(c.media_state != MediaState.PENDING for c in clips if c.state == "succeeded")
    )
    jobs_settled = all(
        job.status in TERMINAL_STATUSES
        and all(f.media_state != MediaState.PENDING for f in job.files.all())
        for clip in clips
        for job in clip.jobs.all()
    )
    return done and jobs_settled


def origin(request: HttpRequest) -> str:
    """Scheme and host the signed URLs of an answer to `request` start with."""
    return request.build_absolute_uri("/")


def serialized(generation: Generation, request: HttpRequest, grant: Grant) -> dict:
    return GenerationSerializer(generation, context={"request": request, "grant": grant}).data


@dataclass
class State:
    """A generation as loaded once for an event, and its JSON per (grant, origin)."""

    generation: Generation
    latest: int | None  # the id of its latest event when loaded (the state is at least that)
    done: bool
    loaded_at: float = field(default_factory=time.monotonic)
    _json: dict[tuple[Grant, str], str] = field(default_factory=dict)

    def json(self, request: HttpRequest, grant: Grant) -> str:
        key = (grant, origin(request))
        if key not in self._json:
            self._json[key] = json.dumps(serialized(self.generation, request, grant), default=str)
        return self._json[key]


@dataclass
class EventState:
    """An event with its generation as loaded once, and its envelope's JSON per (grant, origin)."""

    event: Event
    loaded_at: float = field(default_factory=time.monotonic)
    _json: dict[tuple[Grant, str], str] = field(default_factory=dict)

    def json(self, request: HttpRequest, grant: Grant) -> str:
        """{id, type, timestamp, clip, data: the generation now}: the payload webhooks carry too."""
        key = (grant, origin(request))
        if key not in self._json:
            self._json[key] = json.dumps(envelope(self.event, request, grant), default=str)
        return self._json[key]


def envelope(event: Event, request: HttpRequest, grant: Grant) -> dict:
    return {
        "id": event.public_id,
        "type": event.type,
        "timestamp": event.created_at.isoformat(),
        "clip": str(event.clip_id) if event.clip_id else None,
        "data": serialized(event.generation, request, grant),
    }


def _load_generations(ids: list[str]) -> dict[str, tuple[Generation | None, int | None]]:
    return selectors.generations_with_latest_event(generation_ids=ids)


def _load_events(ids: list[int]) -> dict[int, Event]:
    return selectors.events_with_generations(event_ids=ids)


def _settled(future: asyncio.Future) -> bool:
    return (
        future.done()
        and not future.cancelled()
        and future.exception() is None
        and future.result() is not None
    )


class Snapshots:
    """This process's loaded states, by (generation id, event id) and by event id."""

    def __init__(self) -> None:
        self.generations: Batcher[str, tuple[Generation | None, int | None]] = Batcher(
            _load_generations
        )
        self.events: Batcher[int, Event] = Batcher(_load_events)
        self._states: dict[tuple[str, int], asyncio.Future[State | None]] = {}
        self._events: dict[int, asyncio.Future[EventState | None]] = {}

    async def generation(self, generation_id: str, event_id: int | None = None) -> State | None:
        """The generation as it is now (None once deleted); with `event_id`, at least as new as
        that event, shared with every stream that asks for the same event."""
        if event_id is None:
            return await self._load(generation_id)
        key = (generation_id, event_id)
        if key not in self._states:
            self._states[key] = self._shared(self._states, key, self._load(generation_id))
        return await asyncio.shield(self._states[key])

    async def _load(self, generation_id: str) -> State | None:
        found = await self.generations.get(generation_id)
        if found is None or found[0] is None:
            return None
        generation, latest = found
        if latest is not None:
            # Every visible change is an event: a state loaded at or after this latest event
            # is this one, and its JSON is made already (streams opening by the thousand).
            known = self._states.get((generation_id, latest))
            if known is not None and _settled(known):
                return known.result()
        state = State(generation, latest, is_done(generation))
        if latest is not None:  # what a stream woken by that event may send as it is
            future = asyncio.get_running_loop().create_future()
            future.set_result(state)
            self._states.setdefault((generation_id, latest), future)
        return state

    async def event(self, event_id: int) -> EventState | None:
        """The event with its generation now (None once deleted), shared by every stream."""
        if event_id not in self._events:
            self._events[event_id] = self._shared(
                self._events, event_id, self._load_event(event_id)
            )
        return await asyncio.shield(self._events[event_id])

    async def _load_event(self, event_id: int) -> EventState | None:
        event = await self.events.get(event_id)
        return None if event is None else EventState(event)

    @staticmethod
    def _shared(states: dict, key: Hashable, load) -> asyncio.Future:
        """A load every stream asking for `key` awaits; one that failed is forgotten at once,
        so the next ask tries again."""
        future = asyncio.ensure_future(load)

        def drop_failed(done: asyncio.Future) -> None:
            if (done.cancelled() or done.exception() is not None) and states.get(key) is done:
                del states[key]

        future.add_done_callback(drop_failed)
        return future

    def forget(self, older_than_s: float) -> None:
        """Drop states loaded more than `older_than_s` ago (a late stream loads again)."""
        before = time.monotonic() - older_than_s
        for states in (self._states, self._events):
            for key, future in list(states.items()):
                if future.done() and (
                    future.cancelled()
                    or future.exception() is not None
                    or future.result() is None
                    or future.result().loaded_at < before
                ):
                    del states[key]

    def __len__(self) -> int:
        return len(self._states) + len(self._events)
