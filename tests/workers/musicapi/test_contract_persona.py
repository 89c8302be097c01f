"""Personas (upstream-contract-more.md §6a, §6c): `POST /sonic/persona` in its current shape
(`name`, `clip_id`, `describe`, `styles`), synchronous, and `persona_music` creates; the client
against the simulator over loopback HTTP."""

from __future__ import annotations

import time

import pytest

from workers.musicapi.errors import InvalidRequest, RejectedError
from workers.musicapi.types import CreateRequest, PersonaRequest


def finished(ask, timeout_s=5.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer = ask()
        if answer.finished:
            return answer
        time.sleep(0.05)
    raise AssertionError("did not finish")


def song(client) -> str:
    task_id = client.create(CreateRequest(model="sonic-v5", description="warm soul vocals"))
    return finished(lambda: client.status(task_id)).clips[0].clip_id


def persona(clip_id: str, **fields) -> PersonaRequest:
    return PersonaRequest(
        clip_id=clip_id, name="Velvet", describe="a warm alto", styles="soul", **fields
    )


def test_the_persona_payload_is_the_current_shape(client):
    assert client.persona_payload(persona("c1")) == {
        "name": "Velvet",
        "clip_id": "c1",
        "describe": "a warm alto",
        "styles": "soul",
    }


def test_a_persona_is_made_at_once_from_a_finished_clip_for_one_credit(client, simulator):
    clip_id = song(client)
    before = simulator.credits
    persona_id = client.persona(persona(clip_id))
    assert persona_id.startswith("persona-")
    assert simulator.credits == before - 1


def test_a_persona_of_a_clip_the_vendor_did_not_make_is_a_rejection(client, simulator):
    before = simulator.credits
    with pytest.raises(RejectedError) as caught:
        client.persona(persona("not-a-clip"))
    assert caught.value.status == 400
    assert simulator.credits == before


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "x" * 80},  # "less than 80"
        {"describe": "x" * 200},  # "less than 200"
        {"name": " "},
        {"clip_id": ""},
    ],
)
def test_the_client_refuses_a_persona_past_the_limits(client, simulator, fields):
    request = PersonaRequest(
        **{"clip_id": "c1", "name": "V", "describe": "d", "styles": "soul", **fields}
    )
    with pytest.raises(InvalidRequest):
        client.persona(request)
    assert not simulator.calls


def test_persona_music_sends_the_persona_and_the_lyrics(client, simulator):
    persona_id = client.persona(persona(song(client)))
    request = CreateRequest(
        model="sonic-v5",
        mode="custom",
        lyrics="[Verse]\nla la",
        title="Night",
        tags="soul",
        operation="persona_music",
        persona_id=persona_id,
    )
    assert client.create_payload(request) == {
        "task_type": "persona_music",
        "custom_mode": True,
        "mv": "sonic-v5",
        "prompt": "[Verse]\nla la",
        "title": "Night",
        "tags": "soul",
        "persona_id": persona_id,
    }
    before = simulator.credits
    task_id = client.create(request)
    assert simulator.credits == before - 15
    assert [c.state for c in finished(lambda: client.status(task_id)).clips] == [
        "succeeded",
        "succeeded",
    ]


def test_persona_music_without_a_persona_or_in_description_mode_is_refused(client, simulator):
    with pytest.raises(InvalidRequest):
        client.create(
            CreateRequest(model="sonic-v5", mode="custom", lyrics="la", operation="persona_music")
        )
    with pytest.raises(InvalidRequest):
        client.create(
            CreateRequest(
                model="sonic-v5", description="x", operation="persona_music", persona_id="p"
            )
        )
    assert not simulator.calls


def test_the_simulator_refuses_an_unknown_persona_like_the_vendor(client):
    with pytest.raises(RejectedError) as caught:
        client.create(
            CreateRequest(
                model="sonic-v5",
                mode="custom",
                lyrics="la",
                operation="persona_music",
                persona_id="persona-unknown",
            )
        )
    assert caught.value.status == 400
