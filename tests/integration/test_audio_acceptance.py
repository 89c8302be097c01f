"""What a client would check, against a vendor built from the contract alone (not our simulator):
every clip plays the moment its generation says `succeeded`, and a `streaming` clip plays live.

No media worker runs at first, so every byte played comes through stream-through — and the
generations still finish: copies and polls do not share a worker pool.
"""

from __future__ import annotations

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


def _vendor_clip_id(vendor: ContractVendor, clip: dict) -> str:
    """Which vendor clip our clip is: the one whose audio has the same first bytes."""
    head = requests.get(clip["audio_url"], headers={"Range": "bytes=0-499"}, timeout=10).content
    return next(cid for cid in vendor.clip_states if vendor.audio(cid)[:500] == head)
