"""Server-Sent Events: `GET /api/v1/generations/{id}/events` (one generation, until it is done)
and `GET /api/v1/events` (all of the caller's generations, new ones included).

Async views, so an open stream holds no thread and no Redis connection: it waits on this
process's event hub (`api.eventhub`), and wakes only when a worker publishes, or to send a
heartbeat. At most SSE_MAX_STREAMS_PER_USER streams per user, of both kinds together (429).
Event ids are the event log's (`evt_<n>`, the ids webhooks carry); `Last-Event-ID` resumes from
the log, and an id that is malformed or unknown starts from the current state, never an error.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from api import eventhub
from api.problems import CONTENT_TYPE, problem
from api.serializers.generations import GenerationSerializer
from api.signing import Grant, SignatureInvalid, grant_issue, signature_verify
from api.tokens import token_authenticate, token_user_id
from generations import events, selectors
from generations.models import TERMINAL_STATUSES, Event, Generation, MediaState, Status


def _problem(status: int, detail: str, **headers: str) -> JsonResponse:
    return JsonResponse(
        problem(status, detail), status=status, content_type=CONTENT_TYPE, headers=headers
    )


@dataclass(frozen=True)
class _Access:
    """What keeps a stream open: a live token and, for a signed link, its lifetime."""

    token_id: str
    user_id: object
    link: Grant | None = None  # set when the stream was opened with `sig`

    @property
    def ends_at(self) -> float | None:
        return None if self.link is None else self.link.expires_at

    def grant(self) -> Grant:
        # A link holder gets links speaking for their own grant, never a renewed one.
        return self.link or grant_issue(self.token_id)


class _Unauthorized(Exception):
    pass


def _bearer(request: HttpRequest) -> _Access:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    api_token = token_authenticate(secret=secret) if scheme.lower() == "bearer" else None
    if api_token is None:
        raise _Unauthorized
    return _Access(token_id=api_token.pk.hex, user_id=api_token.user_id)


def _denied(exc: Exception) -> JsonResponse:
    if isinstance(exc, SignatureInvalid):
        return _problem(403, exc.message)
    if isinstance(exc, _Unauthorized):
        return _problem(
            401,
            "Send a Bearer token or use the signed events_url.",
            **{"WWW-Authenticate": 'Bearer realm="api"'},
        )
    return _problem(404, "There is nothing here.")


def _authorize_generation(request: HttpRequest, pk) -> tuple[Generation, _Access] | JsonResponse:
    """The caller's generation, by Bearer token or by signed `sig`; else a problem response."""
    sig = request.GET.get("sig")
    try:
        if sig is not None:
            link = signature_verify(sig, pk, "events")
            generation = Generation.objects.get(pk=pk)
            return generation, _Access(link.token_id, generation.owner_id, link)
        access = _bearer(request)
        return selectors.generation_get(owner=access.user_id, generation_id=pk), access
    except (SignatureInvalid, _Unauthorized, Generation.DoesNotExist, ValidationError) as exc:
        return _denied(exc)


def _authorize_user(request: HttpRequest) -> _Access | JsonResponse:
    """The caller, by Bearer token or by the signed `events_url` of GET /me."""
    sig = request.GET.get("sig")
    try:
        if sig is None:
            return _bearer(request)
        parts = sig.split(":", 1)
        user_id = token_user_id(parts[0]) if len(parts[0]) == 32 else None
        link = signature_verify(sig, user_id, "stream")
        return _Access(link.token_id, user_id, link)
    except (SignatureInvalid, _Unauthorized, ValidationError) as exc:
        return _denied(exc)


def _is_done(generation: Generation) -> bool:
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


def _frame(event_id: int | None, name: str, body: dict) -> str:
    data = json.dumps(body, default=str)
    return f"id: {events.public_id(event_id or 0)}\nevent: {name}\ndata: {data}\n\n"


class _Snapshot:
    """Serializes the current state for an event (queries per event, never a polling loop)."""

    def __init__(self, request: HttpRequest, access: _Access) -> None:
        self.request, self.access = request, access

    def generation(self, generation: Generation) -> dict:
        context = {"request": self.request, "grant": self.access.grant()}
        return GenerationSerializer(generation, context=context).data

    def of(self, pk) -> tuple[dict, bool, int | None]:
        """(the generation now, whether it is done, the id of its latest event)"""
        generation = Generation.objects.prefetch_related(
            "clips", *(f"clips__{name}" for name in selectors.CLIP_JOBS)
        ).get(pk=pk)
        latest = selectors.event_latest_id(generation_id=pk)
        return self.generation(generation), _is_done(generation), latest

    def envelope(self, event: Event) -> dict:
        """The payload webhooks carry too: {id, type, timestamp, clip, data: the generation now}."""
        return {
            "id": event.public_id,
            "type": event.type,
            "timestamp": event.created_at.isoformat(),
            "clip": str(event.clip_id) if event.clip_id else None,
            "data": self.generation(event.generation),
        }

    def event(self, event_id: int) -> dict | None:
        event = selectors.event_with_generation(event_id=event_id, owner=self.access.user_id)
        return None if event is None else self.envelope(event)

    def resume(self, after: int | None) -> list[tuple[int, dict]]:
        rows = selectors.events_to_resume(owner=self.access.user_id, after=after)
        return [(row.pk, self.envelope(row)) for row in rows]


