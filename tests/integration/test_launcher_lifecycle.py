"""`make run` stops cleanly however it is stopped, and keeps one demo token across runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.launcher import Launcher, fresh_checkout, processes_in, sweep
from tests.stack import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def checkout():
    made = fresh_checkout()
    yield made
    sweep(made)


def _make_run(checkout) -> Launcher:
    """`make run` itself, on this (installed) virtualenv: make only starts the launcher."""
    venv = os.path.dirname(os.path.dirname(sys.executable))
    return Launcher(checkout, command=["make", "--no-print-directory", "run", f"VENV={venv}"])


def _launcher_pid(make: Launcher) -> int:
    children = subprocess.run(
        ["pgrep", "-P", str(make.proc.pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    assert len(children) == 1, children
    return int(children[0])


def test_interrupting_make_stops_everything_and_the_next_run_reuses_the_token(checkout):
    make = _make_run(checkout)
    _, token = make.wait_banner()
    launcher = _launcher_pid(make)
    # A signal to make alone, not to its process group (make does not pass SIGINT on).
    os.kill(make.proc.pid, signal.SIGINT)
    make.wait_exit(timeout_s=60)
    wait_for(lambda: processes_in(checkout) == [], 60, "every process of the run to end")
    assert "Traceback" not in make.text()
    assert not os.path.exists(f"/proc/{launcher}")

    again = Launcher(checkout)
    _, token_again = again.wait_banner()
    assert token_again == token
    # SIGKILL: no chance to clean up, yet nothing may be left behind (embedded Redis included).
    names = processes_in(checkout)
    assert any("redis-server" in name for name in names), names
    again.kill()
    wait_for(lambda: processes_in(checkout) == [], 60, "every child of the killed launcher to end")


def test_a_killed_launcher_leaves_nothing_even_when_make_is_killed_first(checkout):
    make = _make_run(checkout)
    make.wait_banner()
    os.kill(make.proc.pid, signal.SIGKILL)  # the launcher is orphaned: it notices and stops
    wait_for(lambda: processes_in(checkout) == [], 60, "every process of the run to end")


def test_an_open_event_stream_ends_cleanly_when_make_run_stops(checkout):
    """The web process ends its event streams when told to stop, so a stop does not wait out
    the grace period and SIGKILL the web process under its clients (curl exit 18: transfer
    closed mid-response); the client sees the stream end and reconnects elsewhere."""
    make = _make_run(checkout)
    base, token = make.wait_banner()
    stream = subprocess.Popen(
        [
            "curl",
            "-sN",
            "--max-time",
            "90",
            "-H",
            f"Authorization: Bearer {token}",
            f"{base}/api/v1/events",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert stream.stdout.readline().startswith("retry:")  # the stream is open
    os.kill(make.proc.pid, signal.SIGINT)
    assert stream.wait(timeout=60) == 0, "the stream was cut, not ended"
    make.wait_exit(timeout_s=60)
    assert "Traceback" not in make.text()
