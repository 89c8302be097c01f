"""`make run`: set up and start the whole service on one machine, stop it all on Ctrl-C.

Starts, in order: the embedded Redis (when REDIS_URL is unset), the vendor simulator (sandbox
mode), the Dramatiq workers, the periodiq scheduler (the reconciler, every minute) and the ASGI
web app under uvicorn. Each child runs in its own process group so that shutdown reaches its
grandchildren (rundramatiq's worker processes) too.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from contextlib import redirect_stdout, suppress

SHUTDOWN_GRACE_S = 10.0


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


def _commands(conf: dict) -> dict[str, list[str]]:
    python = sys.executable
    commands = {}
    if conf["sandbox"]:
        commands["simulator"] = [
            python,
            "manage.py",
            "run_simulator",
            "--port",
            str(conf["simulator_port"]),
        ]
    commands["worker"] = [
        python,
        "manage.py",
        "rundramatiq",
        "--processes",
        os.environ.get("WORKER_PROCESSES", "1"),
        "--threads",
        os.environ.get("WORKER_THREADS", "8"),
    ]
    commands["scheduler"] = [python, "manage.py", "run_scheduler"]
    commands["web"] = [
        python,
        "-m",
        "uvicorn",
        "config.asgi:application",
        "--host",
        conf["host"],
        "--port",
        str(conf["port"]),
        "--no-access-log",
    ]
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


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    token, conf = _setup()
    env = {**os.environ, "REDIS_URL": conf["redis_url"]}
    children: dict[str, subprocess.Popen] = {}

    def _terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    exit_code = 0
    try:
        for name, command in _commands(conf).items():
            children[name] = subprocess.Popen(command, env=env, start_new_session=True)  # noqa: S603
        base = f"http://{conf['host']}:{conf['port']}"
        vendor = "sandbox: simulated vendor" if conf["sandbox"] else "live vendor"
        print(
            "\n"
            f"  Music Gateway on {base}  ({vendor})\n"
            f"  Swagger UI: {base}/api/docs/   Redoc: {base}/api/redoc/\n"
            f"  Demo user 'demo', API token (Authorize in Swagger UI):\n\n  {token}\n\n"
            "  Ctrl-C stops everything.\n",
            flush=True,
        )
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
