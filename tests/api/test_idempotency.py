from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from generations.idempotency import keys_purge
from generations.models import Account, Generation, IdempotencyKey

pytestmark = pytest.mark.django_db

URL = "/api/v1/generations"


@pytest.fixture
def post(broker, django_capture_on_commit_callbacks):
    def _post(client, body, key):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)

    return _post


def test_the_same_key_and_body_return_the_original(alice, alice_client, post, sent_messages):
    first = post(alice_client, {"description": "x"}, "k-1")
    again = post(alice_client, {"description": "x"}, "k-1")
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Generation.objects.count() == 1
    assert Account.objects.get(user=alice).used == settings.CREDIT_COSTS["create"]  # one song
    assert len(sent_messages) == 1


def test_the_replay_shows_the_current_status(alice_client, post):
    first = post(alice_client, {"description": "x"}, "k-1")
    Generation.objects.filter(pk=first.json()["id"]).update(status="running")
    assert post(alice_client, {"description": "x"}, "k-1").json()["status"] == "running"


def test_the_same_key_with_another_body_is_422(alice_client, post):
    post(alice_client, {"description": "x"}, "k-1")
    response = post(alice_client, {"description": "y"}, "k-1")
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert Generation.objects.count() == 1


def test_keys_are_per_user(alice_client, bob_client, post):
    mine = post(alice_client, {"description": "x"}, "shared")
    theirs = post(bob_client, {"description": "x"}, "shared")
    assert mine.json()["id"] != theirs.json()["id"]


def test_an_expired_key_is_forgotten(alice_client, post, settings):
    first = post(alice_client, {"description": "x"}, "k-1")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    again = post(alice_client, {"description": "x"}, "k-1")
    assert again.json()["id"] != first.json()["id"]


def test_expired_keys_are_purged(alice_client, post):
    post(alice_client, {"description": "x"}, "old")
    post(alice_client, {"description": "x"}, "new")
    IdempotencyKey.objects.filter(key="old").update(created_at=timezone.now() - timedelta(days=2))
    assert keys_purge() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


def test_a_request_over_quota_does_not_burn_the_key(alice, alice_client, post):
    from generations import quotas
    from generations.models import Plan

    Plan.objects.create(name="zero", credits_per_period=0)
    quotas.plan_assign(user=alice, plan_name="zero")
    assert post(alice_client, {"description": "x"}, "k-1").status_code == 429
    assert not IdempotencyKey.objects.exists()


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there"])
def test_a_malformed_key_is_a_400(alice_client, post, key):
    response = post(alice_client, {"description": "x"}, key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]
    assert Generation.objects.count() == 0


def test_a_replay_does_not_count_against_the_per_minute_rate(alice, alice_client, post):
    from generations import quotas
    from generations.models import Plan

    Plan.objects.create(name="slow", creates_per_minute=1, max_in_flight=5)
    quotas.plan_assign(user=alice, plan_name="slow")
    first = post(alice_client, {"description": "x"}, "k-1")
    replays = [post(alice_client, {"description": "x"}, "k-1") for _ in range(3)]
    assert {r.status_code for r in replays} == {202}
    assert {r.json()["id"] for r in replays} == {first.json()["id"]}
    assert post(alice_client, {"description": "y"}, "k-2").status_code == 429
