"""`make run`: set up and start the whole service on one machine, stop it all on Ctrl-C.

Starts, in order: the embedded Redis (when REDIS_URL is unset), the vendor simulator (sandbox
mode), the Dramatiq workers, the periodiq scheduler (the reconciler, every minute) and the ASGI
web app under uvicorn. Each child runs in its own process group so that shutdown reaches its
grandchildren (rundramatiq's worker processes) too, and dies with the launcher however the
launcher ends (config.children), so nothing is left behind, not even after a SIGKILL.

Side by side: the ports come from `PORT` (see config.ports), so a second checkout's `make run`
finds its own; a second `make run` in the same checkout (same database and Redis) is refused.
Mistakes in the setup end with one line naming the variable, not a traceback (config.preflight).
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import MutableMapping
from contextlib import suppress
from pathlib import Path

from config import ports
from config.children import die_with_parent, parent_interrupted
from config.preflight import SetupError

SHUTDOWN_GRACE_S = 10.0
BASE_DIR = Path(__file__).resolve().parent.parent


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
    try:
        chosen = ports.choose(
            os.environ,
            host=os.environ.get("HOST", "127.0.0.1"),
            simulator_host=os.environ.get("SIMULATOR_HOST", "127.0.0.1"),
            sandbox=not os.environ.get("MUSICAPI_KEY"),
        )
    except ports.PortError as exc:
        raise SetupError(str(exc)) from None
    # Every child (and the settings below) must agree on these.
    os.environ["PORT"] = str(chosen.web_port)
    if chosen.simulator is not None:
        os.environ["SIMULATOR_PORT"] = str(chosen.simulator_port)
        sandbox_public_url(os.environ, chosen.web_port)
    return chosen


def sandbox_public_url(environ: MutableMapping[str, str], web_port: int) -> None:
    """In the sandbox the vendor is our simulator on this machine, so it can reach the web port
    itself: PUBLIC_BASE_URL defaults to it, and uploads (the vendor fetches a signed link to our
    copy) and the vendor's webhooks work with no setting. A set PUBLIC_BASE_URL is kept."""
    if environ.get("PUBLIC_BASE_URL"):
        return
    host = environ.get("HOST", "127.0.0.1")
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - listening everywhere: reach it on loopback
        host = "127.0.0.1"
    environ["PUBLIC_BASE_URL"] = f"http://{host}:{web_port}"


def _prepare_metrics_dir(var_dir: Path) -> None:
    """One prometheus_client multiprocess directory for every process this launcher starts.

    The web app's /metrics then adds up the HTTP figures of the web process and the Dramatiq
    figures of every worker process (api.metrics). Emptied at each start, as multiprocess mode
    requires: files of a previous run's processes would count twice.
    """
    directory = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or var_dir / "prometheus")
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory.resolve())


def _start_redis() -> subprocess.Popen | None:
    """The embedded Redis, as this process's child, when REDIS_URL is unset."""
    if os.environ.get("REDIS_URL"):
        return None
    from config import embedded_redis

    directory = Path(os.environ.get("EMBEDDED_REDIS_DIR") or embedded_redis.DEFAULT_DIR).resolve()
    try:
        proc = embedded_redis.spawn(directory)
    except RuntimeError as exc:
        raise SetupError(f"the embedded Redis would not start ({directory}/redis.log)") from exc
    os.environ["REDIS_URL"] = embedded_redis.url(directory)
    return proc


def _web_command(fd: int, prod: bool) -> list[str]:
    if prod:
        # The production web tier: gunicorn managing WEB_CONCURRENCY uvicorn workers.
        return [
            *(sys.executable, "-m", "gunicorn", "--config", "config/gunicorn.py"),
            *("--bind", f"fd://{fd}", "config.asgi:application"),
        ]
    from django.conf import settings  # loaded and checked by preflight

    return [
        *(sys.executable, "-m", "uvicorn", "config.asgi:application", "--fd", str(fd)),
        *("--timeout-keep-alive", str(settings.WEB_KEEPALIVE_S)),  # see the setting
        "--no-access-log",  # config.logs.request_log writes one line per request
        *("--lifespan", "off"),  # Django has no ASGI lifespan; saying so spares a confusing line
    ]


