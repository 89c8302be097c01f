"""What a client would check: every clip plays the moment its generation says `succeeded`
(`audio_url` answers 200 with the audio, `Range: bytes=0-99` 206 with 100 bytes), and a
`streaming` clip plays live.

Against a vendor built from the contract alone (not our simulator), with no media worker at
first, so that every byte played comes through stream-through — and the generations still finish:
copies and polls do not share a worker pool. Then as `make run` runs it, every worker pool up, so
that the same URLs are also asked while their copies land.
"""

from __future__ import annotations

import time

import pytest
import requests

from tests.integration.contract_vendor import KEY, ContractVendor
from tests.stack import Stack, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def vendor():
    vendor = ContractVendor(ready_after_s=8.0)
    yield vendor
    vendor.close()


def _stack(vendor: ContractVendor) -> Stack:
    env = {
        "MUSICAPI_KEY": KEY,
        "MUSICAPI_BASE_URL": vendor.base_url,
        "MUSICAPI_MEDIA_HOSTS": vendor.media_host,
        "GENERATION_EXPECTED_S": "1",
    }
    return Stack(media_worker=False, env=env)


def test_every_clip_plays_right_after_succeeded_and_while_streaming(vendor):
    with _stack(vendor) as stack:
        session = stack.session(stack.token())
        base = f"{stack.base}/api/v1/generations"
        gid = session.post(base, json={"description": "calm piano"}, timeout=10).json()["id"]

        def streaming_clip():
            generation = session.get(f"{base}/{gid}", timeout=5).json()
            return next((c for c in generation["clips"] if c["state"] == "streaming"), None)

        live = wait_for(streaming_clip, 60, "a streaming clip")
        vendor_id = _vendor_clip_id(vendor, live)
        response = requests.get(live["audio_url"], headers={"Range": "bytes=0-"}, timeout=10)
        assert response.status_code == 206
        assert response.content == vendor.audio(vendor_id, streaming=True)

        def succeeded():
            generation = session.get(f"{base}/{gid}", timeout=5).json()
            return generation if generation["status"] == "succeeded" else None

        done = wait_for(succeeded, 60, "succeeded", interval_s=0.05)
        for clip in done["clips"]:  # at once: no copy has been made
            assert clip["media"] == "pending"
            whole = requests.get(clip["audio_url"], timeout=10)
            assert whole.status_code == 200
            assert whole.headers["Content-Type"] == "audio/mpeg"
            assert whole.content == vendor.audio(_vendor_clip_id(vendor, clip))
            part = requests.get(clip["audio_url"], headers={"Range": "bytes=0-99"}, timeout=10)
            assert (part.status_code, len(part.content)) == (206, 100)
            assert part.content == whole.content[:100]
            assert vendor.media_host not in clip["audio_url"]

        # The copies run once a media worker exists; the same URL then serves our copy.
        stack.start_media_worker()

        def copied():
            generation = session.get(f"{base}/{gid}", timeout=5).json()
            return generation if all(c["media"] == "ready" for c in generation["clips"]) else None

        clip = wait_for(copied, 60, "media copies")["clips"][0]
        part = requests.get(clip["audio_url"], headers={"Range": "bytes=0-99"}, timeout=10)
        assert (part.status_code, len(part.content)) == (206, 100)
        assert part.headers["ETag"]  # ours: the stored file's digest


def _plays(url: str) -> bytes:
    """The acceptance itself, on one `audio_url`; the whole audio."""
    whole = requests.get(url, timeout=10)
    assert whole.status_code == 200, whole.text[:300]
    assert whole.headers["Content-Type"].startswith("audio/")
    assert whole.content[:4] == b"RIFF"  # the simulator's WAV, not an error page
    part = requests.get(url, headers={"Range": "bytes=0-99"}, timeout=10)
    assert (part.status_code, len(part.content)) == (206, 100), part.text[:300]
    assert part.content == whole.content[:100]
    return whole.content


def test_every_clip_plays_right_after_succeeded_while_copies_land():
    """Several generations on the full stack (worker and media worker running): each clip plays
    the moment its generation reports `succeeded`, and on every look after until its copy is in,
    with the same bytes from the copy as streamed through before it."""
    with Stack(ready_after_s=3.0) as stack:
        session = stack.session(stack.token())
        base = f"{stack.base}/api/v1/generations"
        ids = [
            session.post(base, json={"description": f"song {n}"}, timeout=10).json()["id"]
            for n in range(4)
        ]
        played: dict[str, bytes] = {}  # clip id -> its audio, as first played
        looks: dict[str, set[str]] = {}  # clip id -> the `media` states it was played in
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            generations = [session.get(f"{base}/{gid}", timeout=5).json() for gid in ids]
            for generation in generations:
                if generation["status"] != "succeeded":
                    assert generation["status"] in {"queued", "running"}, generation
                    continue
                assert len(generation["clips"]) == 2
                for clip in generation["clips"]:  # at once, and on every look after
                    audio = _plays(clip["audio_url"])
                    assert played.setdefault(clip["id"], audio) == audio
                    looks.setdefault(clip["id"], set()).add(clip["media"])
            clips = [c for g in generations for c in g["clips"]]
            if len(clips) == 2 * len(ids) and all(c["media"] == "ready" for c in clips):
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"copies not all in within 120 s: {looks}")
        assert len(played) == 2 * len(ids)
        # Some clips were played before their copy landed (stream-through), all of them after.
        assert any("pending" in states for states in looks.values()), looks


def _vendor_clip_id(vendor: ContractVendor, clip: dict) -> str:
    """Which vendor clip our clip is: the one whose audio has the same first bytes."""
    head = requests.get(clip["audio_url"], headers={"Range": "bytes=0-499"}, timeout=10).content
    return next(cid for cid in vendor.clip_states if vendor.audio(cid)[:500] == head)
