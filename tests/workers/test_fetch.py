"""Safe fetching: each SSRF case, against real servers on loopback."""

import pytest

from generations.media import MediaRefused, MediaUnavailable
from tests.media_server import MediaServer
from workers.fetch import SafeFetcher

WAV = b"RIFF" + b"\x00" * 100


@pytest.fixture
def cdn():
    server = MediaServer()
    yield server
    server.close()


def explicit(cdn) -> SafeFetcher:
    return SafeFetcher([f"http://127.0.0.1:{cdn.port}"], timeout_s=(2, 5))


def test_an_explicitly_listed_host_is_fetched_with_its_digest(cdn):
    url = cdn.route("/a.wav", headers={"Content-Type": "audio/wav"}, body=WAV)
    fetched = explicit(cdn)(url, max_bytes=1000, kind="audio")
    with fetched.file:
        assert fetched.file.read() == WAV
    assert (fetched.content_type, fetched.size, len(fetched.sha256)) == ("audio/wav", 104, 64)


def test_an_unlisted_host_is_refused(cdn):
    url = cdn.route("/a.wav", headers={"Content-Type": "audio/wav"}, body=WAV)
    with pytest.raises(MediaRefused, match="not in MUSICAPI_MEDIA_HOSTS"):
        SafeFetcher(["cdn1.suno.ai"])(url, max_bytes=1000, kind="audio")


def test_the_port_is_part_of_the_listing(cdn):
    url = cdn.route("/a.wav", headers={"Content-Type": "audio/wav"}, body=WAV)
    with pytest.raises(MediaRefused):
        SafeFetcher([f"http://127.0.0.1:{cdn.port + 1}"])(url, max_bytes=1000, kind="audio")


def test_plain_http_needs_an_explicit_listing(cdn):
    url = cdn.route("/a.wav", headers={"Content-Type": "audio/wav"}, body=WAV)
    with pytest.raises(MediaRefused, match="plain http"):
        SafeFetcher([f"127.0.0.1:{cdn.port}"])(url, max_bytes=1000, kind="audio")


def test_a_listed_name_resolving_to_a_private_address_is_refused(cdn):
    # "localhost" is listed as a plain name, so it must resolve to public addresses only.
    with pytest.raises(MediaRefused, match="non-public address"):
        SafeFetcher([f"localhost:{cdn.port}"])(
            f"https://localhost:{cdn.port}/a.wav", max_bytes=1000, kind="audio"
        )


@pytest.mark.parametrize(
    "target",
    ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "file:///etc/passwd"],
)
def test_a_redirect_out_of_the_list_is_refused(cdn, target):
    url = cdn.route("/a.wav", status=302, headers={"Location": target})
    with pytest.raises(MediaRefused):
        explicit(cdn)(url, max_bytes=1000, kind="audio")


def test_a_redirect_within_the_list_is_followed(cdn):
    final = cdn.route("/b.wav", headers={"Content-Type": "audio/wav"}, body=WAV)
    url = cdn.route("/a.wav", status=301, headers={"Location": final})
    assert explicit(cdn)(url, max_bytes=1000, kind="audio").size == len(WAV)


def test_a_redirect_loop_is_cut(cdn):
    url = cdn.route("/loop", status=302, headers={"Location": "/loop"})
    with pytest.raises(MediaRefused, match="redirects"):
        explicit(cdn)(url, max_bytes=1000, kind="audio")


def test_a_declared_two_gigabytes_is_refused_unread(cdn):
    url = cdn.route(
        "/huge.wav",
        headers={"Content-Type": "audio/wav", "Content-Length": str(2 * 1024**3)},
        body=b"",
    )
    with pytest.raises(MediaRefused, match="over the"):
        explicit(cdn)(url, max_bytes=50 * 1024**2, kind="audio")