def _commands(chosen: ports.Ports, prod: bool) -> dict[str, tuple[list[str], tuple[int, ...]]]:
    """Each child's command line and the listening sockets it inherits."""
    python = sys.executable
    commands = {}
    if chosen.simulator is not None:
        fd = chosen.simulator.fileno()
        # Its tasks live in var/ too: a restart of `make run` loses no song in flight.
        state = str(BASE_DIR / "var" / "simulator.state")
        commands["simulator"] = (
            [python, "manage.py", "run_simulator", "--fd", str(fd), "--state", state],
            (fd,),
        )
    commands["worker"] = (
        [
            python,
            "manage.py",
            "runworkers",  # rundramatiq, logging in the service's format
            "--processes",
            os.environ.get("WORKER_PROCESSES", "1"),
            "--threads",
            os.environ.get("WORKER_THREADS", "8"),
            "--queues",
            *("polls", "generations"),  # generations.dispatch.WORKER_QUEUES
        ],
        (),
    )
    # Media copies on their own pool, so downloads never hold up polls and submissions.
    commands["media-worker"] = (
        [
            *(python, "manage.py", "runworkers", "--processes", "1"),
            *("--threads", os.environ.get("MEDIA_WORKER_THREADS", "4"), "--queues", "media"),
        ],
        (),
    )
    commands["scheduler"] = [python, "manage.py", "run_scheduler"], ()
    fd = chosen.web.fileno()
    commands["web"] = _web_command(fd, prod), (fd,)
    return commands


def _stop(children: dict[str, subprocess.Popen]) -> None:
    # SIGTERM to each leader only: rundramatiq and uvicorn then stop their own children
    # gracefully; whatever is left of a group after the grace period is killed. Redis, which
    # the others use until they are gone, goes last.
    servers = [proc for name, proc in children.items() if name != "redis"]
    for group in (servers, [children["redis"]] if "redis" in children else []):
        for proc in reversed(group):
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + SHUTDOWN_GRACE_S
        for proc in group:
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # grandchildren left behind, if any


def _banner(chosen: ports.Ports, token: str | None, sandbox: bool) -> str:
    base = f"http://{os.environ.get('HOST', '127.0.0.1')}:{chosen.web_port}"
    vendor = "sandbox: simulated vendor" if sandbox else "live vendor"
    lines = [f"  Music Gateway on {base}  ({vendor})"]
    if token is None:
        workers = os.environ.get("WEB_CONCURRENCY", "2")
        lines.append(f"  Production profile: DEBUG off, gunicorn with {workers} uvicorn workers")
    if chosen.web_moved_from:
        lines.append(f"  ({chosen.web_moved_from} was taken and PORT is unset: took the next free)")
    if chosen.simulator is not None:
        lines.append(
            f"  Vendor simulator on http://127.0.0.1:{chosen.simulator_port}"
            f" (it fetches uploads from {os.environ.get('PUBLIC_BASE_URL')})"
        )
    lines += [
        f"  Swagger UI: {base}/api/docs/   Redoc: {base}/api/redoc/",
        f"  Demo page: {base}/demo/" + ("  (fills in a demo token)" if token is not None else ""),
        *(
            ["  Demo user 'demo', API token (Authorize in Swagger UI):", "", f"  {token}", ""]
            if token is not None
            else ["  No demo user: python manage.py create_api_user NAME prints a token.", ""]
        ),
        "  Ctrl-C stops everything.",
    ]
    return "\n" + "\n".join(lines) + "\n"


class _Stop(BaseException):
    """Stop everything (like KeyboardInterrupt: not caught by `except Exception`)."""


def main(argv: list[str] | None = None) -> int:
    # --prod: `make run-prod`, the production profile (DEBUG off, gunicorn, check --deploy).
    prod = "--prod" in (sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")  # the children's lines appear as they happen
    children: dict[str, subprocess.Popen] = {}

    def _terminate(signum, frame):
        raise _Stop

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    parent = os.getppid()
    exit_code, serving = 0, False
    try:
        _load_dotenv()
        lock = _lock_checkout(BASE_DIR / "var")
        chosen = _claim_ports()
        lock.truncate(0)
        lock.write(f"pid {os.getpid()}, port {chosen.web_port}")
        lock.flush()
        _prepare_metrics_dir(BASE_DIR / "var")
        if redis := _start_redis():
            children["redis"] = redis
        from config import preflight

        token, sandbox = preflight.prepare(prod=prod)
        for name, (command, fds) in _commands(chosen, prod).items():
            children[name] = subprocess.Popen(  # noqa: S603
                command,
                start_new_session=True,
                pass_fds=fds,
                preexec_fn=die_with_parent(),
            )
        print(_banner(chosen, token, sandbox), flush=True)
        serving = True
        chosen.close()  # the servers hold them now
        while True:
            for name, proc in children.items():
                if proc.poll() is not None:
                    print(
                        f"make run: {name} exited with {proc.returncode}; stopping.",
                        file=sys.stderr,
                    )
                    exit_code = 1
                    raise _Stop
            # `kill -INT <make>` reaches make alone, which waits for us instead of passing it
            # on; a killed make leaves us orphaned. Either way: stop as on Ctrl-C.
            if os.getppid() != parent or parent_interrupted(parent):
                raise _Stop
            time.sleep(0.5)
    except SetupError as exc:
        print(f"make {'run-prod' if prod else 'run'}: {exc}", file=sys.stderr)
        exit_code = 1
    except _Stop:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip clean-up
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _stop(children)
        if serving:
            print("Stopped.", file=sys.stderr)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
