"""A due poll does not wait behind a burst of submissions: its own queue, and it runs first.

A real Dramatiq worker (one thread) on the real Redis broker. The first submission it runs holds
its thread until the worker has fetched the poll too (or 10 s pass), so what is measured is the
order, not the speed of a loaded machine.
"""

from __future__ import annotations

import threading
import time

import dramatiq
import pytest

from generations import dispatch
from workers import actors

BURST = 40


class _Order(dramatiq.Middleware):
    """Notes each processed actor; holds the first message until the worker has a poll in hand."""

    def __init__(self, worker_ref: list) -> None:
        self.worker_ref = worker_ref
        self.processed: list[str] = []
        self._first = threading.Event()

    def before_process_message(self, broker, message):
        if self._first.is_set():
            return
        self._first.set()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not self._poll_fetched():
            time.sleep(0.01)

    def _poll_fetched(self) -> bool:
        queued = list(self.worker_ref[0].work_queue.queue)
        return any(item.message.actor_name == dispatch.POLL_GENERATION for item in queued)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        self.processed.append(message.actor_name)


@pytest.mark.django_db(transaction=True)
def test_a_due_poll_runs_before_a_burst_of_submissions_sent_ahead_of_it(broker):
    # Ids of nothing: each step looks its generation up, finds none and returns (no vendor call).
    for n in range(BURST):
        dispatch.send(dispatch.SUBMIT_GENERATION, f"00000000-0000-0000-0000-{n:012d}")
    dispatch.send(dispatch.POLL_GENERATION, "00000000-0000-0000-0000-999999999999", 1)

    worker_ref: list = []
    order = _Order(worker_ref)
    broker.add_middleware(order)
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker_ref.append(worker)
    worker.start()
    try:
        for queue in dispatch.ALL_QUEUES:
            broker.join(queue, timeout=120_000)
        worker.join()
    finally:
        worker.stop()
        broker.middleware.remove(order)

    assert actors.poll_generation.priority < actors.submit_generation.priority
    assert len(order.processed) == BURST + 1
    # Behind the burst on a shared queue it was last; now it runs first or right after the one
    # submission a thread had already started.
    assert order.processed.index(dispatch.POLL_GENERATION) <= 1, order.processed
