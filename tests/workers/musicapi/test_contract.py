"""The client against the simulator over real HTTP, one test per line of the upstream contract
(docs/upstream.md maps each line to the simulator's behaviour and to the test here)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import wave
from http.server import BaseHTTPRequestHandler, HTTPServer
from io import BytesIO

import pytest
import requests

from tests.conftest import SIMULATOR_KEY as KEY
from workers.musicapi.client import MusicApiClient
from workers.musicapi.errors import (
    InvalidRequest,
    OutcomeUnknownError,
    ProtocolError,
    RejectedError,
    TaskNotFoundError,
    TransientError,
    UnavailableError,
)
from workers.musicapi.types import CreateRequest


def describe(text: str = "calm piano for a focus timer", **kwargs) -> CreateRequest:
    return CreateRequest(model="sonic-v5", description=text, **kwargs)


def wait_until_finished(client, task_id, timeout_s=5.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = client.status(task_id)
        if status.finished:
            return status
        time.sleep(0.05)
    raise AssertionError("the task did not finish")


def creates(simulator) -> list[dict]:
    return [c for c in simulator.calls if c["path"].endswith("/sonic/create")]


# --- transport ---------------------------------------------------------------------------------


def test_the_key_travels_as_a_bearer_token_and_nowhere_else(client, simulator):
    assert client.create(describe())
    assert KEY not in repr(client)
    wrong = MusicApiClient(base_url=client.base_url, key="wrong-key")
    with pytest.raises(UnavailableError) as caught:
        wrong.create(describe())
    assert "wrong-key" not in str(caught.value)


def test_a_slow_poll_is_a_transient_timeout(simulator):
    task_id = MusicApiClient(base_url=f"{simulator.public_url}/api/v1", key=KEY).create(describe())
    simulator.configure(faults={"slow": 1.0, "slow_s": 1.0})
    client = MusicApiClient(base_url=f"{simulator.public_url}/api/v1", key=KEY, timeout_s=(1, 0.3))
    with pytest.raises(TransientError, match="timed out"):
        client.status(task_id)


def test_an_unanswered_create_is_unconfirmed_not_transient(simulator):
    # The vendor goes on to create the task: retrying would make a second one.
    simulator.configure(faults={"slow": 1.0, "slow_s": 1.0})
    client = MusicApiClient(base_url=f"{simulator.public_url}/api/v1", key=KEY, timeout_s=(1, 0.3))
    with pytest.raises(OutcomeUnknownError, match="no answer"):
        client.create(describe())


def test_a_hanging_create_has_made_the_task_and_is_unconfirmed(simulator):
    """The vendor accepts, makes the task, and answers only after the client gave up."""
    simulator.configure(faults={"hang": 1.0, "hang_s": 1.0})
    client = MusicApiClient(base_url=f"{simulator.public_url}/api/v1", key=KEY, timeout_s=(1, 0.3))
    with pytest.raises(OutcomeUnknownError, match="no answer"):
        client.create(describe("hung #1"))
    assert [t["prompt"] for t in simulator.ledger()["tasks"]] == ["hung #1"]


def test_a_hanging_poll_is_a_transient_timeout(simulator):
    task_id = MusicApiClient(base_url=f"{simulator.public_url}/api/v1", key=KEY).create(describe())
    simulator.configure(faults={"hang": 1.0, "hang_s": 1.0})
    client = MusicApiClient(base_url=f"{simulator.public_url}/api/v1", key=KEY, timeout_s=(1, 0.3))
    started = time.monotonic()
    with pytest.raises(TransientError, match="timed out"):
        client.status(task_id)
    assert time.monotonic() - started < 0.9  # the client's timeout, not the vendor's hang


def test_a_create_marked_hang_create_hangs(simulator):
    client = MusicApiClient(base_url=f"{simulator.public_url}/api/v1", key=KEY, timeout_s=(1, 0.3))
    simulator.configure(faults={"hang_s": 1.0})
    with pytest.raises(OutcomeUnknownError):
        client.create(describe("[sim:hang-create] x"))
    assert len(simulator.ledger()["tasks"]) == 1


class _HangUp(BaseHTTPRequestHandler):
    """Reads the whole request, then closes the connection without a word."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.close_connection = True

    do_GET = do_POST

    def log_message(self, *args):
        pass


