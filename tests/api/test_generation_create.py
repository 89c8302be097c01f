import pytest

from generations import dispatch
from generations.models import Generation, Operation, Status

pytestmark = pytest.mark.django_db

URL = "/api/v1/generations"


@pytest.fixture
def post(alice_client, broker, django_capture_on_commit_callbacks):
    """POST as alice and run the on-commit callbacks, as a real commit would."""

    def _post(payload):
        with django_capture_on_commit_callbacks(execute=True):
            return alice_client.post(URL, payload, format="json")

    return _post


def test_it_accepts_a_description_and_queues_it_after_commit(
    alice, alice_client, sent_messages, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = alice_client.post(URL, {"description": "calm piano"}, format="json")
        assert sent_messages == []  # nothing leaves before the transaction commits
    for callback in callbacks:
        callback()
    assert response.status_code == 202
    body = response.json()
    generation = Generation.objects.get(pk=body["id"])
    assert generation.owner == alice
    assert body["status"] == "queued"
    assert body["model"] == "sonic-v5"
    assert body["error"] is None
    assert response["Location"].endswith(f"/api/v1/generations/{generation.pk}")
    assert [(m.actor_name, m.queue_name, m.args) for m in sent_messages] == [
        (dispatch.SUBMIT_GENERATION, dispatch.QUEUE, (str(generation.pk),))
    ]


def test_the_location_header_serves_the_generation(alice_client, post):
    response = post({"description": "x"})
    assert alice_client.get(response["Location"]).json()["id"] == response.json()["id"]


def test_it_accepts_custom_mode(post):
    payload = {
        "mode": "custom",
        "title": "Morning",
        "tags": "pop",
        "lyrics": "[Verse]\nla la",
        "negative_tags": "metal",
        "vocal_gender": "f",
        "auto_lyrics": True,
    }
    response = post(payload)
    assert response.status_code == 202
    body = response.json()
    assert {k: body[k] for k in payload} == payload


def test_it_accepts_an_instrumental_without_lyrics(post):
    payload = {"mode": "custom", "tags": "ambient", "instrumental": True}
    assert post(payload).status_code == 202


def test_it_extends_your_own_clip(alice, clip_factory, post):
    clip = clip_factory(generation__owner=alice, duration=100)
    payload = {
        "description": "more",
        "operation": "extend",
        "source_clip": str(clip.pk),
        "continue_at": 42.5,
    }
    response = post(payload)
    assert response.status_code == 202
    generation = Generation.objects.get(pk=response.json()["id"])
    assert generation.operation == Operation.EXTEND
    assert generation.source_clip == clip
    assert generation.continue_at == 42.5


def test_it_covers_your_own_clip(alice, clip_factory, post):
    clip = clip_factory(generation__owner=alice)
    payload = {"description": "jazz", "operation": "cover", "source_clip": str(clip.pk)}
    assert post(payload).status_code == 202


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "description"),
        ({"description": "   "}, "description"),
        ({"description": 12}, "description"),
        ({"description": ["a"]}, "description"),
        ({"description": "x" * 401}, "description"),
        ({"description": "x", "mode": "karaoke"}, "mode"),
        ({"description": "x", "model": "sonic-v9"}, "model"),
        ({"description": "x", "instrumental": "yes"}, "instrumental"),
        ({"description": "x", "instrumental": 1}, "instrumental"),
        ({"description": "x", "vocal_gender": "x"}, "vocal_gender"),
        ({"description": "x", "vocal_gender": "f", "model": "sonic-v4"}, "vocal_gender"),
        ({"description": "x", "lyrics": "la"}, "lyrics"),
        ({"description": "x", "title": "t"}, "title"),
        ({"description": "x", "colour": "blue"}, "colour"),
        ({"description": "x", "operation": "remix"}, "operation"),
        ({"description": "x", "continue_at": 3}, "continue_at"),
        ({"description": "x", "operation": "extend"}, "source_clip"),
        ({"description": "x", "operation": "cover"}, "source_clip"),
        ({"description": "x", "operation": "cover", "source_clip": "nope"}, "source_clip"),
        (
            {
                "description": "x",
                "operation": "cover",
                "source_clip": "00000000-0000-0000-0000-000000000000",
            },
            "source_clip",
        ),
        ({"mode": "custom", "tags": "pop"}, "lyrics"),
        ({"mode": "custom", "lyrics": "la", "description": "x"}, "description"),
        ({"mode": "custom", "lyrics": "la", "title": "x" * 81}, "title"),
        ({"mode": "custom", "lyrics": "la", "tags": "x" * 201}, "tags"),
        ({"mode": "custom", "lyrics": "la", "negative_tags": "x" * 201}, "negative_tags"),
        ({"mode": "custom", "lyrics": "x" * 5001}, "lyrics"),
        ({"mode": "custom", "lyrics": "x" * 3001, "model": "sonic-v4"}, "lyrics"),
        (
            {"mode": "custom", "lyrics": "a", "auto_lyrics": True, "model": "sonic-v4"},
            "auto_lyrics",
        ),
    ],
)
def test_it_refuses_bad_requests_naming_the_field(post, sent_messages, payload, field):
    response = post(payload)
    assert response.status_code == 400, response.json()
    body = response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert field in body["errors"], body
    assert body["status"] == 400
    assert Generation.objects.count() == 0
    assert sent_messages == []


def test_lyrics_up_to_the_older_models_limit_are_accepted(post):
    payload = {"mode": "custom", "lyrics": "x" * 3000, "model": "sonic-v4"}
    assert post(payload).status_code == 202


def test_the_limits_are_settings(settings, post):
    settings.MUSIC_LIMITS = {**settings.MUSIC_LIMITS, "description": 200}
    response = post({"description": "x" * 201})
    assert response.status_code == 400
    assert "200" in response.json()["errors"]["description"][0]


def test_another_users_clip_cannot_be_a_source(post, bob, clip_factory, sent_messages):
    clip = clip_factory(generation__owner=bob)
    payload = {"description": "x", "operation": "cover", "source_clip": str(clip.pk)}
    response = post(payload)
    assert response.status_code == 400
    assert response.json()["errors"]["source_clip"] == ["No clip of yours has this id."]
    assert sent_messages == []


def test_extend_cannot_start_past_the_end_of_the_clip(alice, post, clip_factory):
    clip = clip_factory(generation__owner=alice, duration=30)
    payload = {
        "description": "x",
        "operation": "extend",
        "source_clip": str(clip.pk),
        "continue_at": 31,
    }
    response = post(payload)
    assert "continue_at" in response.json()["errors"]


def test_a_rolled_back_creation_sends_no_message(alice, sent_messages, transactional_db):
    from django.db import transaction

    from generations.services import generation_create

    with pytest.raises(RuntimeError), transaction.atomic():
        generation_create(owner=alice, request={"description": "x", "model": "sonic-v5"})
        raise RuntimeError("the request failed after the insert")
    assert Generation.objects.count() == 0
    assert sent_messages == []


def test_a_committed_creation_reaches_the_real_broker(alice, broker, transactional_db):
    from dramatiq.brokers.redis import RedisBroker

    from generations.services import generation_create

    if not isinstance(broker, RedisBroker):
        pytest.skip("counts the message in Redis")
    created = generation_create(owner=alice, request={"description": "x", "model": "sonic-v5"})
    assert created.generation.status == Status.QUEUED
    assert broker.client.hlen(f"dramatiq:{dispatch.QUEUE}.msgs") == 1
