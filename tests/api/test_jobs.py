"""The jobs API: POST /clips/{id}/wav|stems|lyrics-timeline and /lyrics (202), GET /jobs/{id},
the files (signed, ranged, owner-only), the clip carrying its jobs, problem+json errors."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from rest_framework.test import APIClient

from generations import dispatch
from generations.models import Job, JobFile, JobKind, MediaState, Status

pytestmark = pytest.mark.django_db

AUDIO = b"RIFF" + bytes(range(256)) * 8


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def clip(alice, clip_factory):
    return clip_factory(generation__owner=alice, lyrics="[Verse]\nla la")


def post(client, path, data=None, **headers):
    return client.post(f"/api/v1{path}", data, format="json", **headers)


def succeeded_wav(job: Job) -> JobFile:
    name = default_storage.save(f"jobs/{job.pk}/00-wav.wav", ContentFile(AUDIO))
    Job.objects.filter(pk=job.pk).update(status=Status.SUCCEEDED, finished_at=timezone.now())
    return JobFile.objects.create(
        job=job,
        name="wav",
        vendor_url="https://cdn1.suno.ai/x.wav",
        media_state=MediaState.READY,
        file=name,
        content_type="audio/wav",
        sha256=hashlib.sha256(AUDIO).hexdigest(),
        size=len(AUDIO),
        copied_at=timezone.now(),
    )


# --- creating ------------------------------------------------------------------------------------


def test_a_wav_is_accepted_with_the_queued_job_and_its_location(
    alice_client, clip, sent_messages, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(alice_client, f"/clips/{clip.pk}/wav")
    assert response.status_code == 202
    job = response.json()
    assert (job["kind"], job["status"], job["clip"]) == ("wav", "queued", str(clip.pk))
    assert job["files"] == [] and job["error"] is None
    assert response["Location"].endswith(f"/api/v1/jobs/{job['id']}")
    assert '"credits";r=298' in response["RateLimit"]  # 300 - a WAV
    assert [(m.actor_name, m.args) for m in sent_messages] == [(dispatch.SUBMIT_JOB, (job["id"],))]
    assert alice_client.get(f"/api/v1/jobs/{job['id']}").json()["id"] == job["id"]


def test_asking_again_answers_the_same_job_with_200_and_costs_nothing(alice_client, clip):
    first = post(alice_client, f"/clips/{clip.pk}/wav").json()
    again = post(alice_client, f"/clips/{clip.pk}/wav")
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    assert '"credits";r=298' in again["RateLimit"]


def test_someone_elses_clip_is_404_and_nothing_is_made(bob_client, clip):
    for path in ("wav", "stems", "lyrics-timeline"):
        response = post(bob_client, f"/clips/{clip.pk}/{path}")
        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json"
    assert not Job.objects.exists()


def test_someone_elses_job_and_file_are_404(alice_client, bob_client, clip):
    job = Job.objects.get(pk=post(alice_client, f"/clips/{clip.pk}/wav").json()["id"])
    wav = succeeded_wav(job)
    assert bob_client.get(f"/api/v1/jobs/{job.pk}").status_code == 404
    assert bob_client.get(f"/api/v1/files/{wav.pk}").status_code == 404


def test_an_unfinished_clip_is_a_409_problem(alice_client, clip_factory, alice):
    streaming = clip_factory(generation__owner=alice, state="streaming")
    response = post(alice_client, f"/clips/{streaming.pk}/wav")
    assert response.status_code == 409
    assert response.json()["type"] == "urn:music-gateway:problem:clip_not_ready"


def test_a_clip_without_lyrics_cannot_be_timed(alice_client, clip_factory, alice):
    silent = clip_factory(generation__owner=alice, lyrics="")
    response = post(alice_client, f"/clips/{silent.pk}/lyrics-timeline")
    assert response.status_code == 409
    assert "no lyrics" in response.json()["detail"]


def test_unknown_fields_are_a_400_naming_them(alice_client, clip):
    response = post(alice_client, f"/clips/{clip.pk}/wav", {"format": "flac"})
    assert response.status_code == 400
    assert response.json()["errors"] == {"format": ["Unknown field."]}
    response = post(alice_client, f"/clips/{clip.pk}/stems", {"tracks": "six"})
    assert response.status_code == 400 and "tracks" in response.json()["errors"]


@pytest.mark.parametrize(
    ("body", "kind"), [({}, "stems_basic"), ({"tracks": "full"}, "stems_full")]
)
def test_stems_basic_or_full(alice_client, clip, body, kind):
    response = post(alice_client, f"/clips/{clip.pk}/stems", body)
    assert response.status_code == 202 and response.json()["kind"] == kind


def test_over_quota_is_a_429_with_the_limit_and_nothing_is_made(alice_client, clip, settings):
    settings.DEFAULT_PLAN = {**settings.DEFAULT_PLAN, "credits_per_period": 45}
    response = post(alice_client, f"/clips/{clip.pk}/stems", {"tracks": "full"})
    assert response.status_code == 429
    problem = response.json()
    assert problem["limit"] == "credits_per_period"
    assert (problem["operation"], problem["cost"], problem["remaining"]) == ("stems_full", 75, 45)
    assert "costs 75 credits" in problem["detail"]
    assert response["Retry-After"]
    assert not Job.objects.exists()


def test_an_idempotency_key_replays_the_job_and_is_per_path(
    alice_client, clip, clip_factory, alice
):
    other = clip_factory(generation__owner=alice)
    key = {"HTTP_IDEMPOTENCY_KEY": "k-1"}
    first = post(alice_client, f"/clips/{clip.pk}/wav", **key)
    replay = post(alice_client, f"/clips/{clip.pk}/wav", **key)
    assert replay.json()["id"] == first.json()["id"]
    assert replay["Idempotent-Replayed"] == "true"
    assert post(alice_client, f"/clips/{other.pk}/wav", **key).status_code == 422


# --- results -------------------------------------------------------------------------------------


def test_a_finished_wav_is_on_the_job_and_on_the_clip_with_a_signed_ranged_url(alice_client, clip):
    job = Job.objects.get(pk=post(alice_client, f"/clips/{clip.pk}/wav").json()["id"])
    wav = succeeded_wav(job)
    body = alice_client.get(f"/api/v1/jobs/{job.pk}").json()
    assert body["status"] == "succeeded"
    (file,) = body["files"]
    assert (file["name"], file["media"]) == ("wav", "ready")
    on_clip = alice_client.get(f"/api/v1/clips/{clip.pk}").json()["jobs"]
    assert [(j["id"], j["files"][0]["id"]) for j in on_clip] == [(str(job.pk), str(wav.pk))]
    anonymous = APIClient()
    whole = anonymous.get(file["url"])
    assert whole.status_code == 200 and b"".join(whole) == AUDIO
    assert whole["Content-Type"] == "audio/wav"
    part = anonymous.get(file["url"], HTTP_RANGE="bytes=0-3")
    assert part.status_code == 206 and b"".join(part) == b"RIFF"
    forged = file["url"][:-3] + "abc"
    assert anonymous.get(forged).status_code == 403
    assert anonymous.get(f"/api/v1/files/{wav.pk}").status_code == 401


def test_a_failed_job_shows_the_vendors_reason(alice_client, clip):
    job_id = post(alice_client, f"/clips/{clip.pk}/wav").json()["id"]
    Job.objects.filter(pk=job_id).update(
        status=Status.FAILED, error_code="rejected", error_detail="Copyrighted content."
    )
    error = alice_client.get(f"/api/v1/jobs/{job_id}").json()["error"]
    assert error == {"code": "rejected", "detail": "Copyrighted content."}


# --- lyrics --------------------------------------------------------------------------------------


def test_lyrics_are_a_job_whose_drafts_appear_when_it_succeeds(alice_client):
    response = post(alice_client, "/lyrics", {"description": "a song about sky"})
    assert response.status_code == 202
    job = response.json()
    assert (job["kind"], job["clip"], job["drafts"]) == ("lyrics", None, None)
    drafts = [{"title": "Sky", "lyrics": "[Verse]\nblue"}, {"title": "Up", "lyrics": "[Verse]\nhi"}]
    Job.objects.filter(pk=job["id"]).update(status=Status.SUCCEEDED, result={"drafts": drafts})
    assert alice_client.get(f"/api/v1/jobs/{job['id']}").json()["drafts"] == drafts


@pytest.mark.parametrize("description", ["", "   ", "x" * 120, 7])
def test_a_bad_lyrics_description_is_a_400(alice_client, description):
    response = post(alice_client, "/lyrics", {"description": description})
    assert response.status_code == 400
    assert "description" in response.json()["errors"]
    assert not Job.objects.filter(kind=JobKind.LYRICS).exists()


def test_your_jobs_are_listed_newest_first_and_filtered_by_kind(alice_client, bob_client, clip):
    wav = post(alice_client, f"/clips/{clip.pk}/wav").json()
    lyrics = post(alice_client, "/lyrics", {"description": "sky"}).json()
    listed = alice_client.get("/api/v1/jobs").json()["results"]
    assert [j["id"] for j in listed] == [lyrics["id"], wav["id"]]
    only = alice_client.get("/api/v1/jobs?kind=lyrics").json()["results"]
    assert [j["id"] for j in only] == [lyrics["id"]]
    assert bob_client.get("/api/v1/jobs").json()["results"] == []
    assert alice_client.get("/api/v1/jobs?kind=flac").status_code == 400