def test_a_connection_dropped_after_the_request_is_unconfirmed_for_a_create_only():
    server = HTTPServer(("127.0.0.1", 0), _HangUp)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = MusicApiClient(
            base_url=f"http://127.0.0.1:{server.server_port}/api/v1", key=KEY, timeout_s=(1, 5)
        )
        with pytest.raises(OutcomeUnknownError):
            client.create(describe())
        with pytest.raises(TransientError):
            client.status("t1")
    finally:
        server.shutdown()
        server.server_close()


def test_a_create_that_cannot_connect_is_transient():
    client = MusicApiClient(base_url="http://127.0.0.1:9/api/v1", key=KEY, timeout_s=(1, 1))
    with pytest.raises(TransientError):
        client.create(describe())


def test_an_unreachable_vendor_is_transient():
    client = MusicApiClient(base_url="http://127.0.0.1:9/api/v1", key=KEY, timeout_s=(1, 1))
    with pytest.raises(TransientError, match="unreachable") as caught:
        client.credits()
    assert KEY not in str(caught.value)
    assert "busy" not in str(caught.value)


# --- create ------------------------------------------------------------------------------------


def test_description_mode_creates_a_task(client, simulator):
    task_id = client.create(describe())
    assert task_id
    assert len(creates(simulator)) == 1
    payload = client.create_payload(describe())
    assert payload == {
        "task_type": "create_music",
        "custom_mode": False,
        "mv": "sonic-v5",
        "gpt_description_prompt": "calm piano for a focus timer",
    }


def test_custom_mode_sends_lyrics_title_tags_and_options(client):
    request = CreateRequest(
        model="sonic-v5",
        mode="custom",
        lyrics="[Verse]\nla la",
        title="Morning",
        tags="pop",
        negative_tags="metal",
        instrumental=True,
        auto_lyrics=True,
        vocal_gender="f",
    )
    assert client.create(request)
    assert client.create_payload(request) == {
        "task_type": "create_music",
        "custom_mode": True,
        "mv": "sonic-v5",
        "prompt": "[Verse]\nla la",
        "title": "Morning",
        "tags": "pop",
        "auto_lyrics": True,
        "make_instrumental": True,
        "negative_tags": "metal",
        "vocal_gender": "f",
    }


def test_extend_and_cover_name_the_source_clip(client):
    extend = describe(operation="extend", source_vendor_clip_id="c1", continue_at=12.5)
    cover = describe(operation="cover", source_vendor_clip_id="c1")
    assert client.create(extend) and client.create(cover)
    assert client.create_payload(extend)["task_type"] == "extend_music"
    assert client.create_payload(extend)["continue_clip_id"] == "c1"
    assert client.create_payload(extend)["continue_at"] == 12.5
    assert client.create_payload(cover)["task_type"] == "cover_music"
    assert "continue_at" not in client.create_payload(cover)


@pytest.mark.parametrize(
    "request_",
    [
        describe("x" * 401),
        CreateRequest(model="sonic-v4", mode="custom", lyrics="x" * 3001),
        CreateRequest(model="sonic-v5", mode="custom", lyrics="x" * 5001),
        CreateRequest(model="sonic-v5", mode="custom", lyrics="la", title="x" * 81),
        CreateRequest(model="sonic-v5", mode="custom", lyrics="la", tags="x" * 201),
        CreateRequest(model="sonic-v4", mode="custom", lyrics="la", vocal_gender="m"),
        describe(operation="extend", source_vendor_clip_id="c1"),
        describe(operation="cover"),
        describe(""),
    ],
)
def test_the_client_refuses_to_send_past_the_limits(client, simulator, request_):
    with pytest.raises(InvalidRequest):
        client.create(request_)
    assert creates(simulator) == []


