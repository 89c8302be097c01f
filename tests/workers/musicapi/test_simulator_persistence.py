"""Issue 17 (3): the sandbox's simulator keeps its tasks, balance and media across a restart of
`make run` (var/simulator.state), so a song in flight when the stack stopped still finishes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.conftest import SIMULATOR_KEY
from workers.musicapi.client import MusicApiClient
from workers.musicapi.simulator import Simulator, persistence
from workers.musicapi.simulator.server import start_in_thread
from workers.musicapi.types import CreateRequest

ROOT = Path(__file__).resolve().parents[3]


def _serve(sim: Simulator):
    server = start_in_thread(sim)
    client = MusicApiClient(
        base_url=f"{sim.public_url}/api/v1", key=SIMULATOR_KEY, timeout_s=(2, 5)
    )
    return server, client


def _stop(server) -> None:
    server.shutdown()
    server.server_close()


def test_a_task_survives_a_restart_and_keeps_ripening_meanwhile(tmp_path):
    state = tmp_path / "simulator.state"
    first = Simulator(key=SIMULATOR_KEY, ready_after_s=3.0, clip_duration_s=2.0)
    server, client = _serve(first)
    task_id = client.create(CreateRequest(model="sonic-v5", description="calm piano"))
    balance = first.credits
    persistence.save(first, state)
    _stop(server)

    time.sleep(3.2)  # the simulator is down while the task would finish
    second = Simulator(key=SIMULATOR_KEY, ready_after_s=3.0, clip_duration_s=2.0)
    assert persistence.restore(second, state) == 1
    server, client = _serve(second)
    try:
        status = client.status(task_id)
        assert status.finished, status
        assert second.credits == balance
        audio = requests.get(status.clips[0].audio_url, timeout=5)
        assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
    finally:
        _stop(server)


def test_an_unreadable_state_is_set_aside_and_the_simulator_starts_empty(tmp_path):
    state = tmp_path / "simulator.state"
    state.write_bytes(b"not a pickle")
    assert persistence.restore(Simulator(key=SIMULATOR_KEY), state) == 0
    assert not state.exists()
    assert state.with_suffix(".unreadable").read_bytes() == b"not a pickle"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_simulator(port: int, state: Path) -> subprocess.Popen:
    command = [sys.executable, "manage.py", "run_simulator", "--port", str(port)]
    command += ["--key", SIMULATOR_KEY, "--ready-after", "60", "--state", str(state)]
    env = {**os.environ, "REDIS_URL": "redis://127.0.0.1:9/0"}  # nothing connects
    proc = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/api/v1/get-credits", timeout=1)
            return proc
        except requests.ConnectionError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("run_simulator did not start")


def test_make_runs_simulator_saves_on_sigterm_and_restores_at_start(tmp_path):
    """The real command as `make run` starts and stops it (SIGTERM), at the production
    ready time of 60 s: a task made just before the stop is known after the restart."""
    state, port = tmp_path / "simulator.state", _free_port()
    base = f"http://127.0.0.1:{port}/api/v1"
    proc = _run_simulator(port, state)
    try:
        client = MusicApiClient(base_url=base, key=SIMULATOR_KEY, timeout_s=(2, 5))
        task_id = client.create(CreateRequest(model="sonic-v5", description="calm piano"))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert state.exists()
        proc = _run_simulator(port, state)
        assert not client.status(task_id).finished  # known, still working (not "task not found")
    finally:
        proc.kill()
        proc.wait(timeout=10)
