"""The derived outputs and lyrics rows of the contract (upstream-contract-more.md §3, §4, §5, §7):
the client against the simulator over real HTTP on loopback, one test per row of
docs/upstream.md; shapes the simulator cannot produce are mocked at the edge with `responses`."""

from __future__ import annotations

import time
import wave
from io import BytesIO

import pytest
import requests

from tests.conftest import SIMULATOR_KEY as KEY
from workers.musicapi.client import MusicApiClient, derived_answer
from workers.musicapi.errors import (
    InvalidRequest,
    OutcomeUnknownError,
    ProtocolError,
    RejectedError,
    TransientError,
    UnavailableError,
)
from workers.musicapi.types import CreateRequest


def song(client, text="calm piano for a focus timer", **kwargs) -> str:
    """A finished song's first clip id at the simulator."""
    task_id = client.create(CreateRequest(model="sonic-v5", description=text, **kwargs))
    return finished(lambda: client.status(task_id)).clips[0].clip_id


def finished(ask, timeout_s=5.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer = ask()
        if answer.finished:
            return answer
        time.sleep(0.05)
    raise AssertionError("did not finish")


def calls(simulator, suffix):
    return [c for c in simulator.calls if c["path"].endswith(suffix)]


# --- WAV -----------------------------------------------------------------------------------------


def test_a_wav_is_a_task_polled_like_a_song_and_its_file_is_a_real_wav(client, simulator):
    clip_id = song(client)
    before = simulator.credits
    answer = client.wav(clip_id)
    assert answer.task_id and not answer.finished
    assert simulator.credits == before - 2
    done = finished(lambda: client.derived_status(answer.task_id, name="wav"))
    assert [f.name for f in done.files] == ["wav"]
    audio = requests.get(done.files[0].url, timeout=5)
    assert audio.headers["Content-Type"] == "audio/wav"
    with wave.open(BytesIO(audio.content)) as stored:
        assert stored.getnframes() > 0


def test_a_wav_answered_at_once_is_finished_without_a_task(client):
    # The page does not say whether the WAV call is a task; the other reading is a URL at once.
    answer = client.wav(song(client, "[sim:derive-sync] x"))
    assert answer.finished and not answer.task_id
    assert [f.name for f in answer.files] == ["wav"]
    assert requests.get(answer.files[0].url, timeout=5).status_code == 200


def test_a_clip_the_vendor_did_not_make_is_a_rejection(client, simulator):
    with pytest.raises(RejectedError) as caught:
        client.wav("not-a-clip-of-ours")
    assert caught.value.status == 400
    with pytest.raises(InvalidRequest):
        client.wav("")
    assert len(calls(simulator, "/sonic/wav")) == 1


def test_a_refused_song_is_a_rejection_with_the_vendors_reason(client):
    clip_id = song(client, "[sim:derive-refused] x")
    for ask in (client.wav, client.stems, client.aligned_lyrics):
        with pytest.raises(RejectedError, match="copyrighted content"):
            ask(clip_id)


def test_a_failed_wav_task_finishes_with_the_vendors_reason(client):
    answer = client.wav(song(client, "[sim:derive-failed] x"))
    done = finished(lambda: client.derived_status(answer.task_id))
    assert done.error == "The output could not be made from this clip."
    assert done.files == ()


@pytest.mark.parametrize(("marker", "status"), [("derive-500", 500), ("derive-429", 429)])
def test_transient_derived_faults_then_the_retry_goes_through(client, simulator, marker, status):
    simulator.faults.retry_after_s = 3
    clip_id = song(client, f"[sim:{marker}] x")
    with pytest.raises(TransientError) as caught:
        client.wav(clip_id)
    assert caught.value.status == status
    if status == 429:
        assert caught.value.retry_after_s == 3
    assert client.wav(clip_id).task_id


def test_an_unparseable_derived_answer_is_a_protocol_error(client):
    with pytest.raises(ProtocolError, match="unparseable"):
        client.wav(song(client, "[sim:derive-garbage] x"))


def test_an_unanswered_wav_is_unconfirmed(client, simulator):
    clip_id = song(client)
    simulator.configure(faults={"slow": 1.0, "slow_s": 1.0})
    slow = MusicApiClient(base_url=client.base_url, key=KEY, timeout_s=(1, 0.3))
    with pytest.raises(OutcomeUnknownError):
        slow.wav(clip_id)


def test_spent_credits_refuse_a_wav_as_account_trouble(client, simulator):
    clip_id = song(client)
    simulator.credits = 1
    with pytest.raises(UnavailableError, match="credits are not enough"):
        client.wav(clip_id)


# --- stems ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("full", "count", "cost"), [(False, 2, 15), (True, 12, 75)])
def test_stems_are_a_task_with_one_named_file_each(client, simulator, full, count, cost):
    clip_id = song(client)
    before = simulator.credits
    answer = client.stems(clip_id, full=full)
    assert simulator.credits == before - cost
    done = finished(lambda: client.derived_status(answer.task_id, name="stem"))
    names = [f.name for f in done.files]
    assert len(names) == count == len(set(names))
    assert names[0] == "01-vocals"
    path = "/sonic/stems/full" if full else "/sonic/stems/basic"
    assert len(calls(simulator, path)) == 1


# --- lyrics timeline --------------------------------------------------------------------------


def test_the_timeline_is_synchronous_and_costs_one_credit_the_first_time(client, simulator):
    clip_id = song(client, mode="custom", lyrics="[Verse]\nla la\nlo lo")
    before = simulator.credits
    segments = client.aligned_lyrics(clip_id)
    assert [s["text"] for s in segments] == ["[Verse]", "la la", "lo lo"]
    assert all(isinstance(s["start"], float | int) and s["stop"] > s["start"] for s in segments)
    assert client.aligned_lyrics(clip_id) == segments
    assert simulator.credits == before - 1  # the second call came from the vendor's cache


def test_a_clip_without_lyrics_is_a_rejection_saying_so(client):
    clip_id = song(client, instrumental=True)
    with pytest.raises(RejectedError, match="no lyrics to align"):
        client.aligned_lyrics(clip_id)


# --- lyrics --------------------------------------------------------------------------------------


def test_lyrics_are_two_drafts_paid_from_their_own_pool(client, simulator):
    credits, lyrics_credits = simulator.credits, simulator.lyrics_credits
    drafts = client.lyrics("a song about sky")
    assert len(drafts) == 2
    assert all(d.title and "[Verse]" in d.lyrics for d in drafts)
    assert simulator.credits == credits
    assert simulator.lyrics_credits == lyrics_credits - 10


def test_the_client_refuses_lyrics_past_the_description_limit(client, simulator):
    with pytest.raises(InvalidRequest):
        client.lyrics("x" * 120)
    with pytest.raises(InvalidRequest):
        client.lyrics("  ")
    assert calls(simulator, "/sonic/lyrics") == []
    client.limits = type(client.limits)(lyrics_description=500)
    with pytest.raises(RejectedError, match="less than 120"):
        client.lyrics("x" * 120)


@pytest.mark.parametrize(
    ("marker", "error"),
    [
        ("moderation", RejectedError),
        ("copyright", RejectedError),
        ("no-subscription", UnavailableError),
        ("create-500", TransientError),
    ],
)
def test_lyrics_honour_the_prompt_markers(client, marker, error):
    with pytest.raises(error):
        client.lyrics(f"[sim:{marker}] sky")


def test_an_empty_lyrics_pool_is_account_trouble(client, simulator):
    simulator.lyrics_credits = 5
    with pytest.raises(UnavailableError, match="lyrics credits"):
        client.lyrics("sky")


# --- shapes the simulator cannot produce (mocked at the edge) ----------------------------------


@pytest.fixture
def mocked():
    responses = pytest.importorskip("responses")
    with responses.RequestsMock() as mock:
        yield mock


BASE = "https://vendor.test/api/v1"


def test_a_timeline_not_found_with_any_status_is_a_rejection(mocked):
    mocked.post(f"{BASE}/sonic/aligned-lyrics", json={"code": 404, "message": "not found"})
    with pytest.raises(RejectedError, match="no lyrics"):
        MusicApiClient(base_url=BASE, key=KEY).aligned_lyrics("c1")


@pytest.mark.parametrize(
    "body",
    [
        {"code": 200, "data": {}},
        {"code": 200, "data": {"alignment": "la"}},
        {"code": 200, "data": {"alignment": ["la"]}},
    ],
)
def test_a_timeline_outside_the_contract_is_a_protocol_error(mocked, body):
    mocked.post(f"{BASE}/sonic/aligned-lyrics", json=body)
    with pytest.raises(ProtocolError):
        MusicApiClient(base_url=BASE, key=KEY).aligned_lyrics("c1")


@pytest.mark.parametrize(
    "body", [{"code": 200, "results": []}, {"code": 200, "results": [{"title": "t"}]}]
)
def test_lyrics_outside_the_contract_are_a_protocol_error(mocked, body):
    mocked.post(f"{BASE}/sonic/lyrics", json=body)
    with pytest.raises(ProtocolError):
        MusicApiClient(base_url=BASE, key=KEY).lyrics("sky")


@pytest.mark.parametrize(
    ("body", "url"),
    [
        ({"code": 200, "data": {"wav_url": "https://cdn.test/a.wav"}}, "https://cdn.test/a.wav"),
        ({"code": 200, "audio_url": "https://cdn.test/b.wav"}, "https://cdn.test/b.wav"),
        (
            {
                "code": 200,
                "data": [{"clip_id": "w", "state": "succeeded", "audio_url": "https://c/w"}],
            },
            "https://c/w",
        ),
    ],
)
def test_the_wav_answer_is_read_in_every_shape_the_pages_allow(body, url):
    answer = derived_answer(body, name="wav")
    assert answer.finished and [(f.name, f.url) for f in answer.files] == [("wav", url)]


@pytest.mark.parametrize(
    "body", [{"message": "success"}, {"data": {"wav_url": "ftp://x"}}, [], {"data": []}]
)
def test_a_wav_answer_without_a_task_or_a_file_is_a_protocol_error(body):
    with pytest.raises(ProtocolError):
        derived_answer(body, name="wav")
