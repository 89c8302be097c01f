"""Quotas and idempotency under real concurrency: several web processes, one database."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.stack import Stack

pytestmark = pytest.mark.integration

TIGHT = {
    "DEFAULT_PLAN_CREDITS": "150",
    "DEFAULT_PLAN_MAX_IN_FLIGHT": "1000",
    "DEFAULT_PLAN_CREATES_PER_MINUTE": "1000",
}


def _parallel(count: int, call):
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: call(), range(count)))


def test_fifty_parallel_creates_at_a_limit_of_ten_songs_accept_exactly_ten():
    with Stack(ready_after_s=30, web_workers=4, env=TIGHT) as stack:
        assert len(stack.web_pids()) == 4  # the race is between processes, not only threads
        token = stack.token()

        def create():
            return requests.post(
                f"{stack.base}/api/v1/generations",
                json={"description": "race"},
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            )

        responses = _parallel(50, create)
        codes = sorted(r.status_code for r in responses)
        assert codes.count(202) == 10, codes
        assert codes.count(429) == 40, codes
        assert {r.json()["limit"] for r in responses if r.status_code == 429} == {
            "credits_per_period"
        }
        me = stack.session(token).get(f"{stack.base}/api/v1/me", timeout=10).json()
        assert me["usage"]["used"] == 150  # ten songs of 15 credits
        assert me["usage"]["in_flight"] == 10


def test_concurrent_requests_with_one_idempotency_key_make_one_generation():
    with Stack(ready_after_s=30, web_workers=4) as stack:
        assert len(stack.web_pids()) == 4
        token = stack.token()

        def create():
            return requests.post(
                f"{stack.base}/api/v1/generations",
                json={"description": "once"},
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "tap-twice"},
                timeout=60,
            )

        responses = _parallel(12, create)
        assert {r.status_code for r in responses} == {202}, [r.text for r in responses]
        assert len({r.json()["id"] for r in responses}) == 1
        assert sum(1 for r in responses if "Idempotent-Replayed" not in r.headers) == 1
        me = stack.session(token).get(f"{stack.base}/api/v1/me", timeout=10).json()
        assert me["usage"]["used"] == me["prices"]["create"]
