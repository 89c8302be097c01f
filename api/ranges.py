"""Serving a stored file with HTTP Range, ETag and Last-Modified, streamed in chunks.

Under ASGI the body is an async iterator (Django would otherwise read a sync iterator into
memory before sending); under WSGI a plain iterator. With MEDIA_OFFLOAD set, the front proxy
sends the bytes and handles ranges itself.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils.http import http_date, parse_etags

from api.problems import CONTENT_TYPE, problem

CHUNK_BYTES = 64 * 1024
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# Past any file size; also keeps int() away from digit strings over Python's 4,300-digit limit.
HUGE = 10**18
# Media is never a page: the browser must not guess another type, nor run anything in it.
MEDIA_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


def number(digits: str) -> int:
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) < 19 else HUGE


def parse_range(header: str, size: int) -> tuple[int, int] | bool | None:
    """(start, end) inclusive; None to send the whole file; False when unsatisfiable."""
    match = RANGE.match(header.strip()) if header else None
    if not match:
        return None  # absent, multiple ranges or malformed: RFC 9110 lets us send it all
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        suffix = number(last)
        if suffix == 0:
            return False
        return max(0, size - suffix), size - 1
    start = number(first)
    end = min(number(last), size - 1) if last else size - 1
    if start >= size or (last and number(last) < start):
        return False
    return start, end


def _sync_chunks(name: str, start: int, length: int) -> Iterator[bytes]:
    if hasattr(default_storage, "bucket"):  # S3: one ranged GET, streamed
        yield from _s3_chunks(name, start, length)
        return
    with default_storage.open(name, "rb") as handle:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            data = handle.read(min(CHUNK_BYTES, remaining))
            if not data:
                return
            remaining -= len(data)
            yield data


def _s3_chunks(name: str, start: int, length: int) -> Iterator[bytes]:
    # Not storage.open(): django-storages' S3File downloads the whole object on first read.
    key = default_storage._normalize_name(name)  # the bucket key, with any location prefix
    answer = default_storage.bucket.Object(key).get(Range=f"bytes={start}-{start + length - 1}")
    body = answer["Body"]
    try:
        yield from body.iter_chunks(CHUNK_BYTES)
    finally:
        body.close()


async def _async_chunks(name: str, start: int, length: int) -> AsyncIterator[bytes]:
    chunks = _sync_chunks(name, start, length)
    read = sync_to_async(next, thread_sensitive=False)
    try:
        while (data := await read(chunks, None)) is not None:
            yield data
    finally:
        await sync_to_async(chunks.close, thread_sensitive=False)()


def serve(
    request, *, name: str, content_type: str, sha256: str, modified: datetime, redirect: bool = True
):
    """Answer GET/HEAD for a stored file: 200, 206, 304 or 416 (or 302 to object storage,
    unless `redirect` is False)."""
    if redirect and settings.MEDIA_STORAGE == "s3" and settings.MEDIA_S3_SERVE == "redirect":
        return _presigned_redirect(name, content_type)
    size = default_storage.size(name)
    etag = f'"{sha256}"'
    headers = {
        **MEDIA_HEADERS,
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Last-Modified": http_date(modified.timestamp()),
        "Cache-Control": "private, max-age=3600",
    }
    if etag in parse_etags(request.headers.get("If-None-Match", "")):
        return HttpResponse(status=304, headers=headers)
    wanted = parse_range(request.headers.get("Range", ""), size)
    if wanted is False:
        body = problem(416, f"The range is outside the file's {size} bytes.")
        response = JsonResponse(body, status=416, content_type=CONTENT_TYPE, headers=headers)
        response["Content-Range"] = f"bytes */{size}"
        return response
    if settings.MEDIA_OFFLOAD:
        return _offload(name, content_type, headers)
    start, end = wanted if wanted else (0, size - 1)
    length = end - start + 1
    status = 206 if wanted else 200
    headers["Content-Length"] = str(length)
    if wanted:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    if request.method == "HEAD":
        return HttpResponse(status=status, content_type=content_type, headers=headers)
    asynchronous = isinstance(getattr(request, "_request", request), ASGIRequest)
    chunks = _async_chunks if asynchronous else _sync_chunks
    return StreamingHttpResponse(
        chunks(name, start, length), status=status, content_type=content_type, headers=headers
    )


def _presigned_redirect(name: str, content_type: str) -> HttpResponse:
    """To a short-lived presigned URL: the object store answers Range, ETag and the bytes."""
    url = default_storage.url(name, parameters={"ResponseContentType": content_type})
    headers = {**MEDIA_HEADERS, "Location": url, "Cache-Control": "private, no-store"}
    return HttpResponse(status=302, headers=headers)


def _offload(name: str, content_type: str, headers: dict[str, str]) -> HttpResponse:
    response = HttpResponse(content_type=content_type, headers=headers)
    if settings.MEDIA_OFFLOAD == "nginx":
        response["X-Accel-Redirect"] = settings.MEDIA_ACCEL_PREFIX.rstrip("/") + "/" + name
    else:
        response["X-Sendfile"] = default_storage.path(name)
    return response
