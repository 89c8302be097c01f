"""Stream-through: a clip's media served from the vendor's URL until our copy lands.

The vendor's URL never reaches the client. It is fetched through `egress` under the same
MUSICAPI_MEDIA_HOSTS policy as the copy worker (strict parsing, pinned DNS, verified peer,
checked redirects), one single `Range` is forwarded, and the bytes are passed on as they
arrive, capped like a copy. Under ASGI the vendor is read with the async client on the
server's event loop, so a listener holds no thread; under WSGI with the blocking client.

A vendor stream that breaks off ends our response early (its Content-Length tells the player
it is short); the next request starts afresh. Nothing here writes to the database.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, ExitStack

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse

from api.problems import CONTENT_TYPE, problem
from api.ranges import MEDIA_HEADERS, RANGE, number
from egress import (
    AsyncEgressClient,
    EgressClient,
    EgressError,
    EgressPolicy,
    EgressRefused,
    parse_url,
)
from generations.media import ALLOWED_TYPES, media_cap

logger = logging.getLogger(__name__)

PASSED_ON = ("Content-Length", "Content-Range")
UNAVAILABLE = "The audio is not available from the music service right now; try again shortly."


@functools.lru_cache(maxsize=4)
def _policy(hosts: tuple[str, ...]) -> EgressPolicy:
    return EgressPolicy(hosts, list_name="MUSICAPI_MEDIA_HOSTS")


def policy() -> EgressPolicy:
    return _policy(tuple(settings.MUSICAPI_MEDIA_HOSTS))


def refusal(url: str) -> str | None:
    """Why `url` may never be fetched, judged without DNS (None: it may be tried)."""
    if not url:
        return "the music service has no audio for this clip yet"
    try:
        parsed = parse_url(url)
    except EgressRefused as exc:
        return exc.reason
    rule = next((r for r in policy().rules if r.matches(parsed)), None)
    if rule is None:
        return f"host {parsed.host} is not in MUSICAPI_MEDIA_HOSTS"
    if parsed.scheme != "https" and not rule.explicit:
        return f"plain http to {parsed.host} is not allowed"
    return None


def forwarded_range(header: str) -> str | None:
    """A single `bytes=` range, normalised (huge numbers stay huge), or None to ask for all."""
    match = RANGE.match(header.strip()) if header else None
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    return "bytes=" + "-".join(str(number(n)) if n else "" for n in (first, last))


def serve(request, *, url: str, kind: str):
    """Answer GET/HEAD for `kind` ("audio", "image", "file") from the vendor's `url`."""
    reason = refusal(url)
    if reason is not None:
        logger.error("OPERATOR: vendor media URL refused, not fetched: %s", reason)
        return _problem(404, "This clip's media cannot be played.")
    headers = {}
    wanted = forwarded_range(request.headers.get("Range", ""))
    if wanted:
        headers["Range"] = wanted
    if isinstance(getattr(request, "_request", request), ASGIRequest):
        return _serve_async(request, url, headers, kind)
    return _serve_sync(request, url, headers, kind)


def _serve_sync(request, url: str, headers: dict[str, str], kind: str):
    stack = ExitStack()
    try:
        upstream = stack.enter_context(_sync_client().stream("GET", url, headers=headers))
    except EgressError as exc:
        return _unreachable(exc)
    answer = _answer(upstream.status, upstream.headers, kind)
    if isinstance(answer, JsonResponse) or request.method == "HEAD":
        stack.close()
        return answer

    def body() -> Iterator[bytes]:
        with stack:
            try:
                yield from upstream.iter_bytes(max_bytes=media_cap(kind))
            except EgressError as exc:
                logger.warning("stream-through broke off: %s", exc.reason)

    return _streaming(answer, body())


