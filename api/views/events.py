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

from api import eventhub, live_snapshots
from api.problems import CONTENT_TYPE, problem
from api.signing import Grant, SignatureInvalid, grant_issue, signature_verify
from api.tokens import token_authenticate, token_user_id
from generations import events, selectors
from generations.models import Generation


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


def _bearer(authorization: str) -> _Access:
    scheme, _, secret = authorization.partition(" ")
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


_DENIED = (SignatureInvalid, _Unauthorized, Generation.DoesNotExist, ValidationError)

# What a stream is opened with: (`sig` or None, the Authorization header, the generation id or
# None for the user's stream). Streams opened with the same credentials at once are checked once.
_Ask = tuple[str | None, str, str | None]


def _authorize(ask: _Ask) -> _Access | Exception:
    """Who may follow the generation (or, without one, their own stream); the exception that
    says why not otherwise."""
    sig, authorization, pk = ask
    try:
        if pk is None:
            return _authorize_user(sig, authorization)
        if sig is not None:
            link = signature_verify(sig, pk, "events")
            owner_id = Generation.objects.values_list("owner_id", flat=True).get(pk=pk)
            return _Access(link.token_id, owner_id, link)
        access = _bearer(authorization)
        if not selectors.generation_list(owner=access.user_id).filter(pk=pk).exists():
            raise Generation.DoesNotExist
        return access
    except _DENIED as exc:
        return exc


def _authorize_all(asks: list[_Ask]) -> dict[_Ask, _Access | Exception]:
    return {ask: _authorize(ask) for ask in asks}


def _authorize_user(sig: str | None, authorization: str) -> _Access:
    """The caller, by Bearer token or by the signed `events_url` of GET /me."""
    if sig is None:
        return _bearer(authorization)
    parts = sig.split(":", 1)
    user_id = token_user_id(parts[0]) if len(parts[0]) == 32 else None
    link = signature_verify(sig, user_id, "stream")
    return _Access(link.token_id, user_id, link)


async def _access(request: HttpRequest, pk=None) -> _Access | JsonResponse:
    ask = (request.GET.get("sig"), request.headers.get("Authorization", ""), pk and str(pk))
    found = await eventhub.hub().batched(_authorize_all, ask)
    return _denied(found) if isinstance(found, Exception) else found


def _frame(event_id: int | None, name: str, data: str) -> str:
    return f"id: {events.public_id(event_id or 0)}\nevent: {name}\ndata: {data}\n\n"


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
    request: HttpRequest, access: _Access, pk: str, sub: eventhub.Subscription, last: int | None
) -> AsyncIterator[str]:
    hub = eventhub.hub()
    try:
        yield f"retry: {settings.SSE_RETRY_MS}\n\n"
        state = await hub.snapshots.generation(pk)
        if state is None:  # deleted meanwhile
            return
        sent = state.latest
        # A resume that has seen the latest event gets nothing new; any other id (malformed,
        # unknown, out of range) starts from the current state. The last state always goes out.
        if last is None or last != sent or state.done:
            yield _frame(sent, "generation", state.json(request, access.grant()))
        if state.done:
            return
        async for changed in _waits(sub, access):
            event_id, _ = changed.get(pk, (None, ""))
            if event_id is None:
                if not changed:
                    yield ": heartbeat\n\n"
            elif event_id != sent:  # one that committed late is sent too: the state moved
                state = await hub.snapshots.generation(pk, event_id)
                if state is None:
                    return
                yield _frame(event_id, "generation", state.json(request, access.grant()))
                sent = event_id
                if state.done:
                    return
    finally:
        hub.release(sub)


def _resume(access: _Access, after: int | None, request: HttpRequest) -> list[tuple[int, str, str]]:
    rows = selectors.events_to_resume(owner=access.user_id, after=after)
    grant = access.grant()
    return [
        (row.pk, row.type, json.dumps(live_snapshots.envelope(row, request, grant), default=str))
        for row in rows
    ]


async def _user_stream(
    request: HttpRequest, access: _Access, sub: eventhub.Subscription, last: int | None
) -> AsyncIterator[str]:
    hub = eventhub.hub()
    sent: dict[str, int] = {}  # generation id -> the last event id sent for it
    try:
        yield f"retry: {settings.SSE_RETRY_MS}\n\n"
        for event_id, type_, data in await eventhub.run_db(_resume, access, last, request):
            sent[json.loads(data)["data"]["id"]] = event_id
            yield _frame(event_id, type_, data)
        async for changed in _waits(sub, access):
            if not changed:
                yield ": heartbeat\n\n"
            for generation_id, (event_id, _) in sorted(changed.items(), key=lambda c: c[1][0]):
                if sent.get(generation_id) == event_id:
                    continue
                state = await hub.snapshots.event(event_id)
                # Deleted meanwhile: nothing to tell. The hub routes by owner; checked again.
                if state is not None and state.event.owner_id == access.user_id:
                    sent[generation_id] = event_id
                    yield _frame(event_id, state.event.type, state.json(request, access.grant()))
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
    access = await _access(request, pk)
    if isinstance(access, JsonResponse):
        return access
    last = _last_event_id(request)
    return await _open(
        str(pk), access, lambda sub: _generation_stream(request, access, str(pk), sub, last)
    )


@csrf_exempt
async def user_events(request: HttpRequest):
    if request.method != "GET":
        return _problem(405, "Only GET is allowed here.", Allow="GET")
    access = await _access(request)
    if isinstance(access, JsonResponse):
        return access
    last, topic = _last_event_id(request), eventhub.user_topic(access.user_id)
    return await _open(topic, access, lambda sub: _user_stream(request, access, sub, last))
