"""MEDIA_STORAGE=s3 against a real S3-compatible server (moto's, as its own process): copies
land in the bucket, serving redirects to a presigned URL or streams with Range, deleting a
generation deletes its objects, and /readyz reports the store."""

import time
import uuid

import boto3
import pytest
import requests
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from config.media_storage import s3_options
from generations import lifecycle, media, services
from generations.models import Clip, MediaState
from tests.s3_server import S3Server
from workers.fetch import SafeFetcher

pytestmark = pytest.mark.django_db

CREDENTIALS = {"access_key": "test", "secret_key": "test", "region": "us-east-1"}


@pytest.fixture(scope="module")
def s3_server():
    server = S3Server()
    yield server
    server.close()


@pytest.fixture
def bucket(s3_server, settings):
    name = f"media-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=name)
    options = s3_options(bucket=name, endpoint_url=s3_server.endpoint, **CREDENTIALS)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
    }
    settings.MEDIA_STORAGE = "s3"
    return client, name


def keys(bucket) -> list[str]:
    client, name = bucket
    return [o["Key"] for o in client.list_objects_v2(Bucket=name).get("Contents", [])]


@pytest.fixture
def copied_clip(
    bucket, alice, generation_factory, upstream, simulator, django_capture_on_commit_callbacks
):
    generation = generation_factory(owner=alice)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.generation_submit(generation_id=generation.pk, upstream=upstream)
    time.sleep(simulator.ready_after_s + 0.05)
    lifecycle.generation_poll(generation_id=generation.pk, seq=1, upstream=upstream)
    clip = generation.clips.first()
    fetch = SafeFetcher([simulator.public_url], timeout_s=(2, 5))
    media.clip_copy_media(clip_id=clip.pk, fetch=fetch)
    clip = Clip.objects.get(pk=clip.pk)
    assert clip.media_state == MediaState.READY
    return clip


def test_the_copy_lands_in_the_bucket(copied_clip, bucket):
    assert sorted(keys(bucket)) == sorted(
        [copied_clip.audio_file.name, copied_clip.image_file.name]
    )


def test_serving_redirects_to_a_presigned_url_where_range_works(alice_client, copied_clip):
    signed = alice_client.get(f"/api/v1/clips/{copied_clip.pk}").json()["audio_url"]
    answer = APIClient().get(signed)
    assert answer.status_code == 302
    assert answer["Cache-Control"] == "private, no-store"
    part = requests.get(answer["Location"], headers={"Range": "bytes=0-99"}, timeout=10)
    assert (part.status_code, len(part.content), part.content[:4]) == (206, 100, b"RIFF")
    assert part.headers["Content-Type"] == "audio/wav"


def test_serving_can_stream_through_this_service(alice_client, copied_clip, settings):
    settings.MEDIA_S3_SERVE = "stream"
    with default_storage.open(copied_clip.audio_file.name) as stored:
        audio = stored.read()
    part = alice_client.get(f"/api/v1/clips/{copied_clip.pk}/audio", HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206
    assert b"".join(part.streaming_content) == audio[100:200]
    assert part["Content-Range"] == f"bytes 100-199/{len(audio)}"
    whole = alice_client.get(f"/api/v1/clips/{copied_clip.pk}/audio")
    assert b"".join(whole.streaming_content) == audio


def test_deleting_the_generation_deletes_its_objects(
    copied_clip, bucket, django_capture_on_commit_callbacks
):
    assert keys(bucket)
    with django_capture_on_commit_callbacks(execute=True):
        services.generation_delete(generation=copied_clip.generation)
    assert keys(bucket) == []


def test_readyz_reports_the_store(bucket, client, settings):
    assert client.get("/readyz").json()["checks"]["media_storage"] == "ok"
    options = s3_options(bucket="x", endpoint_url="http://127.0.0.1:9", **CREDENTIALS)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
    }
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["media_storage"] == "unavailable"