def _serve_async(request, url: str, headers: dict[str, str], kind: str):
    # The view runs in a worker thread; the vendor request runs on the server's event loop,
    # where the body will be read too.
    try:
        stack, upstream = async_to_sync(_open_async)(url, headers)
    except EgressError as exc:
        return _unreachable(exc)
    answer = _answer(upstream.status_code, upstream.headers, kind)
    if isinstance(answer, JsonResponse) or request.method == "HEAD":
        async_to_sync(stack.aclose)()
        return answer

    async def body() -> AsyncIterator[bytes]:
        async with stack:
            try:
                async for chunk in upstream.aiter_bytes(max_bytes=media_cap(kind)):
                    yield chunk
            except EgressError as exc:
                logger.warning("stream-through broke off: %s", exc.reason)

    return _streaming(answer, body())


async def _open_async(url: str, headers: dict[str, str]):
    stack = AsyncExitStack()
    try:
        upstream = await stack.enter_async_context(
            _async_client().stream("GET", url, headers=headers)
        )
    except BaseException:
        await stack.aclose()
        raise
    return stack, upstream


def _answer(status: int, upstream_headers, kind: str) -> HttpResponse | JsonResponse:
    """Our status and headers for the vendor's answer (the body comes later)."""
    if status == 416:
        response = _problem(416, "The range is outside the file.")
        if upstream_headers.get("Content-Range"):
            response["Content-Range"] = upstream_headers["Content-Range"]
        return response
    if status not in (200, 206):
        logger.warning("stream-through: the vendor answered HTTP %s", status)
        return _problem(502, UNAVAILABLE, **{"Retry-After": "5"})
    content_type = upstream_headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type not in ALLOWED_TYPES[kind]:
        logger.error("OPERATOR: vendor %s URL sent %r, not served", kind, content_type)
        return _problem(502, "The music service sent something that is not playable.")
    response = HttpResponse(status=status, content_type=content_type, headers=MEDIA_HEADERS)
    for name in PASSED_ON:
        if upstream_headers.get(name):
            response[name] = upstream_headers[name]
    if upstream_headers.get("Accept-Ranges", "").lower() == "bytes":
        response["Accept-Ranges"] = "bytes"
    # Our copy will replace this at the same URL: nothing may keep the vendor's version.
    response["Cache-Control"] = "private, no-store"
    return response


def _streaming(answer: HttpResponse, body) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        body, status=answer.status_code, content_type=answer["Content-Type"]
    )
    for name, value in answer.items():
        response[name] = value
    return response


def _unreachable(exc: EgressError) -> JsonResponse:
    if isinstance(exc, EgressRefused):
        logger.error("OPERATOR: vendor media URL refused: %s", exc.reason)
        return _problem(404, "This clip's media cannot be played.")
    logger.warning("stream-through: vendor media unreachable: %s", exc.reason)
    return _problem(502, UNAVAILABLE, **{"Retry-After": "5"})


def _problem(status: int, detail: str, **headers: str) -> JsonResponse:
    return JsonResponse(
        problem(status, detail),
        status=status,
        content_type=CONTENT_TYPE,
        headers={**MEDIA_HEADERS, **headers},
    )


@functools.lru_cache(maxsize=4)
def _sync_client_for(hosts: tuple[str, ...]) -> EgressClient:
    return EgressClient(
        _policy(hosts),
        timeout_s=settings.MEDIA_FETCH_TIMEOUT_S,
        max_redirects=settings.MEDIA_MAX_REDIRECTS,
    )


def _sync_client() -> EgressClient:
    return _sync_client_for(tuple(settings.MUSICAPI_MEDIA_HOSTS))


# One async client (and connection pool) per event loop and allow-list.
_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _async_client() -> AsyncEgressClient:
    loop = asyncio.get_running_loop()
    hosts = tuple(settings.MUSICAPI_MEDIA_HOSTS)
    per_loop = _async_clients.setdefault(loop, {})
    if hosts not in per_loop:
        per_loop[hosts] = AsyncEgressClient(
            _policy(hosts),
            timeout_s=settings.MEDIA_FETCH_TIMEOUT_S,
            max_redirects=settings.MEDIA_MAX_REDIRECTS,
        )
    return per_loop[hosts]
