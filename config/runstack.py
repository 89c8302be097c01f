"""`make run`: set up and start the whole service on one machine, stop it all on Ctrl-C.

Starts, in order: the embedded Redis (when REDIS_URL is unset), the vendor simulator (sandbox
mode), the Dramatiq workers, the periodiq scheduler (the reconciler, every minute) and the ASGI
web app under uvicorn. Each child runs in its own process group so that shutdown reaches its
grandchildren (rundramatiq's worker processes) too.

Side by side: the ports come from `PORT` (see config.ports), so a second checkout's `make run`
finds its own; a second `make run` in the same checkout (same database and Redis) is refused.
Mistakes in the setup end with one line naming the variable, not a traceback.
"""

from __future__ import annotations

import fcntl
import io
import os
import signal
import subprocess
import sys
import time
from contextlib import redirect_stdout, suppress
from pathlib import Path

from config import ports

SHUTDOWN_GRACE_S = 10.0
BASE_DIR = Path(__file__).resolve().parent.parent


class SetupError(Exception):
    """A mistake the operator fixes: printed as one line, no traceback."""


def _load_dotenv() -> None:
    # The same .env the settings read, before choosing ports (PORT may be set there).
    import environ

    if (BASE_DIR / ".env").exists():
        environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _lock_checkout(var_dir: Path):
    """Refuse a second `make run` in this checkout: it would share its database and Redis."""
    var_dir.mkdir(parents=True, exist_ok=True)
    lock = open(var_dir / "run.lock", "a+")  # noqa: SIM115 - held until the process ends
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        raise SetupError(
            f"make run is already running in this checkout ({holder}); stop it first, "
            "or start the second one from another clone."
        ) from None
    return lock


def _claim_ports() -> ports.Ports:
    host = os.environ.get("HOST", "127.0.0.1")
    sandbox = not os.environ.get("MUSICAPI_KEY")
    try:
        chosen = ports.choose(
            os.environ,
            host=host,
            simulator_host=os.environ.get("SIMULATOR_HOST", "127.0.0.1"),
            sandbox=sandbox,
        )
    except ports.PortError as exc:
        raise SetupError(str(exc)) from None
    # Every child (and the settings below) must agree on these.
    os.environ["PORT"] = str(chosen.web_port)
    if chosen.simulator is not None:
        os.environ["SIMULATOR_PORT"] = str(chosen.simulator_port)
    return chosen


def _setup() -> tuple[str, dict]:
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()  # starts the embedded Redis when REDIS_URL is unset
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    out = io.StringIO()
    with redirect_stdout(out):
        call_command("create_api_user", "demo", token_name="make run", stdout=out)
    token = out.getvalue().strip().splitlines()[-1]
    return token, {
        "port": int(os.environ.get("PORT", "8000")),
        "host": os.environ.get("HOST", "127.0.0.1"),
        "sandbox": settings.SANDBOX,
        "embedded_redis": settings.EMBEDDED_REDIS,
        "redis_dir": settings.EMBEDDED_REDIS_DIR,
        "simulator_port": settings.SIMULATOR_PORT,
        "redis_url": settings.REDIS_URL,
    }


def _commands(conf: dict, chosen: ports.Ports) -> dict[str, tuple[list[str], tuple[int, ...]]]:
    """Each child's command line and the listening sockets it inherits."""
    python = sys.executable
    commands = {}
    if chosen.simulator is not None:
        fd = chosen.simulator.fileno()
        commands["simulator"] = [python, "manage.py", "run_simulator", "--fd", str(fd)], (fd,)
    commands["worker"] = (
        [
            python,
            "manage.py",
            "rundramatiq",
            "--processes",
            os.environ.get("WORKER_PROCESSES", "1"),
            "--threads",
            os.environ.get("WORKER_THREADS", "8"),
        ],
        (),
    )
    commands["scheduler"] = [python, "manage.py", "run_scheduler"], ()
    fd = chosen.web.fileno()
    commands["web"] = (
        [
            python,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--fd",
            str(fd),
            "--no-access-log",
        ],
        (fd,),
    )
    return commands


def _stop(children: dict[str, subprocess.Popen]) -> None:
    # SIGTERM to each leader only: rundramatiq and uvicorn then stop their own children
    # gracefully; whatever is left of a group after the grace period is killed.
    for proc in reversed(children.values()):
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + SHUTDOWN_GRACE_S
    for proc in children.values():
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # grandchildren left behind, if any


def _banner(conf: dict, token: str, moved_from: int | None) -> str:
    base = f"http://{conf['host']}:{conf['port']}"
    vendor = "sandbox: simulated vendor" if conf["sandbox"] else "live vendor"
    lines = [f"  Music Gateway on {base}  ({vendor})"]
    if moved_from:
        lines.append(f"  ({moved_from} was taken and PORT is unset: took {conf['port']})")
    if conf["sandbox"]:
        lines.append(f"  Vendor simulator on http://127.0.0.1:{conf['simulator_port']}")
    lines += [
        f"  Swagger UI: {base}/api/docs/   Redoc: {base}/api/redoc/",
        "  Demo user 'demo', API token (Authorize in Swagger UI):",
        "",
        f"  {token}",
        "",
        "  Ctrl-C stops everything.",
    ]
    return "\n" + "\n".join(lines) + "\n"


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    try:
        _load_dotenv()
        lock = _lock_checkout(BASE_DIR / "var")
        chosen = _claim_ports()
        lock.truncate(0)
        lock.write(f"pid {os.getpid()}, port {chosen.web_port}")
        lock.flush()
        token, conf = _setup()
    except SetupError as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return 1
    env = {**os.environ, "REDIS_URL": conf["redis_url"]}
    children: dict[str, subprocess.Popen] = {}

    def _terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    exit_code = 0
    try:
        for name, (command, fds) in _commands(conf, chosen).items():
            children[name] = subprocess.Popen(  # noqa: S603
                command, env=env, start_new_session=True, pass_fds=fds
            )
        chosen.close()  # the servers hold them now
        print(_banner(conf, token, chosen.web_moved_from), flush=True)
        while True:
            for name, proc in children.items():
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; stopping.", file=sys.stderr)
                    exit_code = 1
                    raise KeyboardInterrupt
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip clean-up
        _stop(children)
        if conf["embedded_redis"]:
            from config import embedded_redis

            embedded_redis.stop(conf["redis_dir"].resolve())
        print("Stopped.", file=sys.stderr)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
