"""The hot paths cost a fixed number of queries, however many generations and clips a user has.

Each count is measured with an empty history, then again after the user has many generations
with clips; both must equal the pinned number. A change that adds a query (or an N+1) fails here
and should say why in the pin.
"""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from generations import lifecycle
from generations.models import Generation, Job, JobFile, JobKind, Status

pytestmark = pytest.mark.django_db

URL = "/api/v1/generations"
HISTORY = 15  # generations, each with CLIPS clips
CLIPS = 2

# token; account and plan, read once for validation, the quota headers and the reservation
# (was three times: 15 queries); BEGIN; insert; the reservation, one conditional UPDATE that
# also starts a new period and returns the counters for the headers (RETURNING: they were
# re-read, 11); ledger; the `generation.queued` event and the owner's webhook endpoints (the
# event log and the webhook outbox, in the same transaction); COMMIT. A new row has no clips:
# not read.
CREATE_QUERIES = 10
# token; one page of generations; their clips, the clips' jobs and the jobs' files (one
# prefetch each: a clip carries what was made from it).
LIST_QUERIES = 5
DETAIL_QUERIES = 5  # token; the generation; its clips, their jobs, the jobs' files
# The generation; its finishing transition and the quota settlement (savepoints, ledger, pending
# create); the `generation.succeeded` event (its owner, the row, the owner's webhook endpoints:
# the event log and the webhook outbox, same transaction);
# the clips upserted (with their ids known beforehand) and their `clip.succeeded` events (one
# INSERT and one endpoint lookup for both clips); the succeeded clips whose media to copy.
POLL_QUERIES = 17


def _count(call) -> tuple[object, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        result = call()
    return result, [q["sql"] for q in queries.captured_queries]


def _with_wav(clip) -> None:
    job = Job.objects.create(
        owner=clip.generation.owner, kind=JobKind.WAV, clip=clip, status=Status.SUCCEEDED
    )
    JobFile.objects.create(job=job, name="wav", vendor_url="https://cdn1.suno.ai/a.wav")


def _history(owner, generation_factory, clip_factory) -> None:
    for _ in range(HISTORY):
        generation = generation_factory(owner=owner, status=Status.SUCCEEDED)
        for _ in range(CLIPS):
            _with_wav(clip_factory(generation=generation))


@pytest.fixture
def warm(alice, alice_client, broker, generation_factory, clip_factory):
    """The first request of a user creates its plan row and stamps the token: not the hot path.
    One clip with a WAV is there from the start, so every prefetch runs in both measures."""
    _with_wav(clip_factory(generation=generation_factory(owner=alice, status=Status.SUCCEEDED)))
    assert alice_client.post(URL, {"description": "warm"}, format="json").status_code == 202
    return alice_client


def _measure_twice(measure, grow) -> tuple[list[str], list[str]]:
    before = measure()
    grow()
    return before, measure()


def test_create_costs_a_fixed_number_of_queries(alice, warm, generation_factory, clip_factory):
    def measure():
        response, queries = _count(lambda: warm.post(URL, {"description": "piano"}, format="json"))
        assert response.status_code == 202
        return queries

    before, after = _measure_twice(
        measure, lambda: _history(alice, generation_factory, clip_factory)
    )
    assert (len(before), len(after)) == (CREATE_QUERIES, CREATE_QUERIES), after


def test_list_costs_a_fixed_number_of_queries(alice, warm, generation_factory, clip_factory):
    def measure():
        response, queries = _count(lambda: warm.get(URL))
        assert response.status_code == 200
        return queries

    before, after = _measure_twice(
        measure, lambda: _history(alice, generation_factory, clip_factory)
    )
    assert (len(before), len(after)) == (LIST_QUERIES, LIST_QUERIES), after


def test_detail_costs_a_fixed_number_of_queries(alice, warm, generation_factory, clip_factory):
    generation = generation_factory(owner=alice, status=Status.SUCCEEDED)
    _with_wav(clip_factory(generation=generation))

    def measure():
        response, queries = _count(lambda: warm.get(f"{URL}/{generation.pk}"))
        assert response.status_code == 200
        return queries

    def grow():
        _history(alice, generation_factory, clip_factory)
        for _ in range(3):
            _with_wav(clip_factory(generation=generation))

    before, after = _measure_twice(measure, grow)
    assert (len(before), len(after)) == (DETAIL_QUERIES, DETAIL_QUERIES), after


def test_a_finishing_poll_costs_a_fixed_number_of_queries(
    alice, generation_factory, clip_factory, upstream, simulator, broker
):
    def running():
        generation = generation_factory(owner=alice)
        lifecycle.generation_submit(generation_id=generation.pk, upstream=upstream)
        return Generation.objects.get(pk=generation.pk)

    def measure():
        generation = running()
        time.sleep(simulator.ready_after_s + 0.1)
        _, queries = _count(
            lambda: lifecycle.generation_poll(
                generation_id=generation.pk, seq=generation.poll_seq, upstream=upstream
            )
        )
        assert Generation.objects.get(pk=generation.pk).status == Status.SUCCEEDED
        return queries

    before, after = _measure_twice(
        measure, lambda: _history(alice, generation_factory, clip_factory)
    )
    assert (len(before), len(after)) == (POLL_QUERIES, POLL_QUERIES), "\n".join(
        q[:150] for q in after
    )
