"""The sandbox simulator's state on disk (`make run` keeps it in var/), so a restart of the
stack loses no task in flight: the vendor it plays does not forget either.

Saved at most once a second after a change, and once more on shutdown; written to a temporary
file and renamed, so a crash mid-write leaves the previous state. Task ages are kept in wall
time, so a task keeps ripening while the simulator is down, as a real vendor's would.
A file that cannot be read (another version, damage) is set aside and the simulator starts
empty, saying so in one log line.
"""

from __future__ import annotations

import logging
import os
import pickle
import threading
import time
from pathlib import Path

from workers.musicapi.simulator.app import Simulator

logger = logging.getLogger("workers.musicapi.simulator")

VERSION = 1
SAVE_EVERY_S = 1.0


def restore(simulator: Simulator, path: Path) -> int:
    """Load `path` into `simulator`; the number of tasks restored (0 when there is no file)."""
    if not path.exists():
        return 0
    try:
        # Our own file, written by `save` below under var/ (owner-only): trusted input.
        state = pickle.loads(path.read_bytes())  # noqa: S301
        if state.get("version") != VERSION:
            raise ValueError(f"version {state.get('version')!r}, expected {VERSION}")
        simulator.restore_state(state["simulator"], elapsed_s=time.time() - state["saved_at"])
    except Exception as exc:  # a damaged or foreign file must not stop the sandbox
        aside = path.with_suffix(".unreadable")
        os.replace(path, aside)
        logger.warning("simulator: state in %s unreadable (%s); moved to %s", path, exc, aside)
        return 0
    return len(state["simulator"]["tasks"])


def save(simulator: Simulator, path: Path) -> None:
    state = {"version": VERSION, "saved_at": time.time(), "simulator": simulator.state()}
    tmp = path.with_suffix(".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
        pickle.dump(state, out)
    os.replace(tmp, path)


class Saver:
    """Saves the simulator's state after changes, at most once every SAVE_EVERY_S seconds."""

    def __init__(self, simulator: Simulator, path: Path) -> None:
        self.simulator, self.path = simulator, path
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="simulator-saver")

    def start(self) -> Saver:
        self._thread.start()
        return self

    def _run(self) -> None:
        seen = self.simulator.changes
        while not self._stop.wait(SAVE_EVERY_S):
            if self.simulator.changes != seen:
                seen = self.simulator.changes
                save(self.simulator, self.path)

    def stop(self) -> None:
        """Stop and save once more (call on shutdown)."""
        self._stop.set()
        self._thread.join(timeout=5)
        save(self.simulator, self.path)
