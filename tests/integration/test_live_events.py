"""Live events at production values: the real 15 s heartbeat, a stream held through a long song.

The unit tests run the heartbeat at 0.2 s; this one catches what only shows at the real value
(redis-py's default 5 s socket timeout once ended every quiet stream mid-song).
"""

from __future__ import annotations

import json
import time

import pytest
import requests

from tests.integration.helpers import create
from tests.stack import Stack

pytestmark = pytest.mark.integration

SONG_S = 35  # the vendor takes this long: the stream stays quiet for two heartbeats and more


def read_stream(url: str) -> list[tuple[float, str]]:
    """(seconds since opening, frame) until the server ends the stream; each read bounded."""
    opened = time.monotonic()
    frames, lines = [], []
    with requests.get(url, stream=True, timeout=(5, 60)) as response:
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("text/event-stream")
        for line in response.iter_lines(decode_unicode=True):
            if line:
                lines.append(line)
            elif lines:
                frames.append((time.monotonic() - opened, "\n".join(lines)))
                lines = []
    return frames


def test_a_stream_with_the_real_heartbeat_lives_through_the_song_and_ends_with_it():
    with Stack(ready_after_s=SONG_S, env={"SSE_MAX_DURATION_S": "300"}) as stack:
        session = stack.session(stack.token())
        generation = create(session, stack.base, {"description": "a long quiet song"})
        frames = read_stream(generation["events_url"])
        heartbeats = [at for at, frame in frames if frame == ": heartbeat"]
        events = [
            (at, json.loads(frame.split("data: ", 1)[1]))
            for at, frame in frames
            if "data: " in frame
        ]
        assert len(heartbeats) >= 2, frames
        last_at, last = events[-1]
        assert last["status"] == "succeeded", frames
        assert all(clip["media"] != "pending" for clip in last["clips"])
        assert last_at > 30, f"the song ended after {last_at:.0f} s; the test needs > 30 s"
        assert "TimeoutError" not in stack.log("web")


def test_the_users_stream_with_the_real_heartbeat_follows_a_song_past_30_s():
    """The per-user stream at production values: quiet for two heartbeats and more, it stays
    open and carries the song from queued to its stored audio."""
    with Stack(ready_after_s=SONG_S, env={"SSE_MAX_DURATION_S": "300"}) as stack:
        token = stack.token()
        session = stack.session(token)
        opened = time.monotonic()
        frames, lines, generation = [], [], None
        with requests.get(
            f"{stack.base}/api/v1/events",
            headers={"Authorization": f"Bearer {token}"},
            stream=True,
            timeout=(5, 60),
        ) as response:
            assert response.status_code == 200, response.text
            for line in response.iter_lines(decode_unicode=True):
                if generation is None:  # the stream is open: now make the song
                    generation = create(session, stack.base, {"description": "a long quiet song"})
                if line:
                    lines.append(line)
                    continue
                if not lines:
                    continue
                frames.append((time.monotonic() - opened, "\n".join(lines)))
                lines = []
                if "data: " in frames[-1][1]:
                    event = json.loads(frames[-1][1].split("data: ", 1)[1])
                    song = event["data"]
                    if song["status"] == "succeeded" and all(
                        clip["media"] != "pending" for clip in song["clips"]
                    ):
                        break
                assert time.monotonic() - opened < 240, frames
        heartbeats = [at for at, frame in frames if frame == ": heartbeat"]
        events = [json.loads(f.split("data: ", 1)[1]) for _, f in frames if "data: " in f]
        assert len(heartbeats) >= 2, frames
        assert events[0]["type"] == "generation.queued"
        assert events[0]["data"]["id"] == generation["id"]
        assert frames[-1][0] > 30, f"the song ended after {frames[-1][0]:.0f} s; needs > 30 s"
        assert "TimeoutError" not in stack.log("web")
