"""Drive the real ASGI application in-process, as uvicorn would, and count what it reads."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field


@dataclass
class Exchange:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    bytes_read: int = 0

    def json(self):
        return json.loads(self.body)


def call(app, method: str, path: str, *, headers=(), chunks=(), query: str = "") -> Exchange:
    """One request whose body arrives as `chunks` (an iterable of bytes, maybe endless)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *((k.encode(), v.encode()) for k, v in headers)],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    exchange = Exchange()
    source = iter(chunks)
    pending = next(source, None)

    async def receive():
        nonlocal pending
        if pending is None:
            await asyncio.sleep(3600)  # nothing more: only a disconnect would come
        await asyncio.sleep(0)  # a real server yields here; lets the timeout fire
        chunk, pending = pending, next(source, None)
        exchange.bytes_read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": pending is not None}

    async def send(message):
        if message["type"] == "http.response.start":
            exchange.status = message["status"]
            exchange.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        else:
            exchange.body += message.get("body", b"")

    asyncio.run(asyncio.wait_for(app(scope, receive, send), timeout=60))
    return exchange