def test_an_invalid_field_is_a_rejection_with_the_vendors_message(client):
    with pytest.raises(RejectedError) as caught:
        client.create(CreateRequest(model="sonic-v9", description="x"))
    assert caught.value.status == 400
    assert caught.value.message.startswith("The 'mv' field is invalid")


def test_the_vendors_length_rule_is_a_rejection(client):
    # An operator who raised the limit past the vendor's still gets a clean rejection.
    client.limits = type(client.limits)(lyrics=10_000)
    with pytest.raises(RejectedError, match="less than 3000"):
        client.create(CreateRequest(model="sonic-v4", mode="custom", lyrics="x" * 3001))


# --- status ------------------------------------------------------------------------------------


def test_a_task_goes_202_then_not_ready_then_clips_then_finished(client, simulator):
    simulator.ready_after_s = 2.0
    task_id = client.create(describe())
    seen = []
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        status = client.status(task_id)
        states = tuple(c.state for c in status.clips)
        if not seen or seen[-1] != states:
            seen.append(states)
        if status.finished:
            break
        time.sleep(0.05)
    assert seen[0] == ()  # 202, then not_ready: still working, no clips
    assert ("streaming", "running") in seen  # one streaming: not finished
    assert seen[-1] == ("succeeded", "succeeded")
    http = [c["status"] for c in simulator.calls if c["task_id"] == task_id and "task" in c["path"]]
    assert http[0] == 202 and 200 in http


def test_a_streaming_clip_is_playable_but_not_finished(client, simulator):
    simulator.ready_after_s = 2.0
    task_id = client.create(describe())
    time.sleep(1.5)
    status = client.status(task_id)
    assert [c.state for c in status.clips] == ["streaming", "running"]
    assert status.clips[0].audio_url and not status.clips[1].audio_url
    assert not status.finished


def test_finished_clips_carry_their_metadata(client):
    status = wait_until_finished(client, client.create(describe()))
    first, second = status.clips
    assert first.audio_url.endswith(".wav") and first.image_url.endswith(".png")
    assert first.duration == 3.0 and second.duration == 3.0  # an int and a float on the wire
    assert first.model == "sonic-v5"
    assert first.title and first.created_at


def test_a_failed_clip_carries_its_reason_and_the_task_still_finishes(client):
    status = wait_until_finished(client, client.create(describe("[sim:clip-failed] x")))
    assert [c.state for c in status.clips] == ["succeeded", "failed"]
    assert status.clips[1].error.startswith("Generation failed")


def test_an_unknown_task_is_task_not_found(client):
    with pytest.raises(TaskNotFoundError) as caught:
        client.status("no-such-task")
    assert caught.value.status == 400


def test_a_missing_task_id_is_refused_before_sending(client, simulator):
    with pytest.raises(InvalidRequest):
        client.status("")


def test_missing_task_id_from_the_vendor_is_task_not_found(client):
    with pytest.raises(TaskNotFoundError):
        client._request("GET", "/sonic/task/")


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Basic abc"])
def test_a_401_means_unavailable(simulator, header):
    session = requests.Session()
    client = MusicApiClient(base_url=f"{simulator.public_url}/api/v1", key=KEY, session=session)
    if header is None:
        session.request = _without_auth(session.request)
    else:
        session.request = _with_auth(session.request, header)
    with pytest.raises(UnavailableError) as caught:
        client.credits()
    assert caught.value.status == 401
    assert caught.value.message in {
        "Authorization header is missing.",
        "Invalid authorization format.",
    }


def _without_auth(send):
    def request(method, url, headers=None, **kwargs):
        headers = {k: v for k, v in (headers or {}).items() if k != "Authorization"}
        return send(method, url, headers=headers, **kwargs)

    return request


def _with_auth(send, value):
    def request(method, url, headers=None, **kwargs):
        return send(method, url, headers={**(headers or {}), "Authorization": value}, **kwargs)

    return request


@pytest.mark.parametrize("marker", ["no-credits", "no-subscription"])
def test_account_trouble_403s_mean_unavailable(client, marker):
    with pytest.raises(UnavailableError) as caught:
        client.create(describe(f"[sim:{marker}] x"))
    assert caught.value.status == 403


