"""Two checkouts on one machine, `make run` in both: both serve and both play a song."""

from __future__ import annotations

import pytest
import requests

from tests.integration.helpers import create, wait_terminal
from tests.launcher import Launcher, fresh_checkout, processes_in, sweep
from tests.stack import wait_for

pytestmark = pytest.mark.integration

FAST_SANDBOX = {"SIMULATOR_READY_AFTER_S": "1", "SIMULATOR_CLIP_DURATION_S": "3"}


@pytest.fixture
def checkouts():
    made = [fresh_checkout(), fresh_checkout()]
    yield made
    for checkout in made:
        sweep(checkout)


def _plays_a_song(base: str, token: str) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    generation = create(session, base, {"description": "two pianos side by side"})
    done = wait_terminal(session, base, [generation["id"]], timeout_s=180)[generation["id"]]
    assert done["status"] == "succeeded", done
    clip_url = f"{base}/api/v1/clips/{done['clips'][0]['id']}"
    audio_url = wait_for(
        lambda: session.get(clip_url, timeout=10).json()["audio_url"], 120, "the copied audio"
    )
    audio = requests.get(audio_url, headers={"Range": "bytes=0-99"}, timeout=30)
    assert audio.status_code == 206, audio.text[:300]
    assert len(audio.content) == 100


def test_two_checkouts_run_side_by_side_and_a_third_run_is_refused(checkouts):
    first_dir, second_dir = checkouts
    # PORT unset in both, as a newcomer has it: the second finds its own ports.
    first = Launcher(first_dir, **FAST_SANDBOX)
    first_base, first_token = first.wait_banner()
    second = Launcher(second_dir, **FAST_SANDBOX)
    second_base, second_token = second.wait_banner()
    assert first_base != second_base
    assert "Vendor simulator on" in second.text()

    # The same checkout twice would share its database and Redis: one clear line instead.
    again = Launcher(first_dir, **FAST_SANDBOX)
    assert again.wait_exit() == 1
    lines = again.text().strip().splitlines()
    assert len(lines) == 1 and "already running in this checkout" in lines[0], lines

    for base, token in ((first_base, first_token), (second_base, second_token)):
        _plays_a_song(base, token)
    assert first.proc.poll() is None and second.proc.poll() is None

    assert first.interrupt() == 0
    assert second.interrupt() == 0
    assert "Traceback" not in first.text() + second.text()
    for checkout in checkouts:
        assert processes_in(checkout) == []
