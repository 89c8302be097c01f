"""A mistake in `make run`'s settings: one line naming the variable, and nothing left running."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading

import pytest

from tests.launcher import fresh_checkout, newcomer_env, processes_in, sweep

pytestmark = pytest.mark.integration

UNREACHABLE = "127.0.0.1:9"  # the discard port: nothing listens there


@pytest.fixture(scope="module")
def checkout():
    made = fresh_checkout()
    yield made
    sweep(made)


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("DATABASE_URL", f"postgres://app:s3cret@{UNREACHABLE}/music", "cannot connect to"),
        ("DATABASE_URL", "mysql://app@db/music", "must be postgres"),
        ("REDIS_URL", f"redis://{UNREACHABLE}/0", "cannot reach"),
        ("BROKER_URL", f"amqp://guest:guest@{UNREACHABLE}/", "cannot reach"),
        ("DEFAULT_PLAN_CREDITS", "twenty", "invalid literal"),
        ("MUSICAPI_MEDIA_HOSTS", "ftp://cdn.example", ""),
        ("WEB_KEEPALIVE_S", "0", "seconds, 1-3600"),
    ],
)
def test_a_setup_mistake_is_one_line_naming_the_variable(checkout, variable, value, says):
    result = subprocess.run(
        [sys.executable, "-m", "config.runstack"],
        cwd=checkout,
        env=newcomer_env(**{variable: value}),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"make run: {variable}"), lines
    assert says in lines[0]
    assert "s3cret" not in result.stderr + result.stdout
    # The embedded Redis it had started is gone with it.
    assert processes_in(checkout) == []


class _RefusingVendor(http.server.BaseHTTPRequestHandler):
    """The vendor's answer to a key it does not know (the edge; nothing else is faked)."""

    def do_GET(self):
        body = json.dumps({"code": 401, "message": "Invalid API key"}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def refusing_vendor():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RefusingVendor)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/v1"
    server.shutdown()
    server.server_close()


def _start(checkout, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "config.runstack"],
        cwd=checkout,
        env=newcomer_env(**env),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.mark.parametrize(
    ("base_url", "variable", "says"),
    [
        (f"http://{UNREACHABLE}/api/v1", "MUSICAPI_BASE_URL", "the vendor is unreachable"),
        (None, "MUSICAPI_KEY", "refused it (HTTP 401: Invalid API key)"),
    ],
)
def test_live_mode_checks_the_vendor_at_start(checkout, refusing_vendor, base_url, variable, says):
    """Issue 17 (4): an unreachable vendor or a refused key left songs queued for minutes."""
    result = _start(
        checkout, MUSICAPI_KEY="mk-not-valid", MUSICAPI_BASE_URL=base_url or refusing_vendor
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"make run: {variable}: "), lines
    assert says in lines[0]
    assert "mk-not-valid" not in result.stderr + result.stdout
    assert processes_in(checkout) == []
