"""Live mode's start-up look at the vendor (GET /get-credits): only a vendor that cannot be
reached or refuses the key (401) stops start-up; any other answer starts with one warning line,
so an account out of credits still serves its songs and a vendor without this endpoint (a
regional one, a fake built from the contract's core) may still create them."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from config import preflight
from workers.upstream import get_upstream


class _Vendor(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        status, body = self.server.answer
        data = json.dumps(body).encode() if not isinstance(body, str) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def vendor(settings):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Vendor)
    server.answer = (200, {"credits": 50, "extra_credits": 0})
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.SANDBOX = False
    settings.MUSICAPI_KEY = "mk-live"
    settings.MUSICAPI_BASE_URL = f"http://127.0.0.1:{server.server_address[1]}/api/v1"
    get_upstream.cache_clear()
    yield server
    get_upstream.cache_clear()
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "answer",
    [
        (404, "Not Found"),
        (403, {"code": 403, "message": "The remaining credits are not enough."}),
        (402, {"code": 402, "message": "Payment required"}),
        (200, {"balance": "unknown shape"}),
        (503, {"message": "maintenance"}),
    ],
)
def test_any_answer_but_a_refused_key_starts_with_one_warning(vendor, answer, capsys):
    vendor.answer = answer
    preflight._check_vendor()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("make run: warning: the vendor's balance")
    assert f"HTTP {answer[0]}" in lines[0]
    assert "mk-live" not in lines[0]


def test_a_refused_key_stops_start_up(vendor):
    vendor.answer = (401, {"code": 401, "message": "Invalid authorization format."})
    with pytest.raises(preflight.SetupError, match=r"^MUSICAPI_KEY: .*HTTP 401"):
        preflight._check_vendor()


def test_a_readable_balance_starts_quietly(vendor, capsys):
    preflight._check_vendor()
    assert capsys.readouterr().err == ""
