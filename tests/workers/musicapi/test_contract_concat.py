"""Concat (upstream-contract-more.md §6d): `POST /sonic/create` with `task_type: concat_music` and
only `continue_clip_id`, the client against the simulator over loopback HTTP."""

from __future__ import annotations

import time

import pytest

from workers.musicapi.errors import InvalidRequest, RejectedError
from workers.musicapi.types import CreateRequest


def finished(ask, timeout_s=5.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer = ask()
        if answer.finished:
            return answer
        time.sleep(0.05)
    raise AssertionError("did not finish")


def done_clip(client, request: CreateRequest) -> str:
    task_id = client.create(request)
    return finished(lambda: client.status(task_id)).clips[0].clip_id


def concat(source: str) -> CreateRequest:
    return CreateRequest(model="sonic-v5", operation="concat", source_vendor_clip_id=source)


def test_the_concat_payload_carries_only_the_extended_clip(client):
    payload = client.create_payload(concat("c1"))
    assert payload == {"task_type": "concat_music", "continue_clip_id": "c1"}


def test_the_concat_payload_keeps_the_webhook(client):
    request = CreateRequest(
        model="sonic-v5",
        operation="concat",
        source_vendor_clip_id="c1",
        webhook_url="https://gw.example/hooks/x",
        webhook_secret="s",
    )
    payload = client.create_payload(request)
    assert payload["webhook_url"] == "https://gw.example/hooks/x"
    assert payload["webhook_secret"] == "s"


def test_a_concat_without_the_extended_clip_is_refused_before_sending(client, simulator):
    with pytest.raises(InvalidRequest):
        client.create(concat(""))
    assert not simulator.calls


def test_concat_of_an_extension_is_a_task_whose_clip_is_the_full_song(client, simulator):
    song = done_clip(client, CreateRequest(model="sonic-v5", description="calm piano"))
    extension = done_clip(
        client,
        CreateRequest(
            model="sonic-v5",
            description="more",
            operation="extend",
            source_vendor_clip_id=song,
            continue_at=2.0,
        ),
    )
    before = simulator.credits
    task_id = client.create(concat(extension))
    assert simulator.credits == before - 2
    status = finished(lambda: client.status(task_id))
    assert [c.state for c in status.clips] == ["succeeded"]
    full = status.clips[0]
    # The original up to continue_at, then the whole extension.
    assert full.duration == pytest.approx(2.0 + simulator.clip_duration_s)
    assert full.audio_url


@pytest.mark.parametrize("which", ["unknown", "not-an-extension"])
def test_concat_of_anything_but_an_extension_is_refused_free(client, simulator, which):
    source = "no-such-clip"
    if which == "not-an-extension":
        source = done_clip(client, CreateRequest(model="sonic-v5", description="calm piano"))
    before = simulator.credits
    with pytest.raises(RejectedError) as caught:
        client.create(concat(source))
    assert caught.value.status == 400
    assert simulator.credits == before