def test_a_body_growing_past_the_cap_is_cut(cdn):
    url = cdn.route("/big.wav", headers={"Content-Type": "audio/wav"}, body=b"x" * 5000)
    with pytest.raises(MediaRefused, match="over the"):
        explicit(cdn)(url, max_bytes=1000, kind="audio")


def test_html_instead_of_audio_is_refused(cdn):
    url = cdn.route("/a.wav", headers={"Content-Type": "text/html"}, body=b"<html>")
    with pytest.raises(MediaRefused, match="expected audio"):
        explicit(cdn)(url, max_bytes=1000, kind="audio")


@pytest.mark.parametrize(("status", "error"), [(503, MediaUnavailable), (404, MediaRefused)])
def test_server_errors_are_transient_and_client_errors_permanent(cdn, status, error):
    url = cdn.route("/a.wav", status=status, headers={"Content-Type": "text/plain"}, body=b"no")
    with pytest.raises(error):
        explicit(cdn)(url, max_bytes=1000, kind="audio")


def test_an_unreachable_host_is_transient():
    with pytest.raises(MediaUnavailable):
        SafeFetcher(["http://127.0.0.1:9"], timeout_s=(1, 1))(
            "http://127.0.0.1:9/a.wav", max_bytes=10, kind="audio"
        )


def test_a_backslash_cannot_smuggle_an_unlisted_port(cdn):
    unlisted = MediaServer()
    try:
        unlisted.route("*", headers={"Content-Type": "audio/wav"}, body=WAV)
        cdn.route("/x", headers={"Content-Type": "audio/wav"}, body=WAV)
        url = f"http://127.0.0.1:{unlisted.port}\\@127.0.0.1:{cdn.port}/x"
        with pytest.raises(MediaRefused):
            explicit(cdn)(url, max_bytes=1000, kind="audio")
        assert unlisted.hits == []
    finally:
        unlisted.close()


def test_a_control_character_in_the_host_is_a_refusal_not_a_crash(cdn):
    with pytest.raises(MediaRefused):
        explicit(cdn)(f"http://127.0.0.1:{cdn.port}\\x/a.wav", max_bytes=10, kind="audio")
    with pytest.raises(MediaRefused):
        explicit(cdn)("http://127.0.0.1\x00.evil/a.wav", max_bytes=10, kind="audio")


def test_the_workers_fetcher_keeps_a_connection_per_thread(monkeypatch, cdn, caplog):
    """Issue: "Connection pool is full, discarding connection: 127.0.0.1. Connection pool size:
    1" from copy_clip_media: the media worker's 4 threads shared a pool of one."""
    import threading

    from workers import fetch

    monkeypatch.setenv(fetch.WORKER_THREADS_ENV, "4")
    fetch.get_fetcher.cache_clear()
    try:
        fetcher = fetch.get_fetcher()
    finally:
        fetch.get_fetcher.cache_clear()
    fetcher.client.policy = explicit(cdn).client.policy
    url = cdn.route("/a.wav", headers={"Content-Type": "audio/wav"}, body=WAV)
    for _ in range(2):
        together = threading.Barrier(4)
        sizes = []

        def one(together=together, sizes=sizes):
            with fetcher.client.stream("GET", url) as response:
                together.wait()
                sizes.append(len(response.read(max_bytes=1000)))

        threads = [threading.Thread(target=one) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sizes == [len(WAV)] * 4
    assert len(cdn.connections) == 4
    assert "pool is full" not in caplog.text


def test_runworkers_tells_its_processes_their_thread_count(monkeypatch):
    from django.core.management import call_command
    from dramatiq import cli

    from workers import fetch

    seen = {}
    monkeypatch.delenv(fetch.WORKER_THREADS_ENV, raising=False)
    monkeypatch.setattr(cli, "main", lambda args: seen.update(threads=fetch.worker_threads()))
    with pytest.raises(SystemExit):
        call_command("runworkers", "--processes", "1", "--threads", "3", "--queues", "media")
    assert seen == {"threads": 3}
