"""Uploads (upstream-contract-more.md §1, §2c): `POST /sonic/upload {url}` answers a clip id at
once, after the vendor fetched the URL; `extend_upload_music` / `cover_upload_music` work on
such a clip. The client against the simulator over loopback, the simulator fetching the audio
from a loopback file server as the vendor fetches ours."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.audio_files import mp3_bytes, wav_bytes
from tests.conftest import SIMULATOR_KEY as KEY
from tests.workers.musicapi.test_contract import wait_until_finished
from workers.musicapi.client import MusicApiClient
from workers.musicapi.errors import (
    InvalidRequest,
    OutcomeUnknownError,
    ProtocolError,
    RejectedError,
    TransientError,
    UnavailableError,
)
from workers.musicapi.types import CreateRequest


class Files:
    """A loopback file server: `url(data)` serves `data` at a fresh path; `fetched` logs GETs."""

    def __init__(self) -> None:
        self.served: dict[str, bytes] = {}
        self.fetched: list[str] = []
        files = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path.partition("?")[0]
                files.fetched.append(path)
                body = files.served.get(path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, data: bytes, extension: str = "wav") -> str:
        path = f"/audio/{len(self.served)}.{extension}"
        self.served[path] = data
        return f"http://127.0.0.1:{self.server.server_port}{path}?expires=1&sig=x"


@pytest.fixture
def files():
    files = Files()
    yield files
    files.server.shutdown()
    files.server.server_close()


def spent(simulator) -> int:
    return simulator.ledger()["credits_spent"]


def test_an_upload_is_fetched_from_its_url_and_answered_with_a_clip_for_two_credits(
    client, simulator, files
):
    url = files.url(wav_bytes(8.0))
    clip_id = client.upload(url)
    assert clip_id
    assert files.fetched == ["/audio/0.wav"]
    assert spent(simulator) == 2
    [call] = [c for c in simulator.calls if c["path"].endswith("/sonic/upload")]
    assert call["method"] == "POST" and call["status"] == 200


def test_an_mp3_upload_works_too(client, files):
    assert client.upload(files.url(mp3_bytes(20.0), "mp3"))


def test_the_client_refuses_an_upload_without_an_http_url_before_sending(client, simulator):
    with pytest.raises(InvalidRequest):
        client.upload("file:///etc/passwd")
    assert not simulator.calls


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not audio at all" * 100, "Invalid audio file"),
        (wav_bytes(61.0), "between 6 and 60 seconds"),
        (wav_bytes(5.0), "between 6 and 60 seconds"),
    ],
    ids=["not-audio", "too-long", "too-short"],
)
def test_audio_the_vendor_cannot_use_is_a_rejection_with_its_reason_and_free(
    client, simulator, files, data, reason
):
    with pytest.raises(RejectedError, match=reason):
        client.upload(files.url(data))
    assert spent(simulator) == 0


def test_a_url_the_vendor_cannot_fetch_is_a_rejection(client, simulator, files):
    files.url(wav_bytes(8.0))
    missing = f"http://127.0.0.1:{files.server.server_port}/audio/missing.wav"
    with pytest.raises(RejectedError, match="not accessible"):
        client.upload(missing)
    assert spent(simulator) == 0


def test_a_refused_file_is_a_rejection_with_the_vendors_reason(client, simulator, files):
    with pytest.raises(RejectedError, match="copyrighted"):
        client.upload(files.url(wav_bytes(8.0, comment="[sim:copyright]")))
    assert spent(simulator) == 0


def test_no_credits_at_the_vendor_is_account_trouble(client, files):
    with pytest.raises(UnavailableError):
        client.upload(files.url(wav_bytes(8.0, comment="[sim:no-credits]")))


@pytest.mark.parametrize("marker", ["upload-500", "upload-429"])
def test_a_transient_upload_fault_then_the_retry_goes_through(client, simulator, files, marker):
    simulator.faults.retry_after_s = 3
    url = files.url(wav_bytes(8.0, comment=f"[sim:{marker}]"))
    with pytest.raises(TransientError) as caught:
        client.upload(url)
    if marker == "upload-429":
        assert caught.value.retry_after_s == 3
    # The retry carries a fresh signature (a new query), the same file.
    assert client.upload(url.replace("sig=x", "sig=y"))
    assert spent(simulator) == 2


@pytest.mark.parametrize("marker", ["upload-garbage", "upload-no-clip"])
def test_an_upload_answer_outside_the_contract_is_a_protocol_error(client, files, marker):
    with pytest.raises(ProtocolError):
        client.upload(files.url(wav_bytes(8.0, comment=f"[sim:{marker}]")))


def test_the_fault_profile_applies_to_uploads(client, simulator, files):
    simulator.configure(faults={"server_error": 1.0})
    with pytest.raises(TransientError):
        client.upload(files.url(wav_bytes(8.0)))
    assert files.fetched == []  # refused before fetching: nothing made, nothing charged


def test_the_moderation_rate_refuses_uploads_too(client, simulator, files):
    simulator.configure(faults={"moderation": 1.0})
    with pytest.raises(RejectedError, match="moderation"):
        client.upload(files.url(wav_bytes(8.0)))
    assert spent(simulator) == 0


def test_an_unanswered_upload_is_unconfirmed_and_the_clip_was_made(simulator, files):
    simulator.configure(faults={"hang_s": 1.0})
    client = MusicApiClient(
        base_url=f"{simulator.public_url}/api/v1", key=KEY, upload_timeout_s=(1, 0.5)
    )
    with pytest.raises(OutcomeUnknownError):
        client.upload(files.url(wav_bytes(8.0, comment="[sim:hang-create]")))
    assert spent(simulator) == 2


def test_uploads_are_read_with_their_own_longer_timeout(simulator, files):
    """The vendor takes about 20 s to answer an upload: not the create's read timeout."""
    simulator.configure(faults={"slow_s": 0.6})
    client = MusicApiClient(
        base_url=f"{simulator.public_url}/api/v1",
        key=KEY,
        timeout_s=(1, 0.3),
        upload_timeout_s=(1, 5),
    )
    assert client.upload(files.url(wav_bytes(8.0, comment="[sim:slow-create]")))