async def _waits(sub: eventhub.Subscription, access: _Access) -> AsyncIterator[dict]:
    """What the hub delivers, until the stream must end; {} for each heartbeat due."""
    deadline = time.monotonic() + settings.SSE_MAX_DURATION_S
    while not sub.closed and time.monotonic() < deadline:
        # A stream opened with a link never outlives it; the hub's sweeper closes streams
        # of revoked or expired tokens and deactivated users within a heartbeat.
        wait_s = settings.SSE_HEARTBEAT_S
        if access.ends_at is not None:
            wait_s = min(wait_s, access.ends_at - time.time())
        if wait_s <= 0:
            return
        changed = await sub.changes(wait_s)
        if sub.closed:
            return
        yield changed


async def _generation_stream(
    snapshot: _Snapshot, pk, sub: eventhub.Subscription, last: int | None
) -> AsyncIterator[str]:
    hub = eventhub.hub()
    try:
        yield f"retry: {settings.SSE_RETRY_MS}\n\n"
        body, done, sent = await eventhub.run_db(snapshot.of, pk)
        # A resume that has seen the latest event gets nothing new; any other id (malformed,
        # unknown, out of range) starts from the current state. The last state always goes out.
        if last is None or last != sent or done:
            yield _frame(sent, "generation", body)
        if done:
            return
        async for changed in _waits(sub, snapshot.access):
            event_id, _ = changed.get(str(pk), (None, ""))
            if event_id is None:
                if not changed:
                    yield ": heartbeat\n\n"
            elif event_id != sent:  # one that committed late is sent too: the state moved
                body, done, _ = await eventhub.run_db(snapshot.of, pk)
                yield _frame(event_id, "generation", body)
                sent = event_id
                if done:
                    return
    finally:
        hub.release(sub)


async def _user_stream(
    snapshot: _Snapshot, sub: eventhub.Subscription, last: int | None
) -> AsyncIterator[str]:
    hub = eventhub.hub()
    sent: dict[str, int] = {}  # generation id -> the last event id sent for it
    try:
        yield f"retry: {settings.SSE_RETRY_MS}\n\n"
        for event_id, envelope in await eventhub.run_db(snapshot.resume, last):
            sent[envelope["data"]["id"]] = event_id
            yield _frame(event_id, envelope["type"], envelope)
        async for changed in _waits(sub, snapshot.access):
            if not changed:
                yield ": heartbeat\n\n"
            for generation_id, (event_id, _) in sorted(changed.items(), key=lambda c: c[1][0]):
                if sent.get(generation_id) == event_id:
                    continue
                envelope = await eventhub.run_db(snapshot.event, event_id)
                if envelope is not None:  # deleted meanwhile: nothing to tell
                    sent[generation_id] = event_id
                    yield _frame(event_id, envelope["type"], envelope)
    finally:
        hub.release(sub)


def _last_event_id(request: HttpRequest) -> int | None:
    return events.parse_id(request.headers.get("Last-Event-ID") or request.GET.get("lastEventId"))


async def _open(
    topic: str, access: _Access, stream: Callable[[eventhub.Subscription], AsyncIterator[str]]
):
    sub = await eventhub.hub().subscribe(topic, access.token_id, user_id=access.user_id)
    if sub is None:
        return _problem(
            429,
            f"At most {settings.SSE_MAX_STREAMS_PER_USER} live streams at once; close one.",
            **{"Retry-After": str(int(settings.SSE_HEARTBEAT_S))},
        )
    response = StreamingHttpResponse(stream(sub), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return response


@csrf_exempt  # GET only: a POST is a 405 problem, not the CSRF page
async def generation_events(request: HttpRequest, pk):
    if request.method != "GET":
        return _problem(405, "Only GET is allowed here.", Allow="GET")
    found = await eventhub.run_db(_authorize_generation, request, pk)
    if isinstance(found, JsonResponse):
        return found
    _, access = found
    snapshot, last = _Snapshot(request, access), _last_event_id(request)
    return await _open(str(pk), access, lambda sub: _generation_stream(snapshot, pk, sub, last))


@csrf_exempt
async def user_events(request: HttpRequest):
    if request.method != "GET":
        return _problem(405, "Only GET is allowed here.", Allow="GET")
    access = await eventhub.run_db(_authorize_user, request)
    if isinstance(access, JsonResponse):
        return access
    snapshot, last = _Snapshot(request, access), _last_event_id(request)
    topic = eventhub.user_topic(access.user_id)
    return await _open(topic, access, lambda sub: _user_stream(snapshot, sub, last))
