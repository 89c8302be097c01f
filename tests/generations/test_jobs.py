"""Jobs (WAV, stems, timeline, lyrics) through the vendor: create, submit, poll, finish, fail,
settle and reconcile, against the simulator over loopback HTTP."""

from __future__ import annotations

import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from generations import dispatch, job_lifecycle, jobs, lifecycle, media, services
from generations.models import (
    Account,
    ErrorCode,
    Job,
    JobFile,
    JobKind,
    LedgerEntry,
    MediaState,
    Status,
)
from generations.quotas import QuotaExceeded, usage_recompute
from generations.upstream import UpstreamTransient
from workers.fetch import SafeFetcher

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def song(alice, generation_factory, upstream, simulator, django_capture_on_commit_callbacks):
    """A finished clip of alice's, made at the simulator (its prompt may carry markers); made
    by the factory, so it holds no quota: usage below is the jobs' alone."""

    def make(description="calm piano", **fields):
        generation = generation_factory(owner=alice, description=description, **fields)
        with django_capture_on_commit_callbacks(execute=True):
            lifecycle.generation_submit(generation_id=generation.pk, upstream=upstream)
        time.sleep(simulator.ready_after_s + 0.05)
        lifecycle.generation_poll(generation_id=generation.pk, seq=1, upstream=upstream)
        return generation.clips.order_by("vendor_clip_id").first()

    return make


def create(owner, kind, clip=None, **kwargs):
    return jobs.job_create(owner=owner, kind=kind, clip=clip, **kwargs)


def submit(job, upstream, capture):
    with capture(execute=True):
        job_lifecycle.job_submit(job_id=job.pk, upstream=upstream)
    job.refresh_from_db()
    return job


def run(job, upstream, simulator, capture):
    """Submit, then poll until the job ends (each poll as its message would)."""
    submit(job, upstream, capture)
    deadline = time.monotonic() + 5
    while job.status == Status.RUNNING and time.monotonic() < deadline:
        time.sleep(0.1)
        with capture(execute=True):
            job_lifecycle.job_poll(job_id=job.pk, seq=job.poll_seq, upstream=upstream)
        job.refresh_from_db()
    return job


def account(user):
    return Account.objects.get(user=user)


def vendor_calls(simulator, suffix):
    return [c for c in simulator.calls if c["path"].endswith(suffix) and c["status"] == 200]


# --- create --------------------------------------------------------------------------------------


def test_a_wav_job_reserves_its_price_and_queues_its_submission(
    alice, clip_factory, generation_factory, sent_messages, django_capture_on_commit_callbacks
):
    clip = clip_factory(generation=generation_factory(owner=alice))
    with django_capture_on_commit_callbacks(execute=True):
        created = create(alice, JobKind.WAV, clip)
    job = created.job
    assert (job.status, job.vendor_clip_id, job.reservation.units) == (
        Status.QUEUED,
        clip.vendor_clip_id,
        2,
    )
    assert (account(alice).used, account(alice).in_flight) == (2, 1)
    assert [(m.actor_name, m.args) for m in sent_messages] == [
        (dispatch.SUBMIT_JOB, (str(job.pk),))
    ]


def test_asking_again_for_a_clips_wav_returns_the_same_job_and_costs_nothing(
    alice, clip_factory, generation_factory
):
    clip = clip_factory(generation=generation_factory(owner=alice))
    first = create(alice, JobKind.WAV, clip).job
    again = create(alice, JobKind.WAV, clip)
    assert again.existing and again.job.pk == first.pk
    assert account(alice).used == 2
    Job.objects.filter(pk=first.pk).update(status=Status.FAILED)
    assert create(alice, JobKind.WAV, clip).job.pk != first.pk  # a failed one may be retried


def test_an_unfinished_clip_cannot_be_worked_on_and_nothing_is_reserved(
    alice, clip_factory, generation_factory
):
    clip = clip_factory(generation=generation_factory(owner=alice), state="streaming")
    with pytest.raises(jobs.ClipNotReady):
        create(alice, JobKind.WAV, clip)
    silent = clip_factory(generation=generation_factory(owner=alice), lyrics="")
    with pytest.raises(jobs.ClipNotReady, match="no lyrics"):
        create(alice, JobKind.LYRICS_TIMELINE, silent)
    assert not Job.objects.exists() and not LedgerEntry.objects.exists()


