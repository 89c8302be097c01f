"""PostgreSQL with a low max_connections: bounded pools, no 500s, 503 + Retry-After when full.

Runs against a throwaway PostgreSQL server of its own (tests/pgcluster.py), because lowering
max_connections on a shared server would break everyone else's connections.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests

from tests import pgcluster
from tests.stack import Stack, wait_for

pytestmark = [
    pytest.mark.integration,
    # Once per CI run, in the PostgreSQL pass: the SQLite pass has nothing to learn from it.
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
        reason="the PostgreSQL pass only (DATABASE_URL=postgres://…)",
    ),
    pytest.mark.skipif(
        pgcluster.unavailable_reason() is not None,
        reason=pgcluster.unavailable_reason() or "",
    ),
]

MAX_CONNECTIONS = 16
POOL_MAX = 4
CLIENTS = 64
ROUNDS = 1


@pytest.fixture(scope="module")
def pg():
    with pgcluster.PgCluster(max_connections=MAX_CONNECTIONS) as cluster:
        yield cluster


def _client_rounds(base: str, token: str) -> list[requests.Response]:
    """One client: create, list, read back and check usage, a few times over."""
    answers = []
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        for _ in range(ROUNDS):
            created = session.post(
                f"{base}/api/v1/generations", json={"description": "load"}, timeout=120
            )
            answers.append(created)
            answers.append(session.get(f"{base}/api/v1/generations", timeout=120))
            if created.status_code == 202:
                detail = f"{base}/api/v1/generations/{created.json()['id']}"
                answers.append(session.get(detail, timeout=120))
            answers.append(session.get(f"{base}/api/v1/me", timeout=120))
    return answers


class _PeakBackends:
    """Samples the stack database's client connections on a connection opened up front."""

    def __init__(self, url: str, database: str) -> None:
        self.conn = psycopg.connect(url, autocommit=True)
        self.database = database
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            (count,) = self.conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = %s AND backend_type = 'client backend'",
                [self.database],
            ).fetchone()
            self.peak = max(self.peak, count)

    def __enter__(self) -> _PeakBackends:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.conn.close()


def test_sixty_four_clients_against_sixteen_connections_get_no_errors(pg):
    env = {"DB_POOL_MIN": "1", "DB_POOL_MAX": str(POOL_MAX), "DB_POOL_TIMEOUT": "60"}
    with Stack(ready_after_s=2, database_url=pg.url, env=env) as stack:
        token = stack.token()
        with (
            _PeakBackends(pg.url, stack._pg_database) as backends,
            ThreadPoolExecutor(max_workers=CLIENTS) as clients,
        ):
            futures = [clients.submit(_client_rounds, stack.base, token) for _ in range(CLIENTS)]
            answers = [a for future in futures for a in future.result(timeout=600)]
        codes = Counter(a.status_code for a in answers)
        assert set(codes) <= {200, 202}, (codes, stack.log("web")[-3000:])
        assert codes[202] == CLIENTS * ROUNDS
        # One web process and one worker process, each within its pool (the sampler not counted).
        assert backends.peak <= 3 * POOL_MAX, backends.peak  # web, worker, media worker


def _occupy_every_free_connection(url: str) -> list[psycopg.Connection]:
    held = []
    for _ in range(MAX_CONNECTIONS + 1):
        try:
            held.append(psycopg.connect(url, autocommit=True, connect_timeout=5))
        except psycopg.OperationalError:
            return held
    raise AssertionError("the server accepted more connections than max_connections")


def test_a_full_server_is_answered_503_with_retry_after_then_recovers(pg):
    # No idle pooled connection to fall back on: the web process must open one, and cannot.
    env = {"DB_POOL_MIN": "0", "DB_POOL_MAX": str(POOL_MAX), "DB_POOL_TIMEOUT": "1"}
    with Stack(ready_after_s=2, database_url=pg.url, env=env, worker_threads=1) as stack:
        token = stack.token()
        session = stack.session(token)
        held = _occupy_every_free_connection(pg.url)
        try:
            answers = [session.get(f"{stack.base}/api/v1/me", timeout=60) for _ in range(2)]
            answers.append(
                session.post(f"{stack.base}/api/v1/generations", json={"description": "x"})
            )
        finally:
            for conn in held:
                conn.close()
        for answer in answers:
            assert answer.status_code == 503, answer.text[:2000]
            assert answer.headers["Content-Type"] == "application/problem+json"
            assert int(answer.headers["Retry-After"]) > 0
            assert answer.json()["type"] == "urn:music-gateway:problem:database_unavailable"
        # Once connections are free again, the pool reconnects by itself.
        wait_for(
            lambda: session.get(f"{stack.base}/api/v1/me", timeout=30).status_code == 200,
            120,
            "recovery after the server had room again",
            interval_s=1,
        )
