"""The PostgreSQL and RabbitMQ servers of a chaos run, and how each is disrupted.

The machine's shared servers (127.0.0.1:5432, :5672) serve other people: the run never restarts
them. When the binaries are installed it starts its own instead, on free loopback ports, with
their data under `var/chaos/`: a throwaway PostgreSQL cluster (initdb + pg_ctl, run as the
`postgres` user when we are root) and a throwaway RabbitMQ node (its own node name, ports,
mnesia and Erlang cookie). Both keep their data across a restart, as a real crash would.

The short CI run (`make chaos-ci`) uses the shared servers instead, as CI's machine has them:
a database and a RabbitMQ vhost of its own (so a test run beside it can neither take its
messages nor flush its queues), and, instead of a restart, every connection of that database or
vhost dropped at once.
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
from urllib.parse import urlsplit, urlunsplit

from tests.stack import free_port, wait_for

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
RABBITMQCTL = "rabbitmqctl"


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

    def disrupt(self, rng) -> str:
        self.crash()
        time.sleep(rng.uniform(1, 3))
        self.start()
        return "crash-restarted"

    def database_url(self) -> str:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute('CREATE DATABASE "chaos"')
        return f"postgres://postgres@127.0.0.1:{self.port}/chaos"

    def drop_database(self) -> None:
        """The whole cluster goes in `stop()`."""

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

    def disrupt(self, rng) -> str:
        self.restart()
        return "killed -9, restarted"

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)


class SharedPostgres:
    """A database of our own on a PostgreSQL server others use: never restarted; `disrupt()`
    terminates every connection to our database (what a restart does to its clients)."""

    def __init__(self, admin_url: str) -> None:
        self.url = admin_url
        self.name = f"chaos_{os.getpid()}_{os.urandom(3).hex()}"
        self.root = None  # nothing on disk

    def start(self) -> None:
        import psycopg

        psycopg.connect(self.url, connect_timeout=5).close()

    def database_url(self) -> str:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        return urlunsplit(urlsplit(self.url)._replace(path=f"/{self.name}"))

    def disrupt(self, rng) -> str:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            dropped = conn.execute(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (self.name,),
            ).fetchone()[0]
        return f"{dropped} connections dropped"

    def drop_database(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.drop_database()


class SharedRabbit:
    """A vhost of our own on a RabbitMQ server others use (made and removed with rabbitmqctl,
    which needs to run on the server's machine): never restarted; `disrupt()` closes every
    connection in our vhost (what a restart does to its clients; durable queues stay)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.vhost = f"chaos-{os.getpid()}-{os.urandom(3).hex()}"
        self.url = urlunsplit(parts._replace(path=f"/{self.vhost}"))
        self.user = parts.username or "guest"
        self.root = None  # nothing on disk

    def start(self) -> None:
        self._ctl("add_vhost", self.vhost)
        self._ctl("set_permissions", "-p", self.vhost, self.user, ".*", ".*", ".*")

    def disrupt(self, rng) -> str:
        self._ctl("close_all_connections", "--vhost", self.vhost, "chaos: connections dropped")
        return "connections closed"

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._ctl("delete_vhost", self.vhost)

    @staticmethod
    def _ctl(*args: str) -> None:
        subprocess.run(  # noqa: S603 - our own fixed command line
            [RABBITMQCTL, "-q", *args], check=True, capture_output=True, timeout=60
        )


def rabbitmqctl_available() -> bool:
    return shutil.which(RABBITMQCTL) is not None
