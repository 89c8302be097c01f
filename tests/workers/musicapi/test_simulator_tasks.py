"""The simulator's bill (`/_simulator/ledger`) says when each task was created and whether the
vendor refunds it (every clip failed): the chaos run (`make chaos`) holds it against what each
user was charged and against the moments it killed a worker."""

from __future__ import annotations

import time

import requests

from workers.musicapi.types import CreateRequest


def test_the_bill_says_when_each_task_was_made_and_whether_it_is_refunded(client, simulator):
    ok = client.create(CreateRequest(model="sonic-v5", description="fine #1"))
    failed = client.create(CreateRequest(model="sonic-v5", description="[sim:failed] #2"))
    tasks = requests.get(f"{simulator.public_url}/_simulator/ledger", timeout=5).json()["tasks"]
    assert [t["task_id"] for t in tasks] == [ok, failed]  # oldest first
    assert [t["all_clips_failed"] for t in tasks] == [False, True]
    assert all(abs(t["created_at"] - time.time()) < 60 for t in tasks)
