"""`GET /api/v1/generations/{id}/events`: Server-Sent Events until the generation is done.

An async view, so an open stream holds no thread: it blocks on the generation's Redis Stream
(see `generations.events`) and wakes only when a worker publishes, or to send a heartbeat.
Each event carries the whole generation resource. `Last-Event-ID` resumes after a reconnect.
The stream ends once the generation is terminal and its clips' copies are settled.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from api.problems import CONTENT_TYPE, problem
from api.serializers.generations import GenerationSerializer
from api.signing import Grant, SignatureInvalid, grant_issue, signature_verify
from api.tokens import token_authenticate, token_live_ids
from generations import events, selectors
from generations.models import TERMINAL_STATUSES, Generation, MediaState, Status

STREAM_ID = re.compile(r"^\d+-\d+$")


def _problem(status: int, detail: str, **headers: str) -> JsonResponse:
    return JsonResponse(
        problem(status, detail), status=status, content_type=CONTENT_TYPE, headers=headers
    )


@dataclass(frozen=True)
class _Access:
    """What keeps a stream open: a live token and, for a signed link, its lifetime."""

    token_id: str
    link: Grant | None = None  # set when the stream was opened with `sig`

    @property
    def ends_at(self) -> float | None:
        return None if self.link is None else self.link.expires_at

    def grant(self) -> Grant:
        # A link holder gets links speaking for their own grant, never a renewed one.
        return self.link or grant_issue(self.token_id)

    def is_live(self) -> bool:
        if self.link is not None:
            return self.link.is_live()
        return bool(token_live_ids([self.token_id]))


def _authorize(request: HttpRequest, pk) -> tuple[Generation, _Access] | JsonResponse:
    """The caller's generation, by Bearer token or by signed `sig`; else a problem response."""
    sig = request.GET.get("sig")
    header = request.headers.get("Authorization", "")
    try:
        if sig is not None:
            link = signature_verify(sig, pk, "events")
            return Generation.objects.get(pk=pk), _Access(token_id=link.token_id, link=link)
        scheme, _, secret = header.partition(" ")
        api_token = token_authenticate(secret=secret) if scheme.lower() == "bearer" else None
        if api_token is None:
            return _problem(
                401,
                "Send a Bearer token or use the signed events_url.",
                **{"WWW-Authenticate": 'Bearer realm="api"'},
            )
        generation = selectors.generation_get(owner=api_token.user, generation_id=pk)
        return generation, _Access(token_id=api_token.pk.hex)
    except SignatureInvalid as exc:
        return _problem(403, exc.message)
    except (Generation.DoesNotExist, ValidationError):
        return _problem(404, "There is nothing here.")


class _Snapshot:
    """Serializes the current state for an event (one query per event, never a polling loop)."""

    def __init__(self, request: HttpRequest, pk, access: _Access) -> None:
        self.request, self.pk, self.access = request, pk, access

    def __call__(self) -> tuple[dict, bool]:
        generation = Generation.objects.prefetch_related("clips").get(pk=self.pk)
        context = {"request": self.request, "grant": self.access.grant()}
        body = GenerationSerializer(generation, context=context).data
        done = generation.status in TERMINAL_STATUSES and (
            generation.status != Status.SUCCEEDED
            or all(
                c.media_state != MediaState.PENDING
                for c in generation.clips.all()
                if c.state == "succeeded"
            )
        )
        return body, done


def _event(body: dict, event_id: str, name: str = "generation") -> str:
    return f"id: {event_id}\nevent: {name}\ndata: {json.dumps(body, default=str)}\n\n"


async def _stream(snapshot: _Snapshot, key: str, cursor: str | None) -> AsyncIterator[str]:
    access = snapshot.access
    # The blocking XREAD waits up to a heartbeat; redis-py 8 defaults to a 5 s socket timeout,
    # which would end every quiet stream with a TimeoutError.
    client = aioredis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=settings.SSE_HEARTBEAT_S + 10
    )
    deadline = time.monotonic() + settings.SSE_MAX_DURATION_S
    try:
        yield f"retry: {settings.SSE_RETRY_MS}\n\n"
        if cursor is None:
            latest = await client.xrevrange(key, count=1)
            cursor = latest[0][0].decode() if latest else "0-0"
            body, done = await sync_to_async(snapshot)()
            yield _event(body, cursor)
            if done:
                return
        else:
            # A reconnect after the end (EventSource retries on its own): say so and stop.
            body, done = await sync_to_async(snapshot)()
            if done:
                latest = await client.xrevrange(key, count=1)
                yield _event(body, latest[0][0].decode() if latest else cursor)
                return
        while time.monotonic() < deadline:
            # Revoked tokens, a deactivated user and an expired link end the stream within a
            # heartbeat; a stream opened with a link never outlives it.
            if not await sync_to_async(access.is_live)():
                return
            wait_s = settings.SSE_HEARTBEAT_S
            if access.ends_at is not None:
                wait_s = min(wait_s, access.ends_at - time.time())
            if wait_s <= 0:
                return
            entries = await client.xread({key: cursor}, block=max(1, int(wait_s * 1000)), count=100)
            if not entries:
                yield ": heartbeat\n\n"
                continue
            cursor = entries[0][1][-1][0].decode()
            if not await sync_to_async(access.is_live)():
                return
            body, done = await sync_to_async(snapshot)()
            yield _event(body, cursor)
            kinds = {fields.get(b"kind") for _, fields in entries[0][1]}
            if events.CLIP_STREAMING.encode() in kinds:
                yield _event(body, cursor, name=events.CLIP_STREAMING)
            if done:
                return
    finally:
        await client.aclose()


@csrf_exempt  # GET only: a POST is a 405 problem, not the CSRF page
async def generation_events(request: HttpRequest, pk):
    if request.method != "GET":
        return _problem(405, "Only GET is allowed here.", Allow="GET")
    found = await sync_to_async(_authorize)(request, pk)
    if isinstance(found, JsonResponse):
        return found
    _, access = found
    last = request.headers.get("Last-Event-ID") or request.GET.get("lastEventId")
    cursor = last if last and STREAM_ID.match(last) else None
    response = StreamingHttpResponse(
        _stream(_Snapshot(request, pk, access), events.stream_key(pk), cursor),
        content_type="text/event-stream",
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return response
