"""Django's ASGI handler, except that live event streams share a few threads.

Django runs the sync steps of each request (sync-only middleware such as WhiteNoise puts most of
the chain there, and MiddlewareMixin's hooks run on it too) on a thread of the request's own,
which lives as long as the request. For an SSE stream that is its whole life: 10,000 open
streams were 10,000 idle threads, most of the web process's memory, and each one's steps waited
on the others for the GIL. A stream's sync steps run only when it opens and when it closes, so
streams share STREAM_THREADS threads instead (each runs one request's steps at a time).
"""

from __future__ import annotations

import itertools
import re
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.core.handlers.asgi import ASGIHandler

STREAM_THREADS = 2
# GET /api/v1/events and GET /api/v1/generations/{id}/events (api/urls.py).
STREAM_PATH = re.compile(r"/api/v1/(?:generations/[^/]+/)?events")


class StreamSharingASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self._stream_threads = itertools.cycle(
            [
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="stream-sync")
                for _ in range(STREAM_THREADS)
            ]
        )

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and STREAM_PATH.fullmatch(scope.get("path", "")):
            async with ThreadSensitiveContext(executor=next(self._stream_threads)):
                await self.handle(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
