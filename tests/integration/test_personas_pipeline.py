"""Personas through the whole service as real processes (web + workers + Redis + the simulator
over HTTP): a song, a persona made from its clip, a song sung by that persona; one vendor call
each; the credits settled."""

from __future__ import annotations

import time

import pytest

from tests.integration.helpers import create, wait_terminal
from tests.stack import Stack

pytestmark = pytest.mark.integration


def wait_persona(session, base: str, persona_id: str, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    persona: dict = {}
    while time.monotonic() < deadline:
        persona = session.get(f"{base}/api/v1/personas/{persona_id}", timeout=10).json()
        if persona["status"] in ("succeeded", "failed"):
            return persona
        time.sleep(0.3)
    raise AssertionError(f"persona not done after {timeout_s} s: {persona}")


def test_a_persona_made_from_a_song_sings_a_new_one():
    with Stack(ready_after_s=1.0) as stack:
        session = stack.session(stack.token())
        base = stack.base
        song = create(session, base, {"description": "warm soul vocals"})
        song = wait_terminal(session, base, [song["id"]], timeout_s=60)[song["id"]]
        assert song["status"] == "succeeded", song
        clip = song["clips"][0]

        answer = session.post(
            f"{base}/api/v1/personas",
            json={"clip": clip["id"], "name": "Velvet", "description": "a warm alto"},
            timeout=10,
        )
        assert answer.status_code == 202, answer.text
        persona = wait_persona(session, base, answer.json()["id"], 60)
        assert persona["status"] == "succeeded", persona
        listed = session.get(f"{base}/api/v1/personas", timeout=10).json()["results"]
        assert [p["id"] for p in listed] == [persona["id"]]
        on_clip = session.get(f"{base}/api/v1/clips/{clip['id']}", timeout=10).json()["jobs"]
        assert [(j["id"], j["kind"]) for j in on_clip] == [(persona["job"], "persona")]

        sung = create(
            session,
            base,
            {
                "operation": "persona_music",
                "persona": persona["id"],
                "mode": "custom",
                "lyrics": "[Verse]\nCity lights",
                "tags": "soul",
            },
        )
        sung = wait_terminal(session, base, [sung["id"]], timeout_s=60)[sung["id"]]
        assert sung["status"] == "succeeded", sung
        assert sung["persona"] == persona["id"]

        ledger = stack.simulator("ledger")
        assert [c["call"] for c in ledger["sync_charges"]] == ["persona"]
        me = session.get(f"{base}/api/v1/me", timeout=10).json()
        # the song 15, the persona 1, the persona's song 15; nothing left in flight
        assert me["usage"]["used"] == 31 and me["usage"]["in_flight"] == 0, me
