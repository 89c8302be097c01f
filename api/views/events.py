"""`GET /api/v1/generations/{id}/events`: Server-Sent Events until the generation is done.

An async view, so an open stream holds no thread and no Redis connection: it waits on this
process's event hub (`api.eventhub`), and wakes only when a worker publishes, or to send a
heartbeat. At most SSE_MAX_STREAMS_PER_USER streams per user (429).
Each event carries the whole generation resource. `Last-Event-ID` resumes after a reconnect.
The stream ends once the generation is terminal and its clips' copies are settled.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from api import eventhub
from api.problems import CONTENT_TYPE, problem
from api.serializers.generations import GenerationSerializer
from api.signing import Grant, SignatureInvalid, grant_issue, signature_verify
from api.tokens import token_authenticate
from generations import events, selectors
from generations.models import TERMINAL_STATUSES, Generation, MediaState, Status

STREAM_ID = re.compile(r"\d{1,20}-\d{1,20}")


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
        generation = Generation.objects.prefetch_related(
            "clips", *(f"clips__{name}" for name in selectors.CLIP_JOBS)
        ).get(pk=self.pk)
        context = {"request": self.request, "grant": self.access.grant()}
        body = GenerationSerializer(generation, context=context).data
        clips = generation.clips.all()
        done = generation.status in TERMINAL_STATUSES and (
            generation.status != Status.SUCCEEDED
            or all(c.media_state != MediaState.PENDING for c in clips if c.state == "succeeded")
        )
        # A job on one of its clips (a WAV, stems) keeps the stream open until its files land.
        jobs_settled = all(
            job.status in TERMINAL_STATUSES
            and all(f.media_state != MediaState.PENDING for f in job.files.all())
            for clip in clips
            for job in clip.jobs.all()
        )
        return body, done and jobs_settled


def _event(body: dict, event_id: str) -> str:
    return f"id: {event_id}\nevent: generation\ndata: {json.dumps(body, default=str)}\n\n"


async def _stream(
    snapshot: _Snapshot, sub: eventhub.Subscription, last: str | None
) -> AsyncIterator[str]:
    hub, access = eventhub.hub(), snapshot.access
    deadline = time.monotonic() + settings.SSE_MAX_DURATION_S
    try:
        yield f"retry: {settings.SSE_RETRY_MS}\n\n"
        latest = await hub.redis.xrevrange(events.stream_key(snapshot.pk), count=1)
        sent = latest[0][0].decode() if latest else "0-0"
        body, done = await eventhub.run_db(snapshot)
        # A resume that has seen the latest event gets nothing new; any other id (malformed,
        # unknown, out of range) starts from the current state. The last state always goes out.
        if last != sent or done:
            yield _event(body, sent)
        while not done and not sub.closed and time.monotonic() < deadline:
            # A stream opened with a link never outlives it; the hub's sweeper closes streams
            # of revoked or expired tokens and deactivated users within a heartbeat.
            wait_s = settings.SSE_HEARTBEAT_S
            if access.ends_at is not None:
                wait_s = min(wait_s, access.ends_at - time.time())
            if wait_s <= 0:
                return
            event_id = (await sub.changes(wait_s)).get(str(snapshot.pk))
            if sub.closed:
                return
            if event_id is None:
                yield ": heartbeat\n\n"
            elif eventhub.id_key(event_id) > eventhub.id_key(sent):
                body, done = await eventhub.run_db(snapshot)
                yield _event(body, event_id)
                sent = event_id
    finally:
        hub.release(sub)


@csrf_exempt  # GET only: a POST is a 405 problem, not the CSRF page
async def generation_events(request: HttpRequest, pk):
    if request.method != "GET":
        return _problem(405, "Only GET is allowed here.", Allow="GET")
    found = await eventhub.run_db(_authorize, request, pk)
    if isinstance(found, JsonResponse):
        return found
    generation, access = found
    sub = await eventhub.hub().subscribe(str(pk), access.token_id, user_id=generation.owner_id)
    if sub is None:
        return _problem(
            429,
            f"At most {settings.SSE_MAX_STREAMS_PER_USER} live streams at once; close one.",
            **{"Retry-After": str(int(settings.SSE_HEARTBEAT_S))},
        )
    last = request.headers.get("Last-Event-ID") or request.GET.get("lastEventId")
    response = StreamingHttpResponse(
        _stream(
            _Snapshot(request, pk, access),
            sub,
            last if last and STREAM_ID.fullmatch(last) else None,
        ),
        content_type="text/event-stream",
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return response
