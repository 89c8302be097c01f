"""POST /api/v1/uploads: checks from the bytes before anything is stored, reserved or sent
(400/413 naming the limit), 503 without PUBLIC_BASE_URL, 202 with a playable clip, ownership,
idempotency, and covers of an uploaded clip through POST /generations."""

from __future__ import annotations

import itertools
import struct

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from api.tokens import token_create
from config.asgi import application
from generations import dispatch
from generations.models import Account, ClipState, Generation, LedgerEntry, Status
from tests.audio_files import mp3_bytes, wav_bytes
from tests.security.asgi import call

pytestmark = pytest.mark.django_db

URL = "/api/v1/uploads"


@pytest.fixture(autouse=True)
def _setup(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PUBLIC_BASE_URL = "https://gateway.example"


def upload(client, data: bytes, name="tune.wav", content_type="audio/wav", **extra):
    form = {"file": SimpleUploadedFile(name, data, content_type=content_type)}
    headers = {k: v for k, v in extra.items() if k.startswith("HTTP_")}
    form.update({k: v for k, v in extra.items() if not k.startswith("HTTP_")})
    return client.post(URL, form, format="multipart", **headers)


def nothing_happened(settings, sent_messages):
    assert not Generation.objects.exists()
    assert not LedgerEntry.objects.exists()
    assert not [m for m in sent_messages if m.actor_name == dispatch.SUBMIT_GENERATION]
    media = settings.MEDIA_ROOT
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def test_an_upload_is_accepted_as_a_queued_generation_with_a_playable_clip(
    alice_client, alice, sent_messages, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(alice_client, wav_bytes(8.0), title="humming")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["operation"], body["status"], body["title"]) == ("upload", "queued", "humming")
    [clip] = body["clips"]
    assert (clip["state"], clip["media"], clip["duration"]) == ("pending", "ready", 8.0)
    assert response["Location"].endswith(f"/api/v1/generations/{body['id']}")
    assert Account.objects.get(user=alice).used == 2  # CREDIT_COSTS["upload"]
    assert [m.args for m in sent_messages if m.actor_name == dispatch.SUBMIT_GENERATION] == [
        (body["id"],)
    ]
    audio = alice_client.get(clip["audio_url"])
    assert audio.status_code == 200
    assert b"".join(audio.streaming_content) == wav_bytes(8.0)


def test_the_title_defaults_to_the_file_name(alice_client):
    body = upload(alice_client, mp3_bytes(10.0), name="Demo take 3.mp3").json()
    assert body["clips"][0]["title"] == "Demo take 3"


def test_without_public_base_url_uploads_are_a_503_naming_the_setting(
    alice_client, settings, sent_messages
):
    settings.PUBLIC_BASE_URL = ""
    response = upload(alice_client, wav_bytes(8.0))
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert "PUBLIC_BASE_URL" in response.json()["detail"]
    nothing_happened(settings, sent_messages)


def test_the_type_is_sniffed_from_the_bytes_not_the_name_or_content_type(
    alice_client, settings, sent_messages
):
    fake = b"%PDF-1.7\n" + b"x" * 4000
    response = upload(alice_client, fake, name="song.mp3", content_type="audio/mpeg")
    assert response.status_code == 400
    problem = response.json()
    assert (problem["type"], problem["limit"]) == (
        "urn:music-gateway:problem:upload_refused",
        "format",
    )
    assert "MP3 or WAV" in problem["detail"]
    nothing_happened(settings, sent_messages)


def review_repro_html_in_a_wav_header() -> bytes:
    """The outside review's file: HTML behind a RIFF/WAVE header with format code 0x1234,
    no channels, no sample rate and no bits, and a byte rate that makes 8 s of it."""
    body = (b"<html><script>alert(1)</script></html>" * 6000)[:192000]
    fmt = struct.pack("<IHHIIHH", 16, 0x1234, 0, 0, 24000, 0, 0)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + len(body))
        + b"WAVEfmt "
        + fmt
        + b"data"
        + struct.pack("<I", len(body))
        + body
    )


