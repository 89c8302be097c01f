"""Time from `make run` to a clip playing on the demo page, with the default sandbox.

Starts the launcher (`python -m config.runstack`, what `make run` runs after installing) on a free
port, opens /demo/ in headless Chromium as soon as the service answers, asks for a song and waits
until the `<audio>` element is actually playing. Prints the timings; stops everything after.

    python -m bench.demo_time
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import requests

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.stack import ROOT, free_port, wait_for

LIMIT_S = 300


def main() -> int:
    if CHROMIUM is None:
        print("needs Debian's chromium (apt-get install chromium)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    port = free_port()
    env = {**os.environ, "PORT": str(port), "SIMULATOR_PORT": str(free_port())}
    started = time.monotonic()
    launcher = subprocess.Popen(
        [sys.executable, "-m", "config.runstack"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: requests.get(f"{base}/healthz", timeout=1).ok, 60, "the web app")
        serving = time.monotonic() - started
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(f"{base}/demo/")
            page.click("#generate")
            page.locator("#clips audio").first.wait_for(timeout=LIMIT_S * 1000)
            page.locator("#clips audio").first.evaluate("a => a.play()")
            page.wait_for_function(
                "() => document.querySelector('#clips audio').currentTime > 0.5",
                timeout=60_000,
            )
            playing = time.monotonic() - started
            browser.close()
    finally:
        os.killpg(launcher.pid, signal.SIGINT)
        launcher.wait(timeout=30)
    print(f"service answering: {serving:.1f} s after start")
    print(f"clip playing on /demo/: {playing:.1f} s after start")
    return 0


if __name__ == "__main__":
    sys.exit(main())
