"""The sleep-loop baseline of bench/inflight.py: an actor that holds its thread until done.

Not a copy of a seed actor: the history has none to copy. The first commit's workers/actors.py
(853e667) only logged that "the vendor client is not wired yet", and the first actor that called
the vendor (c061011) already re-enqueued its polls. This is the loop of the vendor's guide (HTTP
202: "wait and ask again", the upstream contract) written on the service's own steps, so that the
only difference from workers/actors.py is how a worker waits: here the thread sleeps between
polls; there a poll that finds the task still working schedules the next poll as a delayed
message and frees its thread.

It is registered under the name and queue of `submit_generation`, so the service's own create
(same rows, same dispatch) feeds it; bench/inflight.py starts a worker that loads this module
instead of workers.actors, on the `generations` queue only. The polls that `generation_poll`
schedules when the task is still working land on the `polls` queue, which that worker does not
consume: this loop polls again itself.
"""

from __future__ import annotations

import random
import time

import dramatiq
from django.conf import settings

from generations import dispatch, lifecycle
from generations.models import Generation, Status
from workers.upstream import get_upstream


@dramatiq.actor(
    actor_name=dispatch.SUBMIT_GENERATION,
    queue_name=dispatch.QUEUES[dispatch.SUBMIT_GENERATION],
    max_retries=0,
    # The whole life of a generation, not one call.
    time_limit=int((settings.GENERATION_DEADLINE_S + 120) * 1000),
)
def submit_generation(generation_id: str) -> None:
    """Submit, sleep until the song should be ready, then poll and sleep until it is done."""
    upstream = get_upstream()
    lifecycle.generation_submit(generation_id=generation_id, upstream=upstream)
    time.sleep(settings.GENERATION_EXPECTED_S)
    while True:
        generation = Generation.objects.filter(pk=generation_id).only("status", "poll_seq").first()
        if generation is None or generation.status != Status.RUNNING:
            return
        lifecycle.generation_poll(
            generation_id=generation_id, seq=generation.poll_seq, upstream=upstream
        )
        if not Generation.objects.filter(pk=generation_id, status=Status.RUNNING).exists():
            return
        time.sleep(random.uniform(settings.POLL_INTERVAL_MIN_S, settings.POLL_INTERVAL_MAX_S))
