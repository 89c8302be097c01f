"""Cancel and delete racing a slow vendor create, as real processes: every task the simulator made
is charged to exactly one generation, and nothing else is. Bounded: a slow create is 3 s, every
race runs at once, and both tests share one stack (each with its own user)."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.helpers import create, successful_creates
from tests.stack import Stack, wait_for

pytestmark = pytest.mark.integration

CREATE_S = 3.0
# Seconds after the 202: before the worker's claim, inside the create, after it answered.
OFFSETS = (0.0, 0.3, 0.8, 1.6, 2.5, CREATE_S + 1.5)
SETTLEMENTS = """
    SELECT l.generation_id, l.kind FROM generations_ledgerentry l
    JOIN auth_user u ON u.id = l.user_id
    WHERE u.username = %s AND l.kind != 'reserve'
"""
RESERVATION_UNITS = """
    SELECT l.units FROM generations_ledgerentry l JOIN auth_user u ON u.id = l.user_id
    WHERE u.username = %s AND l.kind = 'reserve' LIMIT 1
"""


@pytest.fixture(scope="module")
def stack():
    # Tasks finish long after every race, so each cancel or delete meets a generation in flight.
    with Stack(ready_after_s=60, worker_threads=2 * len(OFFSETS)) as stack:
        yield stack


def _usage(stack, session) -> dict:
    return session.get(f"{stack.base}/api/v1/me", timeout=10).json()["usage"]


def _settled(stack, session) -> tuple[dict, dict]:
    """Wait (bounded) until nothing is in flight; then the user's usage and the vendor's bill."""
    wait_for(lambda: _usage(stack, session)["in_flight"] == 0, 60, "every unit settled", 0.3)
    time.sleep(0.5)  # a create still inside the simulator would show up here
    return _usage(stack, session), stack.simulator("ledger")


def _prompts(bill: dict, marker: str) -> list[str]:
    return [task["prompt"] for task in bill["tasks"] if marker in task["prompt"]]


def test_a_cancel_at_0_8_s_into_a_3_s_create_is_charged(stack):
    # The attack: before the fix the answer was `canceled`, the vendor made the task (15
    # credits) and the user's unit was released.
    session = stack.session(stack.token("victim"))
    stack.configure_simulator(faults={"slow": 1.0, "slow_s": CREATE_S})
    try:
        generation = create(session, stack.base, {"description": "free credits?"})
        time.sleep(0.8)
        url = f"{stack.base}/api/v1/generations/{generation['id']}/cancel"
        answer = session.post(url, timeout=30)
        assert (answer.status_code, answer.json()["status"]) == (200, "canceled")
        wait_for(lambda: successful_creates(stack), 90, "the vendor's create")
    finally:
        stack.configure_simulator(faults={})
    usage, _ = _settled(stack, session)
    assert len(successful_creates(stack)) == 1
    assert usage["used"] == stack.query(RESERVATION_UNITS, "victim")[0][0]


def test_cancel_and_delete_at_every_offset_charge_exactly_the_tasks_made(stack):
    session = stack.session(stack.token("racer"))
    races = [(offset, action) for offset in OFFSETS for action in ("cancel", "delete")]

    def race(n: int) -> tuple[str, str]:
        offset, action = races[n]
        prompt = f"[sim:slow-create] race {n}"
        generation = create(session, stack.base, {"description": prompt})
        time.sleep(offset)
        url = f"{stack.base}/api/v1/generations/{generation['id']}"
        if action == "cancel":
            answer = session.post(f"{url}/cancel", timeout=30)
            assert answer.status_code == 200, answer.text
        else:
            answer = session.delete(url, timeout=30)
            assert answer.status_code == 204, answer.text
        return generation["id"], prompt

    with ThreadPoolExecutor(max_workers=len(races)) as pool:
        made = list(pool.map(race, range(len(races))))
    usage, bill = _settled(stack, session)
    tasks = _prompts(bill, "race")
    assert len(tasks) == len(set(tasks)), "a generation got two vendor tasks"
    # The invariant: the user's charged reservations are exactly the tasks the vendor made.
    unit = stack.query(RESERVATION_UNITS, "racer")[0][0]
    assert usage["used"] == unit * len(tasks), (usage, tasks, races)

    # Per generation: one settlement each, a charge exactly when the vendor made its task
    # (a deleted generation's entries keep no id, so those are counted).
    settlements = [
        (str(uuid.UUID(str(gid))) if gid else None, kind)
        for gid, kind in stack.query(SETTLEMENTS, "racer")
    ]
    assert len(settlements) == len(races)
    kinds = dict(settlements)
    deleted_and_tasked = 0
    for (_, action), (gid, prompt) in zip(races, made, strict=True):
        if action == "cancel":
            assert kinds[gid] == ("charge" if prompt in tasks else "release"), (gid, prompt)
        else:
            deleted_and_tasked += prompt in tasks
    assert sum(1 for gid, kind in settlements if gid is None and kind == "charge") == (
        deleted_and_tasked
    )
