"""`make run`'s ports: from PORT, the simulator's derived from it, a taken one named in a line."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from config import ports
from tests.launcher import fresh_checkout, newcomer_env, sweep

HOST = "127.0.0.1"


@pytest.fixture
def held():
    """A port something already listens on."""
    sock = socket.socket()
    sock.bind((HOST, 0))
    sock.listen()
    yield sock.getsockname()[1]
    sock.close()


def _choose(**environ: str) -> tuple[int, int | None, int | None]:
    """The web and simulator ports chosen, and the default the web port moved from."""
    chosen = ports.choose(environ, host=HOST, simulator_host=HOST, sandbox=True)
    try:
        return chosen.web_port, chosen.simulator_port, chosen.web_moved_from
    finally:
        chosen.close()


def _free_pair() -> int:
    for web in range(20000, 30000, 37):
        if ports.is_free(HOST, web) and ports.is_free(HOST, web + ports.SIMULATOR_OFFSET):
            return web
    raise AssertionError("no free pair of ports")


def test_the_simulator_port_follows_port():
    web = _free_pair()
    assert _choose(PORT=str(web)) == (web, web + ports.SIMULATOR_OFFSET, None)


def test_a_taken_derived_simulator_port_moves_to_a_free_one(held):
    web = held - ports.SIMULATOR_OFFSET
    if web < 1 or not ports.is_free(HOST, web):
        pytest.skip("no usable web port below the held one")
    chosen_web, simulator, _ = _choose(PORT=str(web))
    assert chosen_web == web and simulator not in {None, held}


def test_an_explicit_port_that_is_taken_names_the_variable(held):
    with pytest.raises(ports.PortError, match=rf"^PORT={held}: .* already in use"):
        _choose(PORT=str(held))
    with pytest.raises(ports.PortError, match=rf"^SIMULATOR_PORT={held}: .* already in use"):
        _choose(PORT=str(ports.any_free(HOST)), SIMULATOR_PORT=str(held))
    with pytest.raises(ports.PortError, match=r"^PORT='eighty' is not a port number"):
        _choose(PORT="eighty")


def test_without_port_a_taken_default_moves_to_the_next_free_one():
    with socket.socket() as sock:
        try:
            sock.bind((HOST, ports.DEFAULT_WEB_PORT))
        except OSError:
            pass  # already taken by something else: just as good
        else:
            sock.listen()
        web, _, moved_from = _choose()
    assert web != ports.DEFAULT_WEB_PORT
    assert moved_from == ports.DEFAULT_WEB_PORT


def test_make_run_with_a_taken_port_prints_one_line_naming_it(held):
    checkout = fresh_checkout()
    try:
        for name in ("PORT", "SIMULATOR_PORT"):
            env = newcomer_env(**{"PORT": str(ports.any_free(HOST)), name: str(held)})
            result = subprocess.run(
                [sys.executable, "-m", "config.runstack"],
                cwd=checkout,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert result.returncode == 1
            assert result.stdout == ""
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith(f"make run: {name}={held}: "), lines
    finally:
        sweep(checkout)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "http://127.0.0.1:8123"),
        ({"HOST": "0.0.0.0"}, "http://127.0.0.1:8123"),  # noqa: S104
        ({"HOST": "192.168.1.5"}, "http://192.168.1.5:8123"),
        ({"PUBLIC_BASE_URL": "https://music.example.com"}, "https://music.example.com"),
    ],
)
def test_the_sandbox_reaches_uploads_on_its_own_web_port_unless_public_base_url_is_set(
    environ, expected
):
    """make run's simulator fetches an upload's signed link: without PUBLIC_BASE_URL the demo's
    upload answered 503 on a fresh make run."""
    from config.runstack import sandbox_public_url

    sandbox_public_url(environ, 8123)
    assert environ["PUBLIC_BASE_URL"] == expected


@pytest.mark.parametrize("token", ["mg_demo", None], ids=["sandbox", "prod"])
def test_the_banner_points_to_the_demo_page(monkeypatch, token):
    """The README sends a newcomer to /demo/; the banner printed no such URL."""
    from config.runstack import _banner

    monkeypatch.setenv("HOST", "127.0.0.1")
    web = ports.listen("127.0.0.1", 0)
    try:
        chosen = ports.Ports(web=web, simulator=None)
        port, text = chosen.web_port, _banner(chosen, token, sandbox=token is not None)
    finally:
        web.close()
    assert f"  Demo page: http://127.0.0.1:{port}/demo/" in text
    assert text.index("Demo page") < text.index("Ctrl-C stops everything.")