def test_a_wav_header_over_something_that_is_not_audio_is_a_400_naming_the_rule(
    alice_client, settings, sent_messages
):
    response = upload(alice_client, review_repro_html_in_a_wav_header(), name="h.wav")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert (problem["type"], problem["limit"]) == (
        "urn:music-gateway:problem:upload_refused",
        "format",
    )
    assert "format code 0x1234" in problem["detail"]
    nothing_happened(settings, sent_messages)


def test_two_files_in_one_upload_are_a_400_naming_the_rule(alice_client, settings, sent_messages):
    form = {
        "file": [
            SimpleUploadedFile("a.wav", wav_bytes(8.0), content_type="audio/wav"),
            SimpleUploadedFile("b.wav", wav_bytes(9.0), content_type="audio/wav"),
        ]
    }
    response = alice_client.post(URL, form, format="multipart")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert (problem["type"], problem["limit"]) == (
        "urn:music-gateway:problem:upload_refused",
        "one_file",
    )
    assert "one file per upload" in problem["detail"]
    nothing_happened(settings, sent_messages)


@pytest.mark.parametrize(
    ("seconds", "limit", "words"),
    [
        (61.0, "UPLOAD_MAX_DURATION_S", "at most 60 s"),
        (5.0, "UPLOAD_MIN_DURATION_S", "at least 6 s"),
    ],
)
def test_audio_too_long_or_too_short_is_a_400_naming_the_limit(
    alice_client, settings, sent_messages, seconds, limit, words
):
    response = upload(alice_client, wav_bytes(seconds))
    assert response.status_code == 400
    assert response.json()["limit"] == limit
    assert words in response.json()["detail"]
    nothing_happened(settings, sent_messages)


def test_a_file_over_the_size_cap_is_a_413_naming_it(alice_client, settings, sent_messages):
    settings.UPLOAD_MAX_BYTES = 50_000
    response = upload(alice_client, wav_bytes(8.0))  # 64 kB
    assert response.status_code == 413
    assert response.json()["limit"] == "UPLOAD_MAX_BYTES"
    assert "50000 bytes" in response.json()["detail"]
    nothing_happened(settings, sent_messages)


def test_a_body_over_the_upload_cap_is_413_before_it_is_read(settings):
    settings.UPLOAD_MAX_BYTES = 1_000_000
    answer = call(
        application,
        "POST",
        URL,
        headers=[
            ("content-type", "multipart/form-data; boundary=x"),
            ("content-length", "5000000"),
        ],
        chunks=itertools.repeat(b"x" * 65536, 8),
    )
    assert answer.status == 413
    problem = answer.json()
    assert (problem["type"], problem["limit"]) == (
        "urn:music-gateway:problem:upload_refused",
        "UPLOAD_MAX_BYTES",
    )
    assert "UPLOAD_MAX_BYTES" in problem["detail"]
    assert answer.bytes_read == 0


@pytest.mark.django_db(transaction=True)
def test_an_upload_under_the_cap_passes_the_body_limit_other_paths_keep(alice, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    secret = token_create(user=alice, name="t").secret
    data = wav_bytes(20.0)  # 160 kB: over the JSON limit, under the upload cap
    boundary = "b0undary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
            f"Content-Type: audio/wav\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    answer = call(
        application,
        "POST",
        URL,
        headers=[
            ("authorization", f"Bearer {secret}"),
            ("content-type", f"multipart/form-data; boundary={boundary}"),
            ("content-length", str(len(body))),
        ],
        chunks=[body],
    )
    assert answer.status == 202, answer.json()
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def test_json_is_a_415(alice_client):
    response = alice_client.post(URL, {"file": "x"}, format="json")
    assert response.status_code == 415


