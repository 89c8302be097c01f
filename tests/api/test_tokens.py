from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import ApiToken
from api.tokens import token_create

pytestmark = pytest.mark.django_db

ME = "/api/v1/tokens"


def _bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_it_stores_only_a_digest_of_the_token(alice):
    issued = token_create(user=alice, name="phone")
    row = ApiToken.objects.get(pk=issued.token.pk)
    stored = [str(v) for v in ApiToken.objects.filter(pk=row.pk).values().get().values()]
    assert issued.secret not in stored
    assert all(issued.secret not in value for value in stored)
    assert issued.secret.startswith(row.prefix)
    assert len(row.digest) == 64


def test_a_valid_token_authenticates_and_records_last_use(alice):
    issued = token_create(user=alice, name="phone")
    assert _bearer(issued.secret).get(ME).status_code == 200
    issued.token.refresh_from_db()
    assert issued.token.last_used_at is not None


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer mg_not-a-real-token", "Token abc", "Bearer a b", "Basic Zm9vOmJhcg=="],
)
def test_a_missing_or_bad_token_is_401_problem(db, header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(ME)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_stops_working(alice):
    issued = token_create(user=alice, name="phone")
    client = _bearer(issued.secret)
    assert client.delete(f"{ME}/{issued.token.pk}").status_code == 204
    assert client.get(ME).status_code == 401


def test_an_expired_token_stops_working(alice):
    issued = token_create(user=alice, name="tmp", expires_at=timezone.now() + timedelta(hours=1))
    assert _bearer(issued.secret).get(ME).status_code == 200
    ApiToken.objects.filter(pk=issued.token.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert _bearer(issued.secret).get(ME).status_code == 401


def test_an_inactive_users_token_stops_working(alice):
    issued = token_create(user=alice, name="phone")
    alice.is_active = False
    alice.save()
    assert _bearer(issued.secret).get(ME).status_code == 401


def test_it_creates_a_token_and_shows_the_secret_once(alice_client):
    response = alice_client.post(ME, {"name": "web app"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["token"].startswith("mg_")
    assert body["token"].startswith(body["prefix"])
    assert _bearer(body["token"]).get(ME).status_code == 200
    listed = alice_client.get(ME).json()
    assert body["id"] in [t["id"] for t in listed]
    assert all("token" not in t and "digest" not in t for t in listed)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": 5}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "expires_at": "2000-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "ok", "expires_at": "soon"}, "expires_at"),
        ({"name": "ok", "scope": "all"}, "scope"),
    ],
)
def test_it_refuses_a_bad_token_request(alice_client, payload, field):
    response = alice_client.post(ME, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_it_lists_only_your_own_tokens(alice, alice_client, bob):
    token_create(user=bob, name="bobs")
    names = [t["name"] for t in alice_client.get(ME).json()]
    assert "bobs" not in names


def test_revoking_someone_elses_token_is_404(alice_client, bob):
    bobs = token_create(user=bob, name="bobs")
    assert alice_client.delete(f"{ME}/{bobs.token.pk}").status_code == 404
    assert _bearer(bobs.secret).get(ME).status_code == 200


def test_create_api_user_prints_a_working_token_on_the_last_line(db, capsys):
    call_command("create_api_user", "carol")
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert _bearer(secret).get(ME).status_code == 200
    call_command("create_api_user", "carol")
    second = capsys.readouterr().out.strip().splitlines()[-1]
    assert second != secret
    assert ApiToken.objects.filter(user__username="carol").count() == 2


def test_a_token_cannot_create_one_that_outlives_it(alice):
    """An hour-long token once minted a permanent one."""
    ends = timezone.now() + timedelta(hours=1)
    client = _bearer(token_create(user=alice, name="short", expires_at=ends).secret)
    inherited = client.post(ME, {"name": "child"}, format="json")
    assert inherited.status_code == 201
    assert ApiToken.objects.get(pk=inherited.json()["id"]).expires_at == ends
    later = client.post(
        ME, {"name": "child", "expires_at": (ends + timedelta(days=1)).isoformat()}, format="json"
    )
    assert later.status_code == 400
    assert "no later than" in later.json()["errors"]["expires_at"][0]
    never = client.post(ME, {"name": "child", "expires_at": None}, format="json")
    assert ApiToken.objects.get(pk=never.json()["id"]).expires_at == ends


def test_a_token_without_expiry_may_create_any(alice_client):
    assert alice_client.post(ME, {"name": "forever"}, format="json").json()["expires_at"] is None


def test_tokens_per_user_are_capped(alice, alice_client, settings):
    settings.API_TOKENS_PER_USER_MAX = 3  # alice_client's own token is the first
    answers = [alice_client.post(ME, {"name": f"t{n}"}, format="json") for n in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 409]
    assert answers[-1]["Content-Type"] == "application/problem+json"
    assert "revoke one" in answers[-1].json()["detail"]
    # Expired tokens count until revoked; revoking one makes room.
    ApiToken.objects.filter(name="t1").update(expires_at=timezone.now() - timedelta(seconds=1))
    assert alice_client.post(ME, {"name": "t3"}, format="json").status_code == 409
    assert alice_client.delete(f"{ME}/{answers[1].json()['id']}").status_code == 204
    assert alice_client.post(ME, {"name": "t3"}, format="json").status_code == 201


def test_the_list_shows_expired_tokens_as_expired(alice, alice_client):
    token_create(user=alice, name="old", expires_at=timezone.now() + timedelta(seconds=60))
    ApiToken.objects.filter(name="old").update(expires_at=timezone.now() - timedelta(seconds=1))
    listed = {t["name"]: t["expired"] for t in alice_client.get(ME).json()}
    assert listed == {"t": False, "old": True}
