"""Request bodies are bounded before Django sees them (ASGI).

Django's ASGI handler reads the whole body into a temporary file before any view or
authentication runs, so a 200 MB body to any URL would be read (and spooled to disk) before its
401. This wrapper answers 413 from `Content-Length` without reading a byte, and reads a chunked
body only up to the cap. A chunked body under the cap is handed on with the `Content-Length` it
turned out to have: DRF treats a request without one as empty.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def _problem(status: int, detail: str, **extra: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    from api.problems import CONTENT_TYPE, problem  # needs the apps loaded; this module does not

    body = json.dumps(problem(status, detail, **extra)).encode()
    start = {
        "type": "http.response.start",
        "status": status,
        # The rest of the body stays unread, so the connection cannot be reused.
        "headers": [
            (b"content-type", CONTENT_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    }
    return start, {"type": "http.response.body", "body": body}


# Multipart headers and the form's other fields, on top of the file itself.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


def _limit(scope: Scope) -> tuple[int, str, dict[str, str]]:
    """The cap for this request, how the 413 explains it and the limit it names: uploads
    carry a file."""
    if scope.get("method") == "POST" and scope.get("path", "").rstrip("/") == "/api/v1/uploads":
        cap = settings.UPLOAD_MAX_BYTES
        return (
            cap + MULTIPART_OVERHEAD_BYTES,
            f" (an upload's file: at most {cap}, UPLOAD_MAX_BYTES)",
            {"code": "upload_refused", "limit": "UPLOAD_MAX_BYTES"},
        )
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE, "", {}


class BodyLimit:
    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit, what, named = _limit(scope)
        lengths = {v for k, v in scope.get("headers", []) if k.lower() == b"content-length"}
        if lengths:
            declared = lengths.pop()
            if lengths or not declared.isdigit() or len(declared) > 18:
                return await self._refuse(send, 400, "Content-Length is not valid.")
            if int(declared) > limit:
                return await self._refuse(
                    send, 413, f"The body must be at most {limit} bytes{what}.", **named
                )
            return await self.app(scope, receive, send)
        # No Content-Length: chunked (or no body at all). Read at most limit + 1 bytes.
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                return await self._refuse(
                    send, 413, f"The body must be at most {limit} bytes{what}.", **named
                )
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"transfer-encoding"]
            scope = {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()  # after the body: only the disconnect is left
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send: Send, status: int, detail: str, **extra: Any) -> None:
        start, body = _problem(status, detail, **extra)
        await send(start)
        await send(body)