def test_a_missing_file_is_a_400_naming_the_field(alice_client):
    response = alice_client.post(URL, {"title": "x"}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()["errors"]


def test_a_post_without_a_body_is_a_400_naming_the_field(alice_client, settings, sent_messages):
    """The attack's case: no body, no Content-Type (DRF parses it to a plain dict, which the
    one-file check took for a form: 500)."""
    response = alice_client.generic("POST", URL, HTTP_IDEMPOTENCY_KEY="k-empty-upload")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert "file" in response.json()["errors"]
    nothing_happened(settings, sent_messages)


def test_over_your_credits_is_a_429_and_nothing_is_stored(alice_client, settings, sent_messages):
    settings.DEFAULT_PLAN = {**settings.DEFAULT_PLAN, "credits_per_period": 1}
    response = upload(alice_client, wav_bytes(8.0))
    assert response.status_code == 429
    assert (response.json()["operation"], response.json()["cost"]) == ("upload", 2)
    nothing_happened(settings, sent_messages)


def test_an_idempotency_key_replays_the_upload_and_costs_once(alice_client, alice):
    key = {"HTTP_IDEMPOTENCY_KEY": "up-1"}
    first = upload(alice_client, wav_bytes(8.0), **key)
    replay = upload(alice_client, wav_bytes(8.0), **key)
    assert replay.status_code == 202
    assert replay.json()["id"] == first.json()["id"]
    assert replay["Idempotent-Replayed"] == "true"
    assert Account.objects.get(user=alice).used == 2
    assert upload(alice_client, wav_bytes(9.0), **key).status_code == 422
    assert Generation.objects.count() == 1


def test_someone_elses_upload_is_404_and_cannot_be_covered(alice_client, bob_client):
    body = upload(alice_client, wav_bytes(8.0)).json()
    assert bob_client.get(f"/api/v1/generations/{body['id']}").status_code == 404
    assert bob_client.get(f"/api/v1/clips/{body['clips'][0]['id']}").status_code == 404
    Generation.objects.filter(pk=body["id"]).update(status=Status.SUCCEEDED)
    Generation.objects.get(pk=body["id"]).clips.update(state=ClipState.SUCCEEDED)
    cover = bob_client.post(
        "/api/v1/generations",
        {"operation": "cover", "description": "jazz", "source_clip": body["clips"][0]["id"]},
        format="json",
    )
    assert cover.status_code == 400
    assert "source_clip" in cover.json()["errors"]


def test_an_uploaded_clip_is_covered_once_the_music_service_made_it(alice_client):
    body = upload(alice_client, wav_bytes(8.0)).json()
    clip_id = body["clips"][0]["id"]
    request = {"operation": "cover", "description": "as a jazz trio", "source_clip": clip_id}
    early = alice_client.post("/api/v1/generations", request, format="json")
    assert early.status_code == 400
    assert "not finished" in early.json()["errors"]["source_clip"][0]
    Generation.objects.get(pk=body["id"]).clips.update(
        state=ClipState.SUCCEEDED, vendor_clip_id="v"
    )
    cover = alice_client.post("/api/v1/generations", request, format="json")
    assert cover.status_code == 202
    assert cover.json()["source_clip"] == clip_id


def test_operation_upload_is_not_a_json_generation(alice_client):
    response = alice_client.post(
        "/api/v1/generations", {"operation": "upload", "description": "x"}, format="json"
    )
    assert response.status_code == 400
    assert "operation" in response.json()["errors"]


def test_a_plan_without_uploads_refuses_them_with_nothing_stored(
    alice_client, alice, settings, sent_messages
):
    from generations import quotas
    from generations.models import Plan

    Plan.objects.create(name="songs-only", allowed_operations=["create"])
    quotas.plan_assign(user=alice, plan_name="songs-only")
    response = upload(alice_client, wav_bytes(8.0))
    assert response.status_code == 400
    assert "songs-only" in response.json()["errors"]["file"][0]
    nothing_happened(settings, sent_messages)
