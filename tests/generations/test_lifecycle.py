"""Submit, poll, finish, fail and reconcile — against the simulator over loopback HTTP."""

import logging
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from generations import dispatch, lifecycle
from generations.models import ErrorCode, Generation, PendingCreate, Status
from generations.upstream import UpstreamTransient

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(alice, generation_factory):
    def make(description="calm piano", **fields):
        return generation_factory(owner=alice, description=description, **fields)

    return make


def creates(simulator):
    return sum(1 for c in simulator.calls if c["path"].endswith("/create") and c["status"] == 200)


def sent(messages, actor):
    return [m for m in messages if m.actor_name == actor]


def submit(generation, upstream, capture):
    with capture(execute=True):
        lifecycle.generation_submit(generation_id=generation.pk, upstream=upstream)
    generation.refresh_from_db()
    return generation


@pytest.fixture
def submitted(queued, upstream, django_capture_on_commit_callbacks):
    def make(description="calm piano"):
        return submit(queued(description), upstream, django_capture_on_commit_callbacks)

    return make


def wait_ready(simulator):
    time.sleep(simulator.ready_after_s + 0.05)


def test_submit_creates_one_task_and_schedules_the_first_poll(
    queued, upstream, simulator, sent_messages, django_capture_on_commit_callbacks, settings
):
    settings.GENERATION_EXPECTED_S = 30
    generation = submit(queued(), upstream, django_capture_on_commit_callbacks)
    assert generation.status == Status.RUNNING
    assert generation.vendor_task_id
    assert generation.started_at is not None
    assert generation.submit_attempts == 1
    assert creates(simulator) == 1
    polls = sent(sent_messages, dispatch.POLL_GENERATION)
    assert [(m.args, m.options.get("eta") is not None) for m in polls] == [
        ((str(generation.pk), 1), True)
    ]


def test_a_duplicate_submit_creates_no_second_task(
    queued, upstream, simulator, sent_messages, django_capture_on_commit_callbacks
):
    generation = queued()
    submit(generation, upstream, django_capture_on_commit_callbacks)
    submit(generation, upstream, django_capture_on_commit_callbacks)
    assert creates(simulator) == 1
    assert len(sent(sent_messages, dispatch.POLL_GENERATION)) == 1


def test_a_transient_create_error_requeues_then_the_retry_succeeds(
    queued, upstream, simulator, django_capture_on_commit_callbacks
):
    generation = queued("[sim:create-500] piano")
    with pytest.raises(UpstreamTransient):
        submit(generation, upstream, django_capture_on_commit_callbacks)
    generation.refresh_from_db()
    assert generation.status == Status.QUEUED
    assert submit(generation, upstream, django_capture_on_commit_callbacks).status == Status.RUNNING
    assert generation.submit_attempts == 2
    assert creates(simulator) == 1


def test_a_429_carries_retry_after_to_the_caller(
    queued, upstream, simulator, django_capture_on_commit_callbacks
):
    simulator.faults.retry_after_s = 4
    with pytest.raises(UpstreamTransient) as caught:
        submit(queued("[sim:create-429] x"), upstream, django_capture_on_commit_callbacks)
    assert caught.value.retry_after_s == 4


def test_moderation_fails_it_as_rejected_with_the_vendors_reason(
    queued, upstream, django_capture_on_commit_callbacks
):
    generation = submit(queued("[sim:copyright] x"), upstream, django_capture_on_commit_callbacks)
    assert generation.status == Status.FAILED
    assert generation.error_code == ErrorCode.REJECTED
    assert generation.error_detail.startswith("The lyrics contain copyrighted content")


def test_no_credits_fails_it_as_unavailable_and_alerts_the_operator(
    queued, upstream, django_capture_on_commit_callbacks, caplog
):
    with caplog.at_level(logging.ERROR):
        generation = submit(
            queued("[sim:no-credits] x"), upstream, django_capture_on_commit_callbacks
        )
    assert generation.error_code == ErrorCode.UNAVAILABLE
    assert "credits" not in generation.error_detail  # the user sees a generic reason
    assert any("OPERATOR" in r.message and "credits" in r.message for r in caplog.records)


