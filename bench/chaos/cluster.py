"""The service at production shape on loopback: two web processes, several worker hosts, the
scheduler, the simulator, Redis, and optionally a private PostgreSQL and RabbitMQ — each of which
the chaos run can kill with SIGKILL and start again."""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench.chaos.services import PrivatePostgres, PrivateRabbit, SharedPostgres, SharedRabbit
from tests.stack import PYTHON, Stack, free_port, wait_for


@dataclass
class Window:
    """One disruption: what was killed, and from when until its replacement answered."""

    kind: str
    target: str
    start: float
    end: float = 0.0
    note: str = ""

    def covers(self, at: float, before_s: float = 0.0, after_s: float = 0.0) -> bool:
        return self.start - before_s <= at <= (self.end or time.time()) + after_s


@dataclass
class Shape:
    name: str
    postgres: PrivatePostgres | SharedPostgres | None = None
    rabbit: PrivateRabbit | SharedRabbit | None = None
    notes: list[str] = field(default_factory=list)


class ChaosStack(Stack):
    def __init__(
        self, *, shape: Shape, webs: int = 2, workers: int = 2, threads: int = 8, **kwargs
    ) -> None:
        super().__init__(
            broker_url=shape.rabbit.url if shape.rabbit else None, worker_threads=threads, **kwargs
        )
        self.shape = shape
        self.web_ports = [self.web_port, *(free_port() for _ in range(webs - 1))]
        self.worker_names = [f"worker-{i}" for i in range(workers)]
        self.commands: dict[str, tuple[list[str], Path | None]] = {}
        self.usernames: list[str] = []  # the users `tokens()` made

    # --- lifecycle ---------------------------------------------------------------------------

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
        self.manage("migrate", "--noinput", "-v0", timeout_s=600)
        if self.broker_url:
            self.manage(
                "shell",
                "-c",
                "import dramatiq; b = dramatiq.get_broker(); "
                "b.declare_queue('generations'); b.flush_all()",
                timeout_s=600,
            )
        for i, port in enumerate(self.web_ports):
            self.commands[f"web-{i}"] = (
                [
                    PYTHON,
                    "-m",
                    "uvicorn",
                    "config.asgi:application",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--no-access-log",
                ],
                None,
            )
        for name in self.worker_names:
            self.commands[name] = (
                [
                    PYTHON,
                    "manage.py",
                    "rundramatiq",
                    "--processes",
                    "1",
                    "--threads",
                    str(self.worker_threads),
                ],
                None,
            )
        self.commands["scheduler"] = ([PYTHON, "manage.py", "run_scheduler"], None)
        for name in self.commands:
            self.start_process(name)
        for port in self.web_ports:
            self.wait_web(port)
        wait_for(
            lambda: self.simulator("config"),
            30,
            "simulator",
        )

    def stop(self) -> None:
        super().stop()
        for server in (self.shape.rabbit, self.shape.postgres):
            if server is not None:
                with contextlib.suppress(Exception):
                    server.stop()
                with contextlib.suppress(OSError, AttributeError):
                    server.root.parent.rmdir()  # the run's directory, once both are gone

    def tokens(self, usernames: list[str]) -> dict[str, str]:
        """A user and an API token for each name, in one Django start (a loaded machine takes
        tens of seconds per start)."""
        self.usernames = list(usernames)
        out = self.manage(
            "shell",
            "-c",
            "import json; from django.contrib.auth import get_user_model; "
            "from api.tokens import token_create; U = get_user_model(); "
            f"print(json.dumps({{n: token_create(user=U.objects.get_or_create(username=n)[0], "
            f"name='chaos').secret for n in {usernames!r}}}))",
            timeout_s=600,
        )
        return json.loads(out.strip().splitlines()[-1])

    # --- processes ---------------------------------------------------------------------------

    def start_process(self, name: str) -> None:
        command, _ = self.commands[name]
        self._spawn(name, command)

    def kill_process(self, name: str) -> None:
        import signal

        self._kill(name, signal.SIGKILL)

    def wait_web(self, port: int) -> None:
        wait_for(
            lambda: requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok,
            90,
            f"web on {port}",
            interval_s=0.2,
        )

    def port_of(self, web_name: str) -> int:
        return self.web_ports[int(web_name.rsplit("-", 1)[1])]

    # --- the database ------------------------------------------------------------------------

    def _database_url(self) -> str:
        if self.shape.postgres is None:
            return super()._database_url()
        return self.shape.postgres.database_url()

    def _drop_pg_database(self) -> None:
        if self.shape.postgres is None:
            super()._drop_pg_database()
        else:
            self.shape.postgres.drop_database()


def wait_until(predicate, timeout_s: float, interval_s: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():
                return True
        time.sleep(interval_s)
    return False
