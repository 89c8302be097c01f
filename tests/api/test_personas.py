"""POST/GET /api/v1/personas, and generations sung by a persona (operation persona_music)."""

import pytest
from django.conf import settings

from generations import dispatch
from generations.models import Account, Generation, Job, JobKind, LedgerEntry, Persona, Status

pytestmark = pytest.mark.django_db

URL = "/api/v1/personas"


@pytest.fixture
def post(alice_client, broker, django_capture_on_commit_callbacks):
    def _post(payload, client=None, url=URL, **headers):
        with django_capture_on_commit_callbacks(execute=True):
            return (client or alice_client).post(url, payload, format="json", **headers)

    return _post


@pytest.fixture
def clip(alice, clip_factory):
    return clip_factory(generation__owner=alice)


@pytest.fixture
def ready_persona(db):
    """A persona whose job succeeded at the vendor (as the worker leaves it)."""

    def make(owner, clip=None, status=Status.SUCCEEDED, name="Velvet"):
        job = Job.objects.create(
            owner=owner,
            kind=JobKind.PERSONA,
            clip=clip,
            status=status,
            result={"persona_id": "persona-123"} if status == Status.SUCCEEDED else {},
        )
        return Persona.objects.create(owner=owner, job=job, clip=clip, name=name)

    return make


def test_it_makes_a_persona_from_your_clip_for_one_credit(alice, clip, post, sent_messages):
    response = post(
        {"clip": str(clip.pk), "name": "Velvet", "description": "a warm alto", "styles": "soul"}
    )
    assert response.status_code == 202, response.json()
    body = response.json()
    persona = Persona.objects.get(pk=body["id"])
    assert response["Location"].endswith(f"/api/v1/personas/{persona.pk}")
    assert {k: body[k] for k in ("name", "description", "styles", "status", "clip", "error")} == {
        "name": "Velvet",
        "description": "a warm alto",
        "styles": "soul",
        "status": "queued",
        "clip": str(clip.pk),
        "error": None,
    }
    assert body["job"] == str(persona.job_id)
    assert persona.job.kind == JobKind.PERSONA
    assert Account.objects.get(user=alice).used == settings.CREDIT_COSTS["persona"] == 1
    assert LedgerEntry.objects.get(kind="reserve").operation == "persona"
    assert [m.args for m in sent_messages if m.actor_name == dispatch.SUBMIT_JOB] == [
        (str(persona.job_id),)
    ]


def test_another_users_clip_is_404_and_nothing_is_made(bob, clip_factory, post, sent_messages):
    theirs = clip_factory(generation__owner=bob)
    response = post({"clip": str(theirs.pk), "name": "Velvet"})
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert not Persona.objects.exists()
    assert sent_messages == []


def test_an_unfinished_clip_is_409(clip, post):
    clip.state = "running"
    clip.save()
    response = post({"clip": str(clip.pk), "name": "Velvet"})
    assert response.status_code == 409
    assert response.json()["detail"] == "The clip has not finished successfully."


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": " "}, "name"),
        ({"name": "x" * 80}, "name"),  # the vendor's "less than 80"
        ({"name": "V", "description": "x" * 200}, "description"),  # "less than 200"
        ({"name": "V", "styles": "x" * 201}, "styles"),
        ({"name": "V", "voice": "alto"}, "voice"),
    ],
)
def test_the_fields_are_checked_before_anything_is_stored(clip, post, payload, field):
    response = post({"clip": str(clip.pk), **payload})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]
    assert not Persona.objects.exists()


def test_one_clip_can_give_two_personas(clip, post):
    first = post({"clip": str(clip.pk), "name": "Velvet"})
    second = post({"clip": str(clip.pk), "name": "Smoke"})
    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["id"] != second.json()["id"]


def test_an_idempotency_key_replays_the_same_persona(alice, clip, post):
    payload = {"clip": str(clip.pk), "name": "Velvet"}
    first = post(payload, HTTP_IDEMPOTENCY_KEY="persona-1")
    again = post(payload, HTTP_IDEMPOTENCY_KEY="persona-1")
    assert again.status_code == 202
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert Persona.objects.count() == 1
    assert Account.objects.get(user=alice).used == 1
    other = post({**payload, "name": "Smoke"}, HTTP_IDEMPOTENCY_KEY="persona-1")
    assert other.status_code == 422


