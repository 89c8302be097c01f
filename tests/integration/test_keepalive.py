"""An idle client connection outlives a proxy's idle timeout (WEB_KEEPALIVE_S), under `make run`
and `make run-prod` alike.

bench.operations found it: polling every 5 s, a GET on a kept-alive connection was reset, as
uvicorn closed connections idle for 5 s (its default; gunicorn's is 2 s) just as the next request
went out. A proxy in front (idle timeout 60 s) re-using such a connection answers 502."""

from __future__ import annotations

import http.client
import secrets
import socket
import sys
import time
from urllib.parse import urlsplit

import pytest
import requests

from tests.launcher import Launcher, fresh_checkout, processes_in, sweep
from tests.stack import wait_for

pytestmark = pytest.mark.integration

IDLE_S = 8  # longer than uvicorn's default 5 s and gunicorn's 2 s, far below WEB_KEEPALIVE_S
PROD_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "127.0.0.1",
    "WEB_CONCURRENCY": "1",
}


@pytest.fixture
def checkout():
    made = fresh_checkout()
    yield made
    sweep(made)


def _get(conn: socket.socket) -> int:
    """One GET on `conn`, its answer read to the end of its body (a recv that stopped at the
    headers left the body to be taken for the next answer's status line)."""
    conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n")
    response = http.client.HTTPResponse(conn)
    response.begin()
    response.read()
    return response.status


@pytest.mark.parametrize("prod", [False, True], ids=["make run", "make run-prod"])
def test_an_idle_connection_is_kept_past_a_proxys_idle_timeout(checkout, prod):
    command = [sys.executable, "-m", "config.runstack", *(["--prod"] if prod else [])]
    launcher = Launcher(checkout, command=command, **(PROD_ENV if prod else {}))
    try:
        base, _ = launcher.wait_banner(token=not prod)
        # gunicorn's workers may still be booting on a loaded machine.
        wait_for(lambda: requests.get(f"{base}/healthz", timeout=30).ok, 120, "the web tier")
        address = urlsplit(base)
        with socket.create_connection((address.hostname, address.port), timeout=30) as conn:
            assert _get(conn) == 200
            time.sleep(IDLE_S)
            assert _get(conn) == 200  # the same connection, still open
    finally:
        launcher.interrupt()
    wait_for(lambda: processes_in(checkout) == [], 60, "every process to end")
