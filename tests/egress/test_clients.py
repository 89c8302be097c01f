"""Both clients (urllib3 and httpx) against real servers on loopback: each SSRF case."""

from __future__ import annotations

import asyncio
import socket
import threading

import httpx
import pytest

from egress import (
    AsyncEgressClient,
    EgressAsyncTransport,
    EgressClient,
    EgressPolicy,
    EgressRefused,
    EgressUnavailable,
)
from egress.pinning import pinned_addresses, verify_peer
from tests.egress.conftest import ScriptedResolver

AUDIO = {"Content-Type": "audio/wav"}
BODY = b"RIFF" + b"\x00" * 100


class Driver:
    """One GET through either client; returns (status, headers, body, final url)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def get(self, policy, url, *, headers=None, ssl_context=None, max_bytes=10_000, **options):
        if self.kind == "sync":
            client = EgressClient(policy, timeout_s=(2, 5), ssl_context=ssl_context, **options)
            try:
                with client.stream("GET", url, headers=headers) as response:
                    body = response.read(max_bytes=max_bytes)
                    return response.status, dict(response.headers), body, str(response.url)
            finally:
                client.close()

        async def run():
            async with (
                AsyncEgressClient(
                    policy, timeout_s=(2, 5), ssl_context=ssl_context, **options
                ) as client,
                client.stream("GET", url, headers=headers) as response,
            ):
                body = b"".join([c async for c in response.aiter_bytes(max_bytes=max_bytes)])
                return response.status_code, dict(response.headers), body, str(response.url)

        return asyncio.run(run())


@pytest.fixture(params=["sync", "async"])
def driver(request) -> Driver:
    return Driver(request.param)


def only(server) -> EgressPolicy:
    return EgressPolicy([f"http://127.0.0.1:{server.port}"])


def test_the_backslash_bypass_never_reaches_the_unlisted_port(driver, servers):
    listed, unlisted = servers(), servers()
    for server in (listed, unlisted):
        server.route("*", headers=AUDIO, body=BODY)
    url = f"http://127.0.0.1:{unlisted.port}\\@127.0.0.1:{listed.port}/x"
    with pytest.raises(EgressRefused, match="backslash"):
        driver.get(only(listed), url)
    assert unlisted.hits == [] and listed.hits == []


def test_a_listed_url_is_fetched(driver, servers):
    cdn = servers()
    url = cdn.route("/a.wav", headers=AUDIO, body=BODY)
    status, _, body, final = driver.get(only(cdn), url)
    assert (status, body, final) == (200, BODY, url)
    assert cdn.hits[0][2]["Accept-Encoding"] == "identity"


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.1:{evil}\\@127.0.0.1:{cdn}/x",
        "http://user@127.0.0.1:{evil}/x",
        "http://127.0.0.1:{cdn}@127.0.0.1:{evil}/x",
        "http://2130706433:{evil}/x",
        "http://0x7f.1:{evil}/x",
        "http://0177.0.0.1:{evil}/x",
        "http://127.1:{evil}/x",
        "http://127.0.0.1.:{evil}/x",
        "http://[::1%25lo]:{evil}/x",
        "http://[::ffff:127.0.0.1]:{evil}/x",
        "http://127.0.0.1:{evil}/x",
        "//127.0.0.1:{evil}/x",
        "http://localhost:{evil}/x",
        "http:\\\\127.0.0.1:{evil}/x",
        "http://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
    ],
)
def test_a_redirect_into_each_bad_form_is_refused(driver, servers, location):
    cdn, evil = servers(), servers()
    evil.route("*", headers=AUDIO, body=BODY)
    url = cdn.route(
        "/a.wav", status=302, headers={"Location": location.format(evil=evil.port, cdn=cdn.port)}
    )
    with pytest.raises(EgressRefused):
        driver.get(only(cdn), url)
    assert evil.hits == []


def test_redirects_are_checked_and_counted(driver, servers):
    cdn = servers()
    final = cdn.route("/b.wav", headers=AUDIO, body=BODY)
    url = cdn.route("/a.wav", status=307, headers={"Location": "/b.wav"})
    assert driver.get(only(cdn), url)[2:] == (BODY, final)
    loop = cdn.route("/loop", status=302, headers={"Location": "/loop"})
    with pytest.raises(EgressRefused, match="redirects"):
        driver.get(only(cdn), loop, max_redirects=2)
    assert len([hit for hit in cdn.hits if hit[1] == "/loop"]) == 3


def test_credentials_are_not_carried_to_another_origin(driver, servers):
    first, second = servers(), servers()
    target = second.route("/x", headers=AUDIO, body=BODY)
    url = first.route("/x", status=302, headers={"Location": target})
    policy = EgressPolicy([f"http://127.0.0.1:{first.port}", f"http://127.0.0.1:{second.port}"])
    driver.get(policy, url, headers={"Authorization": "Bearer s3cret", "Range": "bytes=0-"})
    assert first.hits[0][2]["Authorization"] == "Bearer s3cret"
    assert "Authorization" not in second.hits[0][2]
    assert second.hits[0][2]["Range"] == "bytes=0-"


def test_dns_is_asked_once_and_the_checked_address_is_the_one_connected(driver, servers):
    # Same port on two loopback addresses; DNS answers the first, then would answer the second.
    checked = servers("127.0.0.1")
    rebound = servers("127.0.0.2", checked.port)
    for server in (checked, rebound):
        server.route("*", headers=AUDIO, body=BODY)
    resolver = ScriptedResolver({"media.test": [["127.0.0.1"], ["127.0.0.2"]]})
    policy = EgressPolicy([f"http://media.test:{checked.port}"], resolver=resolver)
    status, _, body, _ = driver.get(policy, f"http://media.test:{checked.port}/a.wav")
    assert (status, body) == (200, BODY)
    assert resolver.calls == [("media.test", checked.port)]
    assert len(checked.hits) == 1 and rebound.hits == []
    assert checked.hits[0][2]["Host"] == f"media.test:{checked.port}"


def test_each_redirect_hop_is_resolved_and_checked_again(driver, servers):
    cdn = servers()
    cdn.route("/a.wav", status=302, headers={"Location": f"https://media.test:{cdn.port}/b"})
    resolver = ScriptedResolver({"media.test": [["127.0.0.1"]]})
    policy = EgressPolicy(
        [f"http://127.0.0.1:{cdn.port}", f"media.test:{cdn.port}"], resolver=resolver
    )
    with pytest.raises(EgressRefused, match="non-public"):
        driver.get(policy, f"http://127.0.0.1:{cdn.port}/a.wav")
    assert [hit[1] for hit in cdn.hits] == ["/a.wav"]


def test_an_internationalised_trailing_dot_host_is_compared_and_sent_in_idna_form(driver, servers):
    cdn = servers()
    cdn.route("/x", headers=AUDIO, body=BODY)
    resolver = ScriptedResolver({"xn--bcher-kva.test": [["127.0.0.1"]]})
    policy = EgressPolicy([f"http://b\u00fccher.test:{cdn.port}"], resolver=resolver)
    driver.get(policy, f"http://B\u00dcCHER.test.:{cdn.port}/x")
    assert cdn.hits[0][2]["Host"] == f"xn--bcher-kva.test:{cdn.port}"


@pytest.mark.parametrize("headers", [{}, {"Connection": "close"}])
@pytest.mark.parametrize("http10", [True, False])
def test_peers_that_close_the_connection_are_verified_not_skipped(driver, servers, headers, http10):
    cdn = servers(http10=http10)
    url = cdn.route("/a.wav", headers={**AUDIO, **headers}, body=BODY)
    assert driver.get(only(cdn), url)[2] == BODY


def test_the_peer_check_fails_closed_when_the_socket_cannot_say_who_it_is():
    unconnected = socket.socket()
    with pytest.raises(EgressRefused, match="could not be verified"):
        verify_peer(unconnected, "127.0.0.1")
    unconnected.close()
    with pytest.raises(EgressRefused, match="could not be verified"):
        verify_peer(None, "127.0.0.1")


def test_the_peer_must_be_the_address_dialled(servers):
    cdn = servers()
    with socket.create_connection(("127.0.0.1", cdn.port)) as sock:
        verify_peer(sock, "127.0.0.1")
        with pytest.raises(EgressRefused, match="not the checked address"):
            verify_peer(sock, "127.0.0.2")


def test_no_connection_is_made_outside_a_policy_check():
    with pytest.raises(EgressRefused, match="not checked"):
        pinned_addresses("127.0.0.1", 80)


def test_ipv6_literals_are_fetched_when_explicitly_listed(driver, servers):
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        cdn = servers("::1")
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    url = cdn.route("/a.wav", headers=AUDIO, body=BODY)
    policy = EgressPolicy([f"http://[::1]:{cdn.port}"])
    assert driver.get(policy, url.replace("[::1]", "[0:0::1]"))[2] == BODY
    with pytest.raises(EgressRefused):
        driver.get(EgressPolicy([f"http://127.0.0.1:{cdn.port}"]), url)


def test_tls_uses_the_host_name_for_sni_and_certificate(driver, servers, server_tls, client_tls):
    cdn = servers(tls=server_tls("media.test"))
    cdn.route("/a.wav", headers=AUDIO, body=BODY)
    resolver = ScriptedResolver({"media.test": [["127.0.0.1"]]})
    policy = EgressPolicy([f"https://media.test:{cdn.port}"], resolver=resolver)
    url = f"https://media.test:{cdn.port}/a.wav"
    assert driver.get(policy, url, ssl_context=client_tls)[2] == BODY
    assert cdn.server_names == ["media.test"]


def test_a_certificate_for_another_name_is_a_tls_failure(driver, servers, server_tls, client_tls):
    cdn = servers(tls=server_tls("other.test"))
    cdn.route("/a.wav", headers=AUDIO, body=BODY)
    resolver = ScriptedResolver({"media.test": [["127.0.0.1"]]})
    policy = EgressPolicy([f"https://media.test:{cdn.port}"], resolver=resolver)
    with pytest.raises(EgressUnavailable, match="TLS"):
        driver.get(policy, f"https://media.test:{cdn.port}/a.wav", ssl_context=client_tls)
    assert cdn.hits == []


def test_bodies_are_capped(driver, servers):
    cdn = servers()
    declared = cdn.route("/d", headers={**AUDIO, "Content-Length": str(2 * 1024**3)}, body=b"")
    growing = cdn.route("/g", headers=AUDIO, body=b"x" * 5000)
    for url in (declared, growing):
        with pytest.raises(EgressRefused, match="over the"):
            driver.get(only(cdn), url, max_bytes=1000)


def test_unreachable_is_transient(driver):
    with pytest.raises(EgressUnavailable):
        driver.get(EgressPolicy(["http://127.0.0.1:9"]), "http://127.0.0.1:9/x")


def test_the_async_transport_checks_httpx_own_redirects(servers):
    cdn, evil = servers(), servers()
    evil.route("*", headers=AUDIO, body=BODY)
    url = cdn.route("/a", status=302, headers={"Location": f"http://127.0.0.1:{evil.port}/x"})

    async def run():
        transport = EgressAsyncTransport(only(cdn))
        async with httpx.AsyncClient(transport=transport, follow_redirects=True) as client:
            await client.get(url)

    with pytest.raises(EgressRefused):
        asyncio.run(run())
    assert evil.hits == []


def _hold_together(client, url, threads: int) -> None:
    """`threads` requests in flight at once, each holding its connection until all have one."""
    together = threading.Barrier(threads)
    failures = []

    def one():
        try:
            with client.stream("GET", url) as response:
                together.wait()
                assert response.read(max_bytes=10_000) == BODY
        except Exception as exc:
            failures.append(exc)

    workers = [threading.Thread(target=one) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []


def test_the_pool_keeps_a_connection_per_thread(servers, caplog):
    """The media worker's threads each got a connection, and all but one were thrown away on
    release ("Connection pool is full, discarding connection ... size: 1"), then dialled again."""
    cdn = servers()
    url = cdn.route("/a.wav", headers=AUDIO, body=BODY)
    client = EgressClient(only(cdn), timeout_s=(2, 5), pool_maxsize=4)
    try:
        for _ in range(3):
            _hold_together(client, url, threads=4)
    finally:
        client.close()
    assert len(cdn.connections) == 4, cdn.connections  # reused, round after round
    assert "pool is full" not in caplog.text


def test_a_kept_connection_is_not_reused_once_dns_names_other_addresses(servers):
    """A pooled connection serves only while its peer is among the addresses just checked."""
    cdn = servers(host="0.0.0.0")  # noqa: S104 - reached as 127.0.0.1 and 127.0.0.2
    cdn.route("*", headers=AUDIO, body=BODY)
    resolver = ScriptedResolver({"media.test": [["127.0.0.1"], ["127.0.0.1"], ["127.0.0.2"]]})
    policy = EgressPolicy([f"http://media.test:{cdn.port}"], resolver=resolver)
    client = EgressClient(policy, timeout_s=(2, 5), pool_maxsize=2)
    try:
        for _ in range(3):
            with client.stream("GET", f"http://media.test:{cdn.port}/a.wav") as response:
                assert response.read(max_bytes=10_000) == BODY
    finally:
        client.close()
    assert [dialled for _, dialled in cdn.connections] == ["127.0.0.1", "127.0.0.2"]
