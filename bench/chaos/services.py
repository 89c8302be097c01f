"""Private PostgreSQL and RabbitMQ servers that the chaos run may kill and restart.

The machine's shared servers (127.0.0.1:5432, :5672) serve other people: the run never restarts
them. When the binaries are installed it starts its own instead, on free loopback ports, with
their data under `var/chaos/`: a throwaway PostgreSQL cluster (initdb + pg_ctl, run as the
`postgres` user when we are root) and a throwaway RabbitMQ node (its own node name, ports,
mnesia and Erlang cookie). Both keep their data across a restart, as a real crash would.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path

from tests.stack import free_port, wait_for

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def rabbitmq_available() -> bool:
    return os.access(RABBITMQ_SERVER, os.X_OK)


class PrivatePostgres:
    """A PostgreSQL cluster of our own: `restart()` is an immediate (crash) stop and a start."""

    def __init__(self, root: Path) -> None:
        self.bin = postgres_bin()
        if self.bin is None:
            raise RuntimeError("no /usr/lib/postgresql/*/bin")
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0  # initdb refuses to run as root

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        if not self.data.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            self._own(self.root)
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            " -c max_connections=300"
        )
        log = self.root / "server.log"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(log), "-w", "-t", "60", "-o", options, "start"
        )

    def crash(self) -> None:
        """Every backend gone at once, no checkpoint: the server recovers from its WAL."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def restart(self) -> None:
        self.crash()
        self.start()

    def stop(self) -> None:
        if self.data.exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def _own(self, path: Path) -> None:
        if self._as_postgres:
            user = pwd.getpwnam("postgres")
            os.chown(path, user.pw_uid, user.pw_gid)

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(  # noqa: S603 - our own fixed command line
            command, check=True, capture_output=True, timeout=120, cwd=self.root
        )


class PrivateRabbit:
    """A RabbitMQ node of our own; `restart()` is kill -9 and a start (durable queues survive)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.dist_port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        cookie = self.root / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(os.urandom(12).hex())
            cookie.chmod(0o400)
        root = str(self.root)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": root,  # the cookie
            "RABBITMQ_NODENAME": f"chaos{self.port}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": f"{root}/mnesia",
            "RABBITMQ_LOG_BASE": f"{root}/log",
            "RABBITMQ_CONFIG_FILE": f"{root}/rabbitmq",
            "RABBITMQ_ADVANCED_CONFIG_FILE": f"{root}/advanced.config",
            "RABBITMQ_ENABLED_PLUGINS_FILE": f"{root}/enabled_plugins",
            "RABBITMQ_CONF_ENV_FILE": f"{root}/rabbitmq-env.conf",
            "RABBITMQ_PID_FILE": f"{root}/pid",
        }
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 - lives as long as the node
        self.proc = subprocess.Popen(  # noqa: S603 - our own fixed command line
            [RABBITMQ_SERVER],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        # A loaded two-core machine boots a node in 10-60 s; the port opens before AMQP answers.
        wait_for(self._answers, 300, "RabbitMQ", interval_s=1)

    def _answers(self) -> bool:
        import pika

        params = pika.URLParameters(self.url)
        params.socket_timeout = params.blocked_connection_timeout = 5
        pika.BlockingConnection(params).close()
        return True

    def kill(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=15)
        self.proc = None
        deadline = time.monotonic() + 15
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.2)

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)
