"""Jobs through the whole service as real processes (web + workers + media workers + Redis + the
simulator over HTTP): a song's WAV, stems and lyrics timeline, and lyrics drafts, from the 202
to the file played back through its signed URL; one vendor call each; the quota settled."""

from __future__ import annotations

import time
import wave
from io import BytesIO

import pytest
import requests

from tests.integration.helpers import create, wait_terminal
from tests.stack import Stack, wait_for

pytestmark = pytest.mark.integration

TERMINAL = {"succeeded", "failed"}


def wait_jobs(session, base: str, ids: list[str], timeout_s: float, settled_files=True) -> dict:
    """Poll our own API (bounded) until every job is terminal and its files are copied."""
    deadline = time.monotonic() + timeout_s
    current: dict = {}
    while time.monotonic() < deadline:
        current = {j: session.get(f"{base}/api/v1/jobs/{j}", timeout=10).json() for j in ids}
        done = all(
            job["status"] in TERMINAL
            and (not settled_files or all(f["media"] != "pending" for f in job["files"]))
            for job in current.values()
        )
        if done:
            return current
        time.sleep(0.3)
    raise AssertionError(f"jobs not done after {timeout_s} s: {current}")


def vendor_calls(stack, suffix: str) -> list[dict]:
    calls = stack.simulator("calls")["calls"]
    return [c for c in calls if c["path"].endswith(suffix) and c["status"] == 200]


def song(session, base, payload) -> dict:
    generation = create(session, base, payload)
    final = wait_terminal(session, base, [generation["id"]], timeout_s=60)[generation["id"]]
    assert final["status"] == "succeeded", final
    return final["clips"][0]


def test_wav_stems_timeline_and_lyrics_end_to_end():
    # Four jobs at once: more than the default plan's three in flight.
    with Stack(ready_after_s=1.0, env={"DEFAULT_PLAN_MAX_IN_FLIGHT": "6"}) as stack:
        session = stack.session(stack.token())
        base = stack.base
        clip = song(session, base, {"mode": "custom", "tags": "pop", "lyrics": "[Verse]\nla la"})
        posts = [
            (f"/clips/{clip['id']}/wav", None),
            (f"/clips/{clip['id']}/stems", {"tracks": "full"}),
            (f"/clips/{clip['id']}/lyrics-timeline", None),
            ("/lyrics", {"description": "a song about sky"}),
        ]
        ids = []
        for path, body in posts:
            response = session.post(f"{base}/api/v1{path}", json=body, timeout=10)
            assert response.status_code == 202, response.text
            ids.append(response.json()["id"])
        wav, stems, timeline, lyrics = (wait_jobs(session, base, ids, 90)[j] for j in ids)
        assert [j["status"] for j in (wav, stems, timeline, lyrics)] == ["succeeded"] * 4

        played = requests.get(wav["files"][0]["url"], timeout=10)  # no token: the signed URL
        assert played.status_code == 200 and played.headers["Content-Type"] == "audio/wav"
        with wave.open(BytesIO(played.content)) as audio:
            assert audio.getnframes() > 0
        part = requests.get(wav["files"][0]["url"], headers={"Range": "bytes=0-3"}, timeout=10)
        assert part.status_code == 206 and part.content == b"RIFF"
        assert len(stems["files"]) == 12 and all(f["media"] == "ready" for f in stems["files"])
        assert [s["text"] for s in timeline["segments"]] == ["[Verse]", "la la"]
        assert len(lyrics["drafts"]) == 2

        on_clip = session.get(f"{base}/api/v1/clips/{clip['id']}", timeout=10).json()["jobs"]
        assert {j["id"] for j in on_clip} == set(ids[:3])
        for suffix in ("/sonic/wav", "/sonic/stems/full", "/sonic/aligned-lyrics", "/sonic/lyrics"):
            assert len(vendor_calls(stack, suffix)) == 1, suffix
        me = session.get(f"{base}/api/v1/me", timeout=10).json()
        # the song 15, WAV 2, full stems 75, timeline 1, lyrics 10; nothing left in flight
        assert me["usage"]["used"] == 103 and me["usage"]["in_flight"] == 0, me


def test_a_refused_wav_fails_with_the_reason_and_costs_nothing():
    with Stack(ready_after_s=1.0) as stack:
        session = stack.session(stack.token())
        clip = song(session, stack.base, {"description": "[sim:derive-refused] piano"})
        job = session.post(f"{stack.base}/api/v1/clips/{clip['id']}/wav", timeout=10).json()
        final = wait_jobs(session, stack.base, [job["id"]], 60)[job["id"]]
        assert final["error"]["code"] == "rejected"
        assert "copyrighted content" in final["error"]["detail"]
        me = session.get(f"{stack.base}/api/v1/me", timeout=10).json()
        assert me["usage"]["used"] == 15 and me["usage"]["in_flight"] == 0  # the song only


def test_a_wav_call_left_unanswered_at_the_production_timeout_is_charged_once():
    """The twin, at the production read timeout (30 s), of the unit tests that shorten it: the
    vendor makes the WAV but answers after 35 s; the job is unconfirmed, charged, never re-sent."""
    with Stack(ready_after_s=1.0) as stack:
        session = stack.session(stack.token())
        clip = song(session, stack.base, {"description": "piano"})
        stack.configure_simulator(faults={"hang": 1.0, "hang_s": 35})
        job = session.post(f"{stack.base}/api/v1/clips/{clip['id']}/wav", timeout=10).json()
        final = wait_jobs(session, stack.base, [job["id"]], 90)[job["id"]]
        assert final["error"]["code"] == "unconfirmed"
        # The vendor's answer comes after the client gave up: then the call log has it.
        wait_for(lambda: vendor_calls(stack, "/sonic/wav"), 15, "the WAV call's late answer")
        assert len(vendor_calls(stack, "/sonic/wav")) == 1
        me = session.get(f"{stack.base}/api/v1/me", timeout=10).json()
        assert me["usage"]["used"] == 15 + 2 and me["usage"]["in_flight"] == 0  # song, WAV