# --- extend and cover of an uploaded clip ---------------------------------------------------


def on_upload(clip_id: str, operation: str, **fields) -> CreateRequest:
    return CreateRequest(
        model="sonic-v5",
        mode="custom",
        lyrics="[Verse]\nmy own tune",
        tags="folk",
        operation=operation,
        source_vendor_clip_id=clip_id,
        source_uploaded=True,
        **fields,
    )


def test_extend_and_cover_of_an_uploaded_clip_use_the_upload_task_types(client):
    extend = client.create_payload(on_upload("c1", "extend", continue_at=0.1))
    cover = client.create_payload(on_upload("c1", "cover"))
    assert (extend["task_type"], extend["continue_clip_id"], extend["continue_at"]) == (
        "extend_upload_music",
        "c1",
        0.1,
    )
    assert (cover["task_type"], cover["continue_clip_id"]) == ("cover_upload_music", "c1")
    assert "continue_at" not in cover


def test_a_cover_of_an_upload_is_a_task_of_two_songs_for_fifteen_credits(client, simulator, files):
    clip_id = client.upload(files.url(wav_bytes(8.0)))
    status = wait_until_finished(client, client.create(on_upload(clip_id, "cover")))
    assert [c.state for c in status.clips] == ["succeeded", "succeeded"]
    assert spent(simulator) == 2 + 15
    assert simulator.ledger()["tasks"][-1]["task_type"] == "cover_upload_music"


def test_an_extend_of_an_upload_is_a_task(client, files):
    clip_id = client.upload(files.url(wav_bytes(8.0)))
    status = wait_until_finished(
        client, client.create(on_upload(clip_id, "extend", continue_at=0.1))
    )
    assert status.clips[0].audio_url


def test_the_simulator_refuses_the_wrong_task_type_for_the_clip(client, files):
    uploaded = client.upload(files.url(wav_bytes(8.0)))
    plain = CreateRequest(
        model="sonic-v5",
        description="a cover",
        operation="cover",
        source_vendor_clip_id=uploaded,
    )
    with pytest.raises(RejectedError, match="cover_upload_music"):
        client.create(plain)
    song = wait_until_finished(
        client, client.create(CreateRequest(model="sonic-v5", description="x"))
    )
    with pytest.raises(RejectedError, match="not an uploaded clip"):
        client.create(on_upload(song.clips[0].clip_id, "cover"))


def test_an_extension_of_an_upload_concatenates_into_the_full_song(client, files):
    clip_id = client.upload(files.url(wav_bytes(8.0)))
    extension = wait_until_finished(
        client, client.create(on_upload(clip_id, "extend", continue_at=6.0))
    ).clips[0]
    concat = CreateRequest(
        model="sonic-v5", operation="concat", source_vendor_clip_id=extension.clip_id
    )
    [full] = wait_until_finished(client, client.create(concat)).clips
    assert full.state == "succeeded"
    assert full.duration == 6.0 + extension.duration