def test_full_stems_cost_75_credits_and_are_refused_past_the_balance(
    alice, clip_factory, generation_factory, settings
):
    settings.DEFAULT_PLAN = {**settings.DEFAULT_PLAN, "credits_per_period": 74}
    clip = clip_factory(generation=generation_factory(owner=alice))
    with pytest.raises(QuotaExceeded, match="costs 75 credits and you have 74 of your 74"):
        create(alice, JobKind.STEMS_FULL, clip)
    assert not Job.objects.exists()
    assert create(alice, JobKind.STEMS_BASIC, clip).usage.used == 15


# --- WAV end to end ----------------------------------------------------------------------------


def test_a_wav_is_made_at_the_vendor_copied_and_charged(
    alice, song, upstream, simulator, sent_messages, django_capture_on_commit_callbacks
):
    clip = song()
    job = create(alice, JobKind.WAV, clip).job
    job = submit(job, upstream, django_capture_on_commit_callbacks)
    assert job.status == Status.RUNNING and job.vendor_task_id
    polls = [m for m in sent_messages if m.actor_name == dispatch.POLL_JOB]
    assert [(m.queue_name, m.args) for m in polls] == [("polls.DQ", (str(job.pk), 1))]
    job = run(job, upstream, simulator, django_capture_on_commit_callbacks)
    assert job.status == Status.SUCCEEDED
    (wav,) = job.files.all()
    assert wav.name == "wav" and wav.media_state == MediaState.PENDING
    copies = [m for m in sent_messages if m.actor_name == dispatch.COPY_JOB_FILE]
    assert [(m.queue_name, m.args[0]) for m in copies] == [("media", str(wav.pk))]
    media.job_file_copy(
        file_id=wav.pk, fetch=SafeFetcher([simulator.public_url]), claim=copies[0].args[1]
    )
    wav.refresh_from_db()
    assert wav.media_state == MediaState.READY and wav.content_type == "audio/wav"
    with default_storage.open(wav.file.name) as stored:
        assert stored.read(4) == b"RIFF"
    assert len(vendor_calls(simulator, "/sonic/wav")) == 1
    assert (account(alice).used, account(alice).in_flight) == (2, 0)
    assert LedgerEntry.objects.filter(kind="charge", generation=None).count() == 1
    assert usage_recompute(user=alice) == (2, 0)


def test_a_wav_answered_at_once_succeeds_without_a_poll(
    alice, song, upstream, sent_messages, django_capture_on_commit_callbacks
):
    job = create(alice, JobKind.WAV, song("[sim:derive-sync] x")).job
    job = submit(job, upstream, django_capture_on_commit_callbacks)
    assert job.status == Status.SUCCEEDED and not job.vendor_task_id
    assert [f.name for f in job.files.all()] == ["wav"]
    assert not [m for m in sent_messages if m.actor_name == dispatch.POLL_JOB]


def test_a_refused_wav_fails_with_the_vendors_reason_and_gives_the_credits_back(
    alice, song, upstream, django_capture_on_commit_callbacks
):
    job = create(alice, JobKind.WAV, song("[sim:derive-refused] x")).job
    job = submit(job, upstream, django_capture_on_commit_callbacks)
    assert (job.status, job.error_code) == (Status.FAILED, ErrorCode.REJECTED)
    assert "copyrighted content" in job.error_detail
    assert (account(alice).used, account(alice).in_flight) == (0, 0)
    assert usage_recompute(user=alice) == (0, 0)


def test_a_failed_wav_task_fails_the_job_and_gives_the_credits_back(
    alice, song, upstream, simulator, django_capture_on_commit_callbacks
):
    job = create(alice, JobKind.WAV, song("[sim:derive-failed] x")).job
    job = run(job, upstream, simulator, django_capture_on_commit_callbacks)
    assert (job.status, job.error_code) == (Status.FAILED, ErrorCode.INTERNAL)
    assert "could not be made from this clip" in job.error_detail
    assert account(alice).used == 0