def test_a_poll_before_ready_stores_progress_and_schedules_the_next(
    submitted, upstream, simulator, sent_messages
):
    simulator.ready_after_s = 3
    generation = submitted()
    lifecycle.generation_poll(generation_id=generation.pk, seq=1, upstream=upstream)
    generation.refresh_from_db()
    assert generation.status == Status.RUNNING
    assert generation.poll_seq == 2
    assert [m.args for m in sent(sent_messages, dispatch.POLL_GENERATION)][-1] == (
        str(generation.pk),
        2,
    )


def test_a_poll_after_ready_finishes_it_with_its_clips(
    submitted, upstream, simulator, sent_messages
):
    generation = submitted()
    wait_ready(simulator)
    before = len(sent_messages)
    lifecycle.generation_poll(generation_id=generation.pk, seq=1, upstream=upstream)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert generation.finished_at is not None
    assert [c.state for c in generation.clips.all()] == ["succeeded", "succeeded"]
    assert all(c.vendor_audio_url and c.duration == 3.0 for c in generation.clips.all())
    assert len(sent_messages) == before  # no further poll


def test_a_duplicate_finishing_poll_changes_nothing(submitted, upstream, simulator):
    generation = submitted()
    wait_ready(simulator)
    lifecycle.generation_poll(generation_id=generation.pk, seq=1, upstream=upstream)
    finished_at = Generation.objects.get(pk=generation.pk).finished_at
    lifecycle.generation_poll(generation_id=generation.pk, seq=1, upstream=upstream)
    generation.refresh_from_db()
    assert generation.finished_at == finished_at
    assert generation.clips.count() == 2


def test_a_superseded_poll_is_dropped(submitted, upstream, simulator):
    generation = submitted()
    Generation.objects.filter(pk=generation.pk).update(poll_seq=5)
    calls = len(simulator.calls)
    lifecycle.generation_poll(generation_id=generation.pk, seq=1, upstream=upstream)
    assert len(simulator.calls) == calls


def test_two_deliveries_of_one_poll_schedule_one_next_poll(
    submitted, upstream, simulator, sent_messages
):
    simulator.ready_after_s = 3
    generation = submitted()
    lifecycle.generation_poll(generation_id=generation.pk, seq=1, upstream=upstream)
    lifecycle.generation_poll(generation_id=generation.pk, seq=1, upstream=upstream)
    assert [m.args[1] for m in sent(sent_messages, dispatch.POLL_GENERATION)] == [1, 2]


def test_one_failed_clip_still_succeeds(submitted, upstream, simulator):
    generation = submitted("[sim:clip-failed] x")
    wait_ready(simulator)
    lifecycle.generation_poll(generation_id=generation.pk, seq=1, upstream=upstream)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert sorted(c.state for c in generation.clips.all()) == ["failed", "succeeded"]


def test_all_clips_failing_fails_it_with_the_reason(submitted, upstream, simulator):
    generation = submitted("[sim:failed] x")
    wait_ready(simulator)
    lifecycle.generation_poll(generation_id=generation.pk, seq=1, upstream=upstream)
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert generation.error_code == ErrorCode.INTERNAL
    assert "could not render" in generation.error_detail


def test_past_the_deadline_it_times_out(submitted, upstream, simulator, settings):
    generation = submitted("[sim:never] x")
    settings.GENERATION_DEADLINE_S = 0
    lifecycle.generation_poll(generation_id=generation.pk, seq=1, upstream=upstream)
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert generation.error_code == ErrorCode.TIMED_OUT


def test_a_lost_task_fails_it_as_internal(submitted, upstream):
    generation = submitted()
    Generation.objects.filter(pk=generation.pk).update(vendor_task_id="gone")
    lifecycle.generation_poll(generation_id=generation.pk, seq=1, upstream=upstream)
    generation.refresh_from_db()
    assert generation.error_code == ErrorCode.INTERNAL