@pytest.mark.parametrize(
    ("marker", "text"),
    [
        ("moderation", "The song description needs moderation review."),
        ("copyright", "The lyrics contain copyrighted content"),
    ],
)
def test_moderation_403s_are_rejections_with_the_reason(client, marker, text):
    with pytest.raises(RejectedError) as caught:
        client.create(describe(f"[sim:{marker}] x"))
    assert caught.value.message.startswith(text)


def test_spent_credits_answer_403_and_the_balance_is_readable(client, simulator):
    simulator.credits = 20
    assert client.credits().credits == 20
    client.create(describe())
    assert client.credits().credits == 5
    with pytest.raises(UnavailableError, match="credits are not enough"):
        client.create(describe())


def test_a_429_is_transient_with_its_retry_after(client, simulator):
    simulator.faults.retry_after_s = 7
    with pytest.raises(TransientError) as caught:
        client.create(describe("[sim:create-429] x"))
    assert caught.value.status == 429
    assert caught.value.retry_after_s == 7
    assert client.create(describe("[sim:create-429] x"))  # the retry goes through


def test_a_5xx_is_transient(client):
    with pytest.raises(TransientError) as caught:
        client.create(describe("[sim:create-500] x"))
    assert caught.value.status == 500


def test_transient_poll_faults(client):
    task_id = client.create(describe("[sim:poll-429] [sim:poll-500] x"))
    with pytest.raises(TransientError):
        client.status(task_id)
    assert client.status(task_id) is not None


def test_a_200_with_an_error_code_is_an_error(client):
    with pytest.raises(RejectedError, match="'mv' field is invalid"):
        client.create(describe("[sim:create-code-error] x"))


@pytest.mark.parametrize("marker", ["create-garbage", "poll-garbage"])
def test_an_unparseable_body_is_a_protocol_error(client, marker):
    with pytest.raises(ProtocolError, match="unparseable"):
        task_id = client.create(describe(f"[sim:{marker}] x"))
        client.status(task_id)


# --- shapes the simulator cannot produce (mocked at the edge with `responses`) ---------------


@pytest.fixture
def mocked():
    responses = pytest.importorskip("responses")
    with responses.RequestsMock() as mock:
        yield mock


BASE = "https://vendor.test/api/v1"


def offline_client():
    return MusicApiClient(base_url=BASE, key=KEY)


def test_a_402_means_unavailable(mocked):
    mocked.post(f"{BASE}/sonic/create", status=402, json={"code": 402, "message": "Payment"})
    with pytest.raises(UnavailableError):
        offline_client().create(describe())


def test_retry_after_as_an_http_date(mocked):
    when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    mocked.get(f"{BASE}/get-credits", status=429, headers={"Retry-After": when}, body="slow down")
    with pytest.raises(TransientError) as caught:
        offline_client().credits()
    assert 20 < caught.value.retry_after_s <= 31


@pytest.mark.parametrize("status", [301, 404, 418])
def test_an_unlisted_status_is_a_protocol_error_with_the_text_kept(mocked, status):
    mocked.get(f"{BASE}/sonic/task/t1", status=status, body="x" * 2000)
    with pytest.raises(ProtocolError) as caught:
        offline_client().status("t1")
    assert len(caught.value.message) <= 500


@pytest.mark.parametrize(
    "body",
    [
        {"code": 200, "data": [{"clip_id": "a", "state": "exploded"}]},
        {"code": 200, "data": [{"state": "succeeded"}]},
        {"code": 200, "message": "success"},
        {"message": "success"},
    ],
)
def test_a_task_body_outside_the_contract_is_a_protocol_error(mocked, body):
    mocked.get(f"{BASE}/sonic/task/t1", json=body)
    with pytest.raises(ProtocolError):
        offline_client().status("t1")


def test_a_create_without_task_id_is_a_protocol_error(mocked):
    mocked.post(f"{BASE}/sonic/create", json={"message": "success"})
    with pytest.raises(ProtocolError):
        offline_client().create(describe())