def test_a_transient_submit_requeues_then_the_retry_makes_one_task(
    alice, song, upstream, simulator, django_capture_on_commit_callbacks
):
    job = create(alice, JobKind.WAV, song("[sim:derive-500] x")).job
    with pytest.raises(UpstreamTransient):
        submit(job, upstream, django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.status == Status.QUEUED
    assert submit(job, upstream, django_capture_on_commit_callbacks).status == Status.RUNNING
    assert job.submit_attempts == 2
    assert len(vendor_calls(simulator, "/sonic/wav")) == 1


def test_a_duplicate_submit_makes_no_second_task(
    alice, song, upstream, simulator, django_capture_on_commit_callbacks
):
    job = create(alice, JobKind.WAV, song()).job
    submit(job, upstream, django_capture_on_commit_callbacks)
    submit(job, upstream, django_capture_on_commit_callbacks)
    assert len(vendor_calls(simulator, "/sonic/wav")) == 1


def test_an_unanswered_submit_is_charged_as_unconfirmed_and_never_resent(
    alice, song, upstream, simulator, django_capture_on_commit_callbacks
):
    job = create(alice, JobKind.WAV, song()).job
    simulator.configure(faults={"slow": 1.0, "slow_s": 1.0})
    upstream.client.timeout_s = (1, 0.3)
    job = submit(job, upstream, django_capture_on_commit_callbacks)
    assert (job.status, job.error_code) == (Status.FAILED, ErrorCode.UNCONFIRMED)
    assert (account(alice).used, account(alice).in_flight) == (2, 0)


def test_the_reconciler_settles_a_submit_whose_worker_died_as_unconfirmed(
    alice, clip_factory, generation_factory
):
    clip = clip_factory(generation=generation_factory(owner=alice))
    job = create(alice, JobKind.WAV, clip).job
    Job.objects.filter(pk=job.pk).update(
        status=Status.SUBMITTING, next_check_at=timezone.now() - timedelta(seconds=1)
    )
    report = job_lifecycle.jobs_reconcile()
    job.refresh_from_db()
    assert report.unconfirmed == 1
    assert (job.status, job.error_code) == (Status.FAILED, ErrorCode.UNCONFIRMED)
    assert (account(alice).used, account(alice).in_flight) == (2, 0)


def test_the_reconciler_resends_a_lost_submit_and_a_lost_poll(
    alice, clip_factory, generation_factory, sent_messages
):
    clip = clip_factory(generation=generation_factory(owner=alice))
    queued = create(alice, JobKind.WAV, clip).job
    running = create(alice, JobKind.STEMS_BASIC, clip).job
    long_ago = timezone.now() - timedelta(hours=1)
    Job.objects.filter(pk=queued.pk).update(created_at=long_ago)
    Job.objects.filter(pk=running.pk).update(
        status=Status.RUNNING, poll_seq=3, next_check_at=long_ago, started_at=long_ago
    )
    report = job_lifecycle.jobs_reconcile()
    assert (report.resubmitted, report.repolled) == (1, 1)
    sent = {(m.actor_name, m.args) for m in sent_messages}
    assert (dispatch.SUBMIT_JOB, (str(queued.pk),)) in sent
    assert (dispatch.POLL_JOB, (str(running.pk), 4)) in sent


def test_retries_running_out_fail_the_job_as_unavailable_and_release(
    alice, clip_factory, generation_factory
):
    clip = clip_factory(generation=generation_factory(owner=alice))
    job = create(alice, JobKind.WAV, clip).job
    job_lifecycle.job_give_up(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.error_code) == (Status.FAILED, ErrorCode.UNAVAILABLE)
    assert (account(alice).used, account(alice).in_flight) == (0, 0)


def test_a_deleted_clip_leaves_its_job_to_finish_and_settle(
    alice, song, upstream, simulator, django_capture_on_commit_callbacks
):
    clip = song()
    job = create(alice, JobKind.WAV, clip).job
    clip.generation.delete()
    job = run(job, upstream, simulator, django_capture_on_commit_callbacks)
    assert job.status == Status.SUCCEEDED and job.clip is None
    assert account(alice).in_flight == 0


def test_a_job_timed_out_here_is_charged_because_the_vendor_billed_its_task(
    alice, song, upstream, settings, django_capture_on_commit_callbacks
):
    job = create(alice, JobKind.WAV, song()).job
    job = submit(job, upstream, django_capture_on_commit_callbacks)
    Job.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(hours=1))
    job_lifecycle.job_poll(job_id=job.pk, seq=job.poll_seq, upstream=upstream)
    job.refresh_from_db()
    assert (job.status, job.error_code) == (Status.FAILED, ErrorCode.TIMED_OUT)
    assert (account(alice).used, account(alice).in_flight) == (2, 0)


