"""The whole service as real processes: web + rundramatiq + Redis + the simulator over HTTP."""

from __future__ import annotations

import time

import pytest
import requests

from tests.integration.conftest import port_open
from tests.integration.helpers import create, successful_creates, wait_terminal
from tests.stack import Stack, wait_for

pytestmark = pytest.mark.integration

# (request, expected status, expected error code, how many)
MIX = [
    ({"description": "calm piano for a focus timer"}, "succeeded", None, 26),
    (
        {"mode": "custom", "title": "Morning", "tags": "pop", "lyrics": "[Verse]\nla la"},
        "succeeded",
        None,
        5,
    ),
    ({"mode": "custom", "tags": "ambient", "instrumental": True}, "succeeded", None, 2),
    ({"description": "[sim:clip-failed] lofi"}, "succeeded", None, 3),
    ({"description": "[sim:failed] lofi"}, "failed", "internal", 3),
    ({"description": "[sim:moderation] lofi"}, "failed", "rejected", 3),
    ({"description": "[sim:no-credits] lofi"}, "failed", "unavailable", 2),
    ({"description": "[sim:poll-500] [sim:poll-429] jazz"}, "succeeded", None, 3),
    ({"description": "[sim:create-429] jazz"}, "succeeded", None, 3),
]


def _unique(payload: dict, n: int) -> dict:
    # A distinct prompt per generation, so "first create with this prompt" markers apply to each.
    key = "description" if "description" in payload else "tags"
    return {**payload, key: f"{payload[key]} #{n}"}


def test_fifty_mixed_generations_all_end_right_with_one_create_each():
    faults = {"server_error": 0.05, "rate_limit": 0.03, "retry_after_s": 1, "seed": 11}
    with Stack(ready_after_s=1.5, faults=faults) as stack:
        session = stack.session(stack.token())
        expected, n = {}, 0
        for payload, status, code, count in MIX:
            for _ in range(count):
                n += 1
                generation = create(session, stack.base, _unique(payload, n))
                expected[generation["id"]] = (status, code)
        assert len(expected) == 50
        final = wait_terminal(session, stack.base, list(expected), timeout_s=150)
        got = {gid: (g["status"], (g["error"] or {}).get("code")) for gid, g in final.items()}
        assert got == expected, stack.log("worker")[-3000:]
        reached_vendor = sum(
            1 for status, code in expected.values() if code not in {"rejected", "unavailable"}
        )
        creates = successful_creates(stack)
        assert len(creates) == reached_vendor
        assert len({c["task_id"] for c in creates}) == reached_vendor
        for generation in final.values():
            if generation["status"] == "succeeded":
                assert len(generation["clips"]) == 2
                assert any(c["state"] == "succeeded" for c in generation["clips"])


def test_a_worker_killed_mid_flight_is_repaired_by_reconcile():
    with Stack(ready_after_s=3) as stack:
        token = stack.token()
        session = stack.session(token)
        ids = [create(session, stack.base, {"description": f"song {i}"})["id"] for i in range(20)]
        wait_for(lambda: len(successful_creates(stack)) >= 10, 30, "half the creates")
        stack.kill_worker()
        time.sleep(0.5)
        stack.start_worker()
        final = wait_terminal(
            session, stack.base, ids, timeout_s=120, tick=lambda: stack.manage("reconcile")
        )
        outcomes = [(g["status"], (g["error"] or {}).get("code")) for g in final.values()]
        # A create the worker died inside may have been made: it is never sent again, it fails
        # as unconfirmed and is charged. At most one per worker thread.
        unconfirmed = outcomes.count(("failed", "unconfirmed"))
        assert outcomes.count(("succeeded", None)) + unconfirmed == 20, outcomes
        assert unconfirmed <= stack.worker_threads
        creates = successful_creates(stack)
        assert len(creates) <= 20
        assert len({c["task_id"] for c in creates}) == len(creates)
        me = session.get(f"{stack.base}/api/v1/me", timeout=10).json()
        usage, song = me["usage"], me["prices"]["create"]
        assert usage["in_flight"] == 0
        # Every task made is charged; a charged unconfirmed one may not have reached the vendor.
        assert len(creates) * song <= usage["used"] <= 20 * song


def test_a_redis_restart_losing_scheduled_polls_is_recovered():
    with Stack(ready_after_s=4) as stack:
        session = stack.session(stack.token())
        ids = [create(session, stack.base, {"description": f"song {i}"})["id"] for i in range(10)]
        wait_for(lambda: len(successful_creates(stack)) == 10, 30, "every create")
        time.sleep(0.5)  # the first polls are now scheduled, in Redis only
        stack.restart_redis()
        final = wait_terminal(
            session, stack.base, ids, timeout_s=120, tick=lambda: stack.manage("reconcile")
        )
        assert {g["status"] for g in final.values()} == {"succeeded"}
        assert len(successful_creates(stack)) == 10


def test_webhooks_finish_generations_long_before_the_next_poll():
    slow_polls = {
        "GENERATION_EXPECTED_S": "60",
        "POLL_INTERVAL_MIN_S": "60",
        "POLL_INTERVAL_MAX_S": "60",
    }
    with Stack(ready_after_s=1, webhooks=True, env=slow_polls) as stack:
        session = stack.session(stack.token())
        ids = [create(session, stack.base, {"description": f"song {i}"})["id"] for i in range(5)]
        final = wait_terminal(session, stack.base, ids, timeout_s=30)
        assert {g["status"] for g in final.values()} == {"succeeded"}
        hooks = stack.simulator("calls")["webhooks"]
        assert {h["status"] for h in hooks} == {204}


@pytest.mark.skipif(not port_open(5672), reason="RabbitMQ is not running on 127.0.0.1:5672")
def test_the_pipeline_runs_on_rabbitmq():
    with Stack(ready_after_s=1, broker_url="amqp://guest:guest@127.0.0.1:5672/") as stack:
        session = stack.session(stack.token())
        ids = [create(session, stack.base, {"description": f"song {i}"})["id"] for i in range(10)]
        final = wait_terminal(session, stack.base, ids, timeout_s=90)
        assert {g["status"] for g in final.values()} == {"succeeded"}
        assert len(successful_creates(stack)) == 10


def test_the_audio_is_copied_and_streamed_by_the_service():
    with Stack(ready_after_s=1) as stack:
        session = stack.session(stack.token())
        gid = create(session, stack.base, {"description": "play me"})["id"]
        wait_terminal(session, stack.base, [gid], timeout_s=30)

        def ready_clips():
            clips = session.get(f"{stack.base}/api/v1/generations/{gid}", timeout=5).json()["clips"]
            return clips if all(c["media"] == "ready" for c in clips) else None

        clips = wait_for(ready_clips, 30, "media copies")
        part = requests.get(clips[0]["audio_url"], headers={"Range": "bytes=0-99"}, timeout=10)
        assert part.status_code == 206
        assert part.content[:4] == b"RIFF" and len(part.content) == 100
        assert part.headers["Content-Type"] == "audio/wav"
        assert "127.0.0.1:" + str(stack.simulator_port) not in clips[0]["audio_url"]
