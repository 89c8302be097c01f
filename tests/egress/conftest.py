"""Fixtures for the egress tests: a DNS whose answers each test scripts, hostile servers."""

from __future__ import annotations

import ssl

import pytest
import trustme

from tests.media_server import MediaServer


class ScriptedResolver:
    """Answers `(host, port)` from a script; each call takes the next answer for that host."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        script = self.answers[host]
        return script.pop(0) if len(script) > 1 else script[0]


@pytest.fixture
def servers():
    """Start loopback servers with `servers(host=..., port=..., http10=..., tls=...)`."""
    started: list[MediaServer] = []

    def start(*args, **kwargs) -> MediaServer:
        server = MediaServer(*args, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


@pytest.fixture(scope="session")
def ca():
    return trustme.CA()


@pytest.fixture
def client_tls(ca) -> ssl.SSLContext:
    """What a client trusts: only the test CA, with hostname checks on."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
def server_tls(ca):
    """`server_tls("media.test")`: a server context whose certificate names that host."""

    def make(*names: str) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(*names).configure_cert(context)
        return context

    return make
