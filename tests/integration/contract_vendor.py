"""A fake vendor written from /work/shared/upstream-contract.md alone — not our simulator.

It knows only what the contract says: `POST /api/v1/sonic/create` answers `{"message":
"success", "task_id"}`; `GET /api/v1/sonic/task/{id}` answers 202, then 200 `{"type":
"not_ready"}`, then 200 `{"code": 200, "data": [clip, clip]}` where the first clip is
`streaming` (a playable but unfinished `audio_url`) and the second still `running` with an empty
one, and at last both `succeeded`; an unknown task is a 400 `task not found.`. Its CDN serves
MP3 audio and JPEG covers with byte ranges; a streaming clip's file is the part made so far.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEY = "contract-key"
AUDIO_BYTES = 48_000  # an "MP3": an ID3 header and frames of noise, enough to seek in
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _audio(clip_id: str) -> bytes:
    seed = uuid.UUID(clip_id).bytes
    frame = b"\xff\xfb\x90\x64" + (seed * 26)[:413]
    return (b"ID3\x03\x00\x00\x00\x00\x00\x00" + frame * (AUDIO_BYTES // len(frame) + 1))[
        :AUDIO_BYTES
    ]


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 200 + b"\xff\xd9"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ContractVendor.Server

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: dict) -> None:
        self._send(status, json.dumps(payload).encode(), {"Content-Type": "application/json"})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Authorization") != f"Bearer {KEY}":
            return self._json(401, {"code": 401, "message": "Invalid authorization format."})
        if self.path != "/api/v1/sonic/create":
            return self._json(404, {"code": 404, "message": "Not Found"})
        payload = json.loads(body)
        task_id = str(uuid.uuid4())
        self.server.vendor.tasks[task_id] = (time.monotonic(), payload)
        self._json(200, {"message": "success", "task_id": task_id})

    def do_GET(self) -> None:
        if self.path.startswith("/api/v1/sonic/task/"):
            return self._task(self.path.rsplit("/", 1)[1])
        if self.path.startswith("/cdn/"):
            return self._media(self.path.removeprefix("/cdn/"))
        self._json(404, {"code": 404, "message": "Not Found"})

    do_HEAD = do_GET

    def _task(self, task_id: str) -> None:
        vendor = self.server.vendor
        if task_id not in vendor.tasks:
            return self._json(400, {"code": 400, "message": "task not found."})
        created, payload = vendor.tasks[task_id]
        progress = (time.monotonic() - created) / vendor.ready_after_s
        if progress < 0.2:
            return self._json(202, {"message": "processing"})
        if progress < 0.4:
            return self._json(200, {"type": "not_ready"})
        states = ["succeeded", "succeeded"] if progress >= 1 else ["streaming", "running"]
        clips = [vendor.clip(task_id, i, state, payload) for i, state in enumerate(states)]
        self._json(200, {"code": 200, "message": "success", "data": clips})

    def _media(self, name: str) -> None:
        clip_id, _, extension = name.partition(".")
        vendor = self.server.vendor
        vendor.media_requests.append((self.path, self.headers.get("Range")))
        if clip_id not in vendor.clip_states:
            return self._json(404, {"code": 404, "message": "Not Found"})
        if extension == "jpeg":
            content, content_type = JPEG, "image/jpeg"
        else:
            content, content_type = _audio(clip_id), "audio/mpeg"
            if vendor.clip_states[clip_id] == "streaming":
                content = content[: len(content) // 2]  # what has been made so far
        headers = {"Content-Type": content_type, "Accept-Ranges": "bytes"}
        match = RANGE.match(self.headers.get("Range", ""))
        if not match or match.groups() == ("", ""):
            return self._send(200, content, headers)
        first, last = match.groups()
        size = len(content)
        start = size - int(last) if not first else int(first)
        end = size - 1 if not first or not last else min(int(last), size - 1)
        if start >= size or start < 0 or end < start:
            return self._send(416, b"", {"Content-Range": f"bytes */{size}"})
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        self._send(206, content[start : end + 1], headers)


class ContractVendor:
    """The fake vendor on a free loopback port. `base_url` is for MUSICAPI_BASE_URL,
    `media_host` for MUSICAPI_MEDIA_HOSTS.

    :param ready_after_s: seconds from create to both clips succeeded.
    """

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        vendor: ContractVendor

    def __init__(self, ready_after_s: float = 8.0) -> None:
        self.ready_after_s = ready_after_s
        self.tasks: dict[str, tuple[float, dict]] = {}
        self.clip_states: dict[str, str] = {}
        self.media_requests: list[tuple[str, str | None]] = []
        self.server = self.Server(("127.0.0.1", 0), _Handler)
        self.server.vendor = self
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    @property
    def media_host(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def audio(self, clip_id: str, *, streaming: bool = False) -> bytes:
        content = _audio(clip_id)
        return content[: len(content) // 2] if streaming else content

    def clip(self, task_id: str, index: int, state: str, payload: dict) -> dict:
        clip_id = str(uuid.uuid5(uuid.UUID(task_id), str(index)))
        self.clip_states[clip_id] = state
        playable = state in ("streaming", "succeeded")
        media = f"http://127.0.0.1:{self.port}/cdn/{clip_id}"
        return {
            "clip_id": clip_id,
            "state": state,
            "title": "Contract song",
            "tags": "piano",
            "lyrics": "",
            "image_url": f"{media}.jpeg" if playable else "",
            "audio_url": f"{media}.mp3" if playable else "",
            "video_url": "",
            "created_at": "2026-05-18T10:00:00Z",
            "mv": payload.get("mv"),
            "gpt_description_prompt": payload.get("gpt_description_prompt"),
            "duration": 3,
        }

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