def test_polls_out_of_retries_are_charged_but_a_submit_out_of_retries_is_not(
    alice, clip_factory, generation_factory
):
    clip = clip_factory(generation=generation_factory(owner=alice))
    running = create(alice, JobKind.WAV, clip).job
    queued = create(alice, JobKind.STEMS_BASIC, clip).job
    Job.objects.filter(pk=running.pk).update(status=Status.RUNNING, vendor_task_id="t-1")
    job_lifecycle.job_give_up(job_id=running.pk)
    job_lifecycle.job_give_up(job_id=queued.pk)
    kinds = dict(LedgerEntry.objects.exclude(kind="reserve").values_list("units", "kind"))
    assert kinds == {0: "charge", -15: "release"}  # the WAV kept, the basic stems given back
    assert (account(alice).used, account(alice).in_flight) == (2, 0)


def test_deleting_a_generation_removes_its_clips_finished_jobs_and_their_files(
    alice, song, upstream, simulator, django_capture_on_commit_callbacks
):
    clip = song()
    done = run(
        create(alice, JobKind.WAV, clip).job,
        upstream,
        simulator,
        django_capture_on_commit_callbacks,
    )
    wav = done.files.get()
    media.job_file_copy(file_id=wav.pk, fetch=SafeFetcher([simulator.public_url]))
    name = JobFile.objects.get(pk=wav.pk).file.name
    in_flight = create(alice, JobKind.STEMS_BASIC, clip).job
    with django_capture_on_commit_callbacks(execute=True):
        services.generation_delete(generation=clip.generation)
    assert not default_storage.exists(name)
    assert not Job.objects.filter(pk=done.pk).exists()
    in_flight.refresh_from_db()  # left to finish and settle on its own
    assert in_flight.clip is None and in_flight.status == Status.QUEUED


def test_the_reconciler_resends_a_lost_file_copy_once_and_none_while_one_is_on_its_way(
    alice, clip_factory, generation_factory, sent_messages
):
    clip = clip_factory(generation=generation_factory(owner=alice))
    job = create(alice, JobKind.WAV, clip).job
    long_ago = timezone.now() - timedelta(hours=1)
    Job.objects.filter(pk=job.pk).update(status=Status.SUCCEEDED, finished_at=long_ago)
    wav = JobFile.objects.create(job=job, name="wav", vendor_url="https://cdn1.suno.ai/w.wav")
    assert job_lifecycle.jobs_reconcile().recopied == 1
    assert job_lifecycle.jobs_reconcile().recopied == 0  # the first is still queued
    copies = [m.args for m in sent_messages if m.actor_name == dispatch.COPY_JOB_FILE]
    assert [args[0] for args in copies] == [str(wav.pk)]
    media.job_file_copy_give_up(file_id=wav.pk, attempts=8)  # its retries ran out
    wav.refresh_from_db()
    assert wav.media_state == MediaState.FAILED
    assert job_lifecycle.jobs_reconcile().recopied == 0  # failed files are not retried


def test_the_reconcile_command_repairs_jobs_too(alice, clip_factory, generation_factory):
    clip = clip_factory(generation=generation_factory(owner=alice))
    job = create(alice, JobKind.WAV, clip).job
    Job.objects.filter(pk=job.pk).update(
        status=Status.SUBMITTING, next_check_at=timezone.now() - timedelta(seconds=1)
    )
    out = StringIO()
    call_command("reconcile", stdout=out)
    assert "reconcile jobs: resubmitted 0, unconfirmed creates 1," in out.getvalue()
    job.refresh_from_db()
    assert job.error_code == ErrorCode.UNCONFIRMED


def test_a_job_file_has_a_size_cap_of_its_own_above_a_songs(
    alice, song, upstream, simulator, settings, sent_messages, django_capture_on_commit_callbacks
):
    # A lossless WAV is several times the song's audio: the clip cap must not refuse it.
    settings.MEDIA_MAX_AUDIO_BYTES = 1_000
    done = run(
        create(alice, JobKind.WAV, song()).job,
        upstream,
        simulator,
        django_capture_on_commit_callbacks,
    )
    wav = done.files.get()
    fetch = SafeFetcher([simulator.public_url])
    (claim,) = [m.args[1] for m in sent_messages if m.actor_name == dispatch.COPY_JOB_FILE]
    media.job_file_copy(file_id=wav.pk, fetch=fetch, claim=claim)
    wav.refresh_from_db()
    assert wav.media_state == MediaState.READY and wav.size > 1_000
    settings.MEDIA_MAX_FILE_BYTES = 1_000
    JobFile.objects.filter(pk=wav.pk).update(media_state=MediaState.PENDING, file="")
    media.job_file_copy(file_id=wav.pk, fetch=fetch)
    wav.refresh_from_db()
    assert wav.media_state == MediaState.FAILED and "1000" in wav.media_error