# --- credits, webhooks, media ------------------------------------------------------------------


def test_credits_are_read(client):
    credits = client.credits()
    assert credits.credits > 0 and credits.extra_credits == 0


class _Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def test_a_signed_webhook_arrives_when_the_task_finishes(client, receiver):
    url = f"http://127.0.0.1:{receiver.server_port}/hook"
    task_id = client.create(describe(webhook_url=url, webhook_secret="s3cret"))
    deadline = time.monotonic() + 5
    while not _Receiver.received and time.monotonic() < deadline:
        time.sleep(0.05)
    headers, body = _Receiver.received[0]
    timestamp = headers["X-Webhook-Timestamp"]
    expected = hmac.new(b"s3cret", f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert headers["X-Webhook-Signature"] == f"sha256={expected}"
    assert headers["X-Webhook-Id"] == headers["Idempotency-Key"]
    assert headers["X-Webhook-Event"] == "song.completed"
    payload = json.loads(body)
    assert payload["event"] == "song.completed"
    assert {c["state"] for c in payload["data"]} == {"succeeded"}
    assert task_id


def test_a_lost_webhook_never_arrives(client, simulator, receiver):
    url = f"http://127.0.0.1:{receiver.server_port}/hook"
    client.create(describe("[sim:lost-webhook] x", webhook_url=url, webhook_secret="s"))
    deadline = time.monotonic() + 3
    while not simulator.webhooks and time.monotonic() < deadline:
        time.sleep(0.05)
    assert simulator.webhooks[0]["lost"] is True
    assert _Receiver.received == []


@pytest.mark.parametrize(
    ("marker", "faults"),
    [("[sim:duplicate-webhook] ", {}), ("", {"duplicate_webhook": 1.0})],
    ids=["marker", "rate"],
)
def test_a_duplicated_webhook_arrives_twice_with_one_event_id(
    client, simulator, receiver, marker, faults
):
    """Deliveries can repeat: the vendor's retry carries the same event id, signed again."""
    simulator.configure(faults={**faults, "duplicate_webhook_after_s": 1.1})
    url = f"http://127.0.0.1:{receiver.server_port}/hook"
    client.create(describe(f"{marker}twice", webhook_url=url, webhook_secret="s3cret"))
    deadline = time.monotonic() + 5
    while len(_Receiver.received) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_Receiver.received) == 2
    (first, first_body), (second, second_body) = _Receiver.received
    assert first["X-Webhook-Id"] == second["X-Webhook-Id"]
    assert first_body == second_body
    for headers in (first, second):
        timestamp = headers["X-Webhook-Timestamp"]
        expected = hmac.new(b"s3cret", f"{timestamp}.".encode() + first_body, hashlib.sha256)
        assert headers["X-Webhook-Signature"] == f"sha256={expected.hexdigest()}"
    assert [w["duplicate"] for w in simulator.webhooks] == [False, True]


def test_the_audio_is_a_real_wav_of_the_reported_duration_with_ranges(client):
    status = wait_until_finished(client, client.create(describe()))
    url = status.clips[0].audio_url
    whole = requests.get(url, timeout=5)
    assert whole.headers["Content-Type"] == "audio/wav"
    with wave.open(BytesIO(whole.content)) as audio:
        assert audio.getnframes() / audio.getframerate() == pytest.approx(status.clips[0].duration)
    part = requests.get(url, headers={"Range": "bytes=0-99"}, timeout=5)
    assert part.status_code == 206
    assert part.content == whole.content[:100]
    assert part.headers["Content-Range"] == f"bytes 0-99/{len(whole.content)}"
    tail = requests.get(url, headers={"Range": "bytes=-10"}, timeout=5)
    assert tail.content == whole.content[-10:]
    beyond = requests.get(url, headers={"Range": f"bytes={len(whole.content)}-"}, timeout=5)
    assert beyond.status_code == 416
    cover = requests.get(status.clips[0].image_url, timeout=5)
    assert cover.content.startswith(b"\x89PNG")
