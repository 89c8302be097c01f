"""POST /api/v1/generations with operation concat: an extension of yours into the full song."""

import pytest
from django.conf import settings

from generations import dispatch
from generations.models import Account, Generation, LedgerEntry, Operation

pytestmark = pytest.mark.django_db

URL = "/api/v1/generations"


@pytest.fixture
def post(alice_client, broker, django_capture_on_commit_callbacks):
    def _post(payload, client=None, **headers):
        with django_capture_on_commit_callbacks(execute=True):
            return (client or alice_client).post(URL, payload, format="json", **headers)

    return _post


@pytest.fixture
def extension(alice, clip_factory):
    """A finished clip of one of alice's extends."""
    return clip_factory(
        generation__owner=alice, generation__operation=Operation.EXTEND, model="sonic-v4-5"
    )


def test_it_concats_your_own_extension_for_two_credits(alice, extension, post, sent_messages):
    response = post({"operation": "concat", "source_clip": str(extension.pk)})
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["operation"], body["source_clip"], body["status"]) == (
        "concat",
        str(extension.pk),
        "queued",
    )
    generation = Generation.objects.get(pk=body["id"])
    assert generation.source_clip == extension
    assert generation.model == "sonic-v4-5"  # the extension's model; the vendor takes none
    assert Account.objects.get(user=alice).used == settings.CREDIT_COSTS["concat"] == 2
    assert LedgerEntry.objects.get(generation=generation).operation == "concat"
    assert [m.args for m in sent_messages if m.actor_name == dispatch.SUBMIT_GENERATION] == [
        (str(generation.pk),)
    ]


def test_a_clip_that_is_not_an_extension_cannot_be_concatenated(alice, clip_factory, post):
    song = clip_factory(generation__owner=alice)
    response = post({"operation": "concat", "source_clip": str(song.pk)})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert "extend" in response.json()["errors"]["source_clip"][0]


def test_another_users_extension_is_no_clip_of_yours(bob, clip_factory, post, sent_messages):
    theirs = clip_factory(generation__owner=bob, generation__operation=Operation.EXTEND)
    response = post({"operation": "concat", "source_clip": str(theirs.pk)})
    assert response.status_code == 400
    assert response.json()["errors"]["source_clip"] == ["No clip of yours has this id."]
    assert Generation.objects.filter(operation=Operation.CONCAT).count() == 0
    assert sent_messages == []


def test_an_unfinished_extension_cannot_be_concatenated(extension, post):
    extension.state = "running"
    extension.save()
    response = post({"operation": "concat", "source_clip": str(extension.pk)})
    assert response.json()["errors"]["source_clip"] == ["The clip has not finished successfully."]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({}, None),
        ({"description": "x"}, "description"),
        ({"mode": "custom"}, "mode"),
        ({"lyrics": "la"}, "lyrics"),
        ({"continue_at": 3}, "continue_at"),
        ({"instrumental": True}, "instrumental"),
        ({"model": "sonic-v5"}, "model"),
    ],
)
def test_concat_takes_only_the_source_clip(extension, post, extra, field):
    payload = {"operation": "concat", **extra}
    if field is None:
        payload = {"operation": "concat"}  # no source_clip at all
        field = "source_clip"
    else:
        payload["source_clip"] = str(extension.pk)
    response = post(payload)
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]
    assert Generation.objects.count() == 1  # the extension's own


def test_the_same_key_replays_the_concat_without_a_second_charge(alice, extension, post):
    body = {"operation": "concat", "source_clip": str(extension.pk)}
    first = post(body, HTTP_IDEMPOTENCY_KEY="c-1")
    again = post(body, HTTP_IDEMPOTENCY_KEY="c-1")
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Account.objects.get(user=alice).used == 2


def test_a_concat_over_your_credits_is_a_429_with_its_cost(alice, extension, post):
    Account.objects.filter(user=alice).update(used=used_leaving(alice, 1))
    response = post({"operation": "concat", "source_clip": str(extension.pk)})
    assert response.status_code == 429
    body = response.json()
    assert (body["operation"], body["cost"], body["remaining"]) == ("concat", 2, 1)


def used_leaving(user, remaining):
    from generations.quotas import account_for, plan_for

    return plan_for(account_for(user)).credits_per_period - remaining