def test_a_transient_poll_error_is_raised_for_retry_and_keeps_the_seq(submitted, upstream):
    generation = submitted("[sim:poll-500] x")
    with pytest.raises(UpstreamTransient):
        lifecycle.generation_poll(generation_id=generation.pk, seq=1, upstream=upstream)
    generation.refresh_from_db()
    assert generation.status == Status.RUNNING and generation.poll_seq == 1


def test_a_canceled_generation_is_not_polled(submitted, upstream, simulator):
    generation = submitted()
    Generation.objects.filter(pk=generation.pk).update(status=Status.CANCELED)
    calls = len(simulator.calls)
    lifecycle.generation_poll(generation_id=generation.pk, seq=1, upstream=upstream)
    assert len(simulator.calls) == calls


def test_cancel_during_submission_wins_and_keeps_the_task_id(
    queued, upstream, simulator, sent_messages, django_capture_on_commit_callbacks
):
    generation = queued()

    class CancelingUpstream:
        def create(self, generation, **kwargs):
            task_id = upstream.create(generation, **kwargs)
            Generation.objects.filter(pk=generation.pk).update(status=Status.CANCELED)
            return task_id

    generation = submit(generation, CancelingUpstream(), django_capture_on_commit_callbacks)
    assert generation.status == Status.CANCELED
    assert generation.vendor_task_id
    assert sent(sent_messages, dispatch.POLL_GENERATION) == []


def test_give_up_fails_an_in_flight_generation_as_unavailable(queued):
    generation = queued()
    lifecycle.generation_give_up(generation_id=generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert generation.error_code == ErrorCode.UNAVAILABLE


# --- reconcile -----------------------------------------------------------------------------------


def _age(generation, **fields):
    Generation.objects.filter(pk=generation.pk).update(**fields)


def test_reconcile_resends_an_overdue_submission(queued, sent_messages):
    generation = queued()
    _age(generation, created_at=timezone.now() - timedelta(minutes=10))
    fresh = queued()
    report = lifecycle.generations_reconcile(grace_s=60)
    assert report.resubmitted == 1
    assert [m.args for m in sent(sent_messages, dispatch.SUBMIT_GENERATION)] == [
        (str(generation.pk),)
    ]
    assert lifecycle.generations_reconcile(grace_s=60).resubmitted == 0  # not again at once
    assert fresh.pk != generation.pk


def test_reconcile_never_resends_an_expired_submission(queued, sent_messages):
    generation = queued(status=Status.SUBMITTING, submit_attempts=1)
    PendingCreate.objects.create(
        generation_id=generation.pk, started_at=timezone.now() - timedelta(hours=1)
    )
    assert lifecycle.generations_reconcile(grace_s=60).unconfirmed == 1
    generation.refresh_from_db()
    assert (generation.status, generation.error_code) == (Status.FAILED, ErrorCode.UNCONFIRMED)
    assert sent(sent_messages, dispatch.SUBMIT_GENERATION) == []


def test_reconcile_restarts_an_overdue_poll_chain(queued, sent_messages):
    generation = queued(status=Status.RUNNING, vendor_task_id="t", poll_seq=3)
    _age(generation, next_check_at=timezone.now() - timedelta(minutes=5))
    assert lifecycle.generations_reconcile(grace_s=60).repolled == 1
    generation.refresh_from_db()
    assert generation.poll_seq == 4
    assert [m.args for m in sent(sent_messages, dispatch.POLL_GENERATION)] == [
        (str(generation.pk), 4)
    ]


def test_reconcile_leaves_healthy_generations_alone(queued, sent_messages):
    queued()
    queued(status=Status.RUNNING, vendor_task_id="t", next_check_at=timezone.now())
    queued(status=Status.SUCCEEDED)
    report = lifecycle.generations_reconcile(grace_s=60)
    assert (report.resubmitted, report.unconfirmed, report.repolled) == (0, 0, 0)
    assert sent_messages == []
