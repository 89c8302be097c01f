"""Shared steps of the integration tests: create generations over HTTP and wait for them."""

from __future__ import annotations

import time

TERMINAL = {"succeeded", "failed", "canceled"}


def create(session, base: str, payload: dict) -> dict:
    response = session.post(f"{base}/api/v1/generations", json=payload, timeout=10)
    assert response.status_code == 202, response.text
    return response.json()


def statuses(session, base: str, ids: list[str]) -> dict[str, dict]:
    return {gid: session.get(f"{base}/api/v1/generations/{gid}", timeout=10).json() for gid in ids}


def wait_terminal(session, base: str, ids: list[str], timeout_s: float, tick=None) -> dict:
    """Poll our own API (bounded) until every generation is terminal; `tick` runs each round."""
    deadline = time.monotonic() + timeout_s
    current: dict[str, dict] = {}
    while time.monotonic() < deadline:
        current = statuses(session, base, ids)
        if all(g["status"] in TERMINAL for g in current.values()):
            return current
        if tick:
            tick()
        time.sleep(0.5)
    stuck = {gid: g["status"] for gid, g in current.items() if g["status"] not in TERMINAL}
    raise AssertionError(f"{len(stuck)} generations not terminal after {timeout_s} s: {stuck}")


def successful_creates(stack) -> list[dict]:
    return [
        c
        for c in stack.simulator("calls")["calls"]
        if c["path"].endswith("/sonic/create") and c["status"] == 200
    ]
