"""Real pages in headless Chromium against the whole service on loopback."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.audio_files import wav_bytes
from tests.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.browser]

DOCS = Path(__file__).resolve().parent.parent.parent / "docs"
TIMEOUT_MS = 60_000


@pytest.fixture
def shots(tmp_path) -> Path:
    """docs/ with UPDATE_SCREENSHOTS=1 (to refresh the README's pictures), else a temp dir."""
    return DOCS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path


@pytest.fixture(scope="module")
def stack():
    # webhooks: PUBLIC_BASE_URL is the stack's own address, which uploads need (the simulator
    # fetches the uploaded audio from it, as the vendor would).
    with Stack(ready_after_s=2, webhooks=True) as stack:
        yield stack


def test_swagger_ui_authorizes_and_creates_a_generation(stack, page, shots):
    token = stack.token("swagger")
    page.goto(f"{stack.base}/api/docs/")
    page.click("button.authorize", timeout=TIMEOUT_MS)
    page.fill(".auth-container input", token)
    page.click(".auth-btn-wrapper button.authorize")
    page.click("button.btn-done")
    operation = page.locator("#operations-generations-createGeneration")
    operation.locator(".opblock-summary").click()
    operation.locator(".try-out__btn").click()
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for(timeout=TIMEOUT_MS)
    assert status.inner_text().strip().startswith("202")
    assert '"status": "queued"' in operation.locator(".live-responses-table").inner_text()
    status.scroll_into_view_if_needed()
    page.mouse.wheel(0, 250)
    page.screenshot(path=str(shots / "swagger-try-it-out.png"), full_page=False)
    me = stack.session(token).get(f"{stack.base}/api/v1/me", timeout=10).json()
    assert me["usage"]["used"] == me["prices"]["create"]  # one song's credits


def test_the_demo_page_goes_from_a_description_to_a_playing_clip(stack, page, shots):
    page.goto(f"{stack.base}/demo/")
    assert page.input_value("#token").startswith("mg_")
    page.fill("#description", "a short happy ukulele tune")
    started = time.monotonic()
    page.click("#generate")
    audio = page.locator("#clips audio").first
    audio.wait_for(timeout=TIMEOUT_MS)
    assert page.inner_text("#status") == "succeeded"
    audio.evaluate("a => a.play()")
    page.wait_for_function(
        "() => document.querySelector('#clips audio').currentTime > 0.5", timeout=TIMEOUT_MS
    )
    elapsed = time.monotonic() - started
    assert "credits left" in page.inner_text("#quota")  # the balance, in credits
    page.screenshot(path=str(shots / "demo-playing.png"), full_page=True)
    print(f"demo: description to a playing clip in {elapsed:.1f} s (simulator ready after 2 s)")


def test_the_demo_page_makes_a_clips_wav_and_offers_it_for_download(stack, page):
    page.goto(f"{stack.base}/demo/")
    page.fill("#description", "a short song to keep as a WAV")
    page.click("#generate")
    page.locator("#clips .wav button").first.wait_for(timeout=TIMEOUT_MS)
    page.locator("#clips .wav button").first.click()
    link = page.locator("#clips .wav a").first
    link.wait_for(timeout=TIMEOUT_MS)
    assert link.inner_text() == "Download WAV"
    assert link.get_attribute("download").endswith(".wav")
    with page.expect_download(timeout=TIMEOUT_MS) as download:
        link.click()
    with open(download.value.path(), "rb") as saved:
        assert saved.read(4) == b"RIFF"


def test_the_demo_page_follows_three_songs_at_once_on_one_stream(stack, page):
    """Three generations in flight on the page, one EventSource (GET /api/v1/events) for all."""
    streams = []
    page.on("request", lambda r: streams.append(r.url) if "/events" in r.url else None)
    page.goto(f"{stack.base}/demo/")
    for n in range(3):
        page.fill("#description", f"song number {n} of three")
        page.click("#generate")
        page.wait_for_selector(f"#songs li:nth-child({n + 1})", timeout=TIMEOUT_MS)
    page.wait_for_function(
        """() => [...document.querySelectorAll('#songs li')].filter(
            (li) => li.dataset.status === 'succeeded' && li.textContent.includes('playable')
        ).length === 3""",
        timeout=TIMEOUT_MS,
    )
    assert {url.split("?")[0] for url in streams} == {f"{stack.base}/api/v1/events"}
    assert len(streams) == 1, streams


def test_the_demo_page_uploads_audio_and_covers_it(stack, page, tmp_path):
    """Upload → the music service's clip of it → a cover of it, playing, all in the page."""
    audio = tmp_path / "humming.wav"
    audio.write_bytes(wav_bytes(8.0))
    page.goto(f"{stack.base}/demo/")
    page.fill("#description", "as a jazz trio")
    page.set_input_files("#audio", str(audio))
    page.click("#upload-button")
    cover = page.locator("#clips .cover button").first
    cover.wait_for(timeout=TIMEOUT_MS)  # the upload succeeded: the vendor made its clip
    assert "humming" in page.inner_text("#clips")
    uploaded = page.get_attribute("#clips", "data-generation")
    cover.click()
    page.wait_for_function(
        f"""() => document.querySelector('#clips').dataset.generation !== '{uploaded}'
            && document.querySelector('#status').textContent === 'succeeded'
            && document.querySelectorAll('#clips audio').length > 0""",
        timeout=TIMEOUT_MS,
    )
    page.locator("#clips audio").first.evaluate("a => a.play()")
    page.wait_for_function(
        "() => document.querySelector('#clips audio').currentTime > 0.5", timeout=TIMEOUT_MS
    )
    session = stack.session(page.input_value("#token"))
    shown = page.get_attribute("#clips", "data-generation")
    made = session.get(f"{stack.base}/api/v1/generations/{shown}", timeout=10).json()
    upload = session.get(f"{stack.base}/api/v1/generations/{uploaded}", timeout=10).json()
    assert (upload["operation"], upload["status"]) == ("upload", "succeeded")
    assert (made["operation"], made["status"]) == ("cover", "succeeded")
    assert made["source_clip"] == upload["clips"][0]["id"]
    tasks = stack.simulator("ledger")["tasks"]
    assert "cover_upload_music" in [t["task_type"] for t in tasks]
