"""Reading Server-Sent Events from a streaming response in tests, every wait bounded."""

from __future__ import annotations

import asyncio
import json

TIMEOUT_S = 10


class Reader:
    """Reads SSE frames from a streaming response, bounded by a timeout."""

    def __init__(self, response) -> None:
        self.chunks = response.streaming_content.__aiter__()
        self.buffer = ""

    async def frame(self) -> str:
        while "\n\n" not in self.buffer:
            chunk = await asyncio.wait_for(self.chunks.__anext__(), TIMEOUT_S)
            self.buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        frame, self.buffer = self.buffer.split("\n\n", 1)
        return frame

    async def event(self) -> tuple[str, dict]:
        while True:
            frame = await self.frame()
            if frame.startswith("id:"):
                lines = dict(line.split(": ", 1) for line in frame.splitlines())
                return lines["id"], json.loads(lines["data"])

    async def ended(self) -> bool:
        try:
            await asyncio.wait_for(self.chunks.__anext__(), TIMEOUT_S)
        except StopAsyncIteration:
            return True
        return False

    async def ends_within(self, timeout_s: float = 30) -> bool:
        """Reads on (heartbeats included) until the stream ends; False if it is still open."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            try:
                await asyncio.wait_for(self.chunks.__anext__(), deadline - loop.time())
            except StopAsyncIteration:
                return True
            except TimeoutError:
                return False
        return False
