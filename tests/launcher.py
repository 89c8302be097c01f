"""`make run` as a newcomer runs it: the launcher in a fresh copy of the checkout.

A copy has its own `var/` (database, embedded Redis, secret key), as a second clone would; the
launcher runs with this virtualenv's Python and the environment stripped of the test settings.
Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.stack import ROOT

IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "var", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache", ".env"
)
# Settings the test run exports that a newcomer would not have.
STRIPPED = ("DATABASE_URL", "REDIS_URL", "BROKER_URL", "EMBEDDED_REDIS_DIR", "PORT", "PYTEST")
BANNER = re.compile(r"Music Gateway on (http://\S+)")
TOKEN = re.compile(r"^\s+(mg_\S+)$", re.MULTILINE)


def fresh_checkout() -> Path:
    target = Path(tempfile.mkdtemp(prefix="mg-clone-")) / "music-gateway"
    shutil.copytree(ROOT, target, ignore=IGNORED, symlinks=True)
    return target


def newcomer_env(**overrides: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MUSICAPI_", "SIMULATOR_", *STRIPPED))
    }
    env.update(PYTHONUNBUFFERED="1", **overrides)
    return env


def _interruptible() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Launcher:
    """One `python -m config.runstack` (what `make run` runs) in `checkout`."""

    def __init__(self, checkout: Path, command: list[str] | None = None, **env: str) -> None:
        self.checkout = checkout
        self.output = checkout.parent / f"launcher-{len(list(checkout.parent.glob('launcher-*')))}"
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(
                command or [sys.executable, "-m", "config.runstack"],
                cwd=checkout,
                env=newcomer_env(**env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # As from a terminal: a suite started in the background (CI, nohup) inherits an
                # ignored SIGINT, and make then ignores the Ctrl-C these tests send it.
                preexec_fn=_interruptible,
            )

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_banner(self, timeout_s: float = 180, token: bool = True) -> tuple[str, str | None]:
        """The base URL and demo token the banner printed (run-prod prints none: `token=False`)."""

        def banner():
            text = self.text()
            base, printed = BANNER.search(text), TOKEN.search(text)
            if base and "Ctrl-C stops everything." in text and (printed or not token):
                return base.group(1), printed.group(1) if printed else None
            return None

        deadline = time.monotonic() + timeout_s
        while (found := banner()) is None:
            if self.proc.poll() is not None:
                raise AssertionError(f"launcher exited {self.proc.returncode}:\n{self.text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no banner in {timeout_s} s:\n{self.text()}")
            time.sleep(0.3)
        return found

    def wait_exit(self, timeout_s: float = 60) -> int:
        return self.proc.wait(timeout=timeout_s)

    def interrupt(self, timeout_s: float = 60) -> int:
        """Ctrl-C, as a terminal sends it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGINT)
        return self.wait_exit(timeout_s)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)


def processes_in(directory: Path) -> list[str]:
    """Processes whose working directory or executable lies under `directory`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cwd = os.readlink(proc / "cwd")
            if Path(cwd).is_relative_to(directory):
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                found.append(f"{proc.name}: {cmdline.strip()}")
    return found


def sweep(checkout: Path) -> None:
    """Last resort after a failed test: no process of the copy outlives it."""
    for line in processes_in(checkout):
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(line.split(":", 1)[0]), signal.SIGKILL)
    shutil.rmtree(checkout.parent, ignore_errors=True)