def test_you_list_and_get_only_your_own(alice, bob, alice_client, bob_client, clip, ready_persona):
    mine = ready_persona(alice, clip)
    newer = ready_persona(alice, clip, status=Status.QUEUED, name="Smoke")
    theirs = ready_persona(bob)
    listed = alice_client.get(URL).json()
    assert [p["id"] for p in listed["results"]] == [str(newer.pk), str(mine.pk)]
    assert listed["results"][1]["status"] == "succeeded"
    assert alice_client.get(f"{URL}/{mine.pk}").json()["name"] == "Velvet"
    response = alice_client.get(f"{URL}/{theirs.pk}")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert bob_client.get(URL).json()["results"][0]["id"] == str(theirs.pk)


def test_a_failed_persona_shows_the_vendors_reason(alice, alice_client, clip, ready_persona):
    persona = ready_persona(alice, clip, status=Status.FAILED)
    Job.objects.filter(pk=persona.job_id).update(
        error_code="rejected", error_detail="The clip must be from the last 24 hours."
    )
    body = alice_client.get(f"{URL}/{persona.pk}").json()
    assert (body["status"], body["error"]) == (
        "failed",
        {"code": "rejected", "detail": "The clip must be from the last 24 hours."},
    )


# --- generations sung by a persona ---------------------------------------------------------------

SONG = {
    "operation": "persona_music",
    "mode": "custom",
    "lyrics": "[Verse]\nCity lights",
    "tags": "soul",
}


def test_a_persona_of_yours_sings_a_song_for_a_songs_price(
    alice, clip, ready_persona, post, sent_messages
):
    persona = ready_persona(alice, clip)
    response = post({**SONG, "persona": str(persona.pk)}, url="/api/v1/generations")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["operation"], body["persona"], body["status"]) == (
        "persona_music",
        str(persona.pk),
        "queued",
    )
    generation = Generation.objects.get(pk=body["id"])
    assert generation.persona == persona
    assert Account.objects.get(user=alice).used == settings.CREDIT_COSTS["persona_music"] == 15
    assert [m.args for m in sent_messages if m.actor_name == dispatch.SUBMIT_GENERATION] == [
        (str(generation.pk),)
    ]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"persona": None}, "persona", "Required with operation persona_music."),
        ({"persona": "bob"}, "persona", "No persona of yours has this id."),
        ({"persona": "queued"}, "persona", "The persona is not ready yet"),
        ({"mode": "description", "description": "x"}, "mode", "custom mode"),
        ({"operation": "create"}, "persona", "Only allowed with operation persona_music."),
        ({"source_clip": "clip"}, "source_clip", "Only allowed with operation extend"),
    ],
)
def test_a_persona_song_is_checked_before_anything_is_stored(
    alice, bob, clip, ready_persona, post, change, field, message
):
    personas = {
        "mine": ready_persona(alice, clip),
        "bob": ready_persona(bob),
        "queued": ready_persona(alice, clip, status=Status.QUEUED),
    }
    payload = {**SONG, "persona": str(personas["mine"].pk), **change}
    if change.get("persona"):
        payload["persona"] = str(personas[change["persona"]].pk)
    if change.get("source_clip"):
        payload["source_clip"] = str(clip.pk)
    payload = {k: v for k, v in payload.items() if v is not None}
    if payload.get("mode") == "description":
        for name in ("lyrics", "tags"):
            payload.pop(name)
    response = post(payload, url="/api/v1/generations")
    assert response.status_code == 400, response.json()
    assert message in response.json()["errors"][field][0]
    assert not Generation.objects.filter(operation="persona_music").exists()


def test_the_list_costs_the_same_queries_for_one_persona_or_many(
    alice, alice_client, clip, ready_persona
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert alice_client.get(URL).status_code == 200
        return len(captured)

    ready_persona(alice, clip)
    queries()  # the first request of a token also records its use
    one = queries()
    for n in range(4):
        ready_persona(alice, clip, name=f"P{n}")
    assert queries() == one
