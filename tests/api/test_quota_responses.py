import re

import pytest

from generations import quotas
from generations.models import Plan

pytestmark = pytest.mark.django_db

URL = "/api/v1/generations"


@pytest.fixture
def tiny(alice):
    Plan.objects.create(name="tiny", credits_per_period=40, max_in_flight=5, creates_per_minute=3)
    quotas.plan_assign(user=alice, plan_name="tiny")


def post(client, capture, body=None, **headers):
    with capture(execute=True):
        return client.post(URL, body or {"description": "x"}, format="json", **headers)


def test_every_create_carries_ratelimit_headers(
    alice_client, tiny, broker, django_capture_on_commit_callbacks
):
    response = post(alice_client, django_capture_on_commit_callbacks)
    assert response.status_code == 202
    assert re.fullmatch(r'"credits";q=40;w=86400, "creates";q=3;w=60', response["RateLimit-Policy"])
    assert re.fullmatch(r'"credits";r=25;t=\d+, "creates";r=2;t=\d+', response["RateLimit"])


def test_over_the_credits_is_a_429_with_the_cost_and_the_balance(
    alice_client, tiny, broker, django_capture_on_commit_callbacks
):
    post(alice_client, django_capture_on_commit_callbacks)
    post(alice_client, django_capture_on_commit_callbacks)
    response = post(alice_client, django_capture_on_commit_callbacks)
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["limit"] == "credits_per_period"
    assert body["type"].endswith(":quota_exceeded")
    assert (body["operation"], body["cost"], body["remaining"]) == ("create", 15, 10)
    assert "15 credits" in body["detail"] and "10" in body["detail"]
    assert 0 < int(response["Retry-After"]) <= 86400
    assert '"credits";r=10' in response["RateLimit"]


def test_over_the_in_flight_limit_is_a_429(
    alice, alice_client, broker, django_capture_on_commit_callbacks
):
    Plan.objects.create(name="one", credits_per_period=100, max_in_flight=1)
    quotas.plan_assign(user=alice, plan_name="one")
    post(alice_client, django_capture_on_commit_callbacks)
    response = post(alice_client, django_capture_on_commit_callbacks)
    body = response.json()
    assert (response.status_code, body["limit"]) == (429, "max_in_flight")
    assert (body["cost"], body["remaining"]) == (15, 85)
    assert response["Retry-After"] == "30"


def test_over_the_per_minute_rate_is_a_429(
    alice, alice_client, broker, django_capture_on_commit_callbacks
):
    Plan.objects.create(name="slow", creates_per_minute=1, max_in_flight=10)
    quotas.plan_assign(user=alice, plan_name="slow")
    post(alice_client, django_capture_on_commit_callbacks)
    response = post(alice_client, django_capture_on_commit_callbacks)
    body = response.json()
    assert (response.status_code, body["limit"]) == (429, "creates_per_minute")
    # Every 429 of a priced operation says what it costs and what is left.
    assert (body["operation"], body["cost"], body["remaining"]) == ("create", 15, 285)
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "RateLimit-Policy" in response


def test_a_plan_can_exclude_models_and_operations(
    alice, alice_client, broker, django_capture_on_commit_callbacks
):
    Plan.objects.create(name="basic", allowed_models=["sonic-v4"], allowed_operations=["create"])
    quotas.plan_assign(user=alice, plan_name="basic")
    response = post(alice_client, django_capture_on_commit_callbacks, {"description": "x"})
    assert response.status_code == 400
    assert "sonic-v4" in response.json()["errors"]["model"][0]
    ok = post(
        alice_client, django_capture_on_commit_callbacks, {"description": "x", "model": "sonic-v4"}
    )
    assert ok.status_code == 202


def test_me_shows_plan_usage_in_credits_and_prices(
    alice_client, tiny, broker, django_capture_on_commit_callbacks, settings
):
    post(alice_client, django_capture_on_commit_callbacks)
    body = alice_client.get("/api/v1/me").json()
    assert body["username"] == "alice"
    assert (body["plan"]["name"], body["plan"]["credits_per_period"]) == ("tiny", 40)
    usage = body["usage"]
    assert (usage["used"], usage["limit"], usage["remaining"], usage["in_flight"]) == (
        15,
        40,
        25,
        1,
    )
    assert usage["max_in_flight"] == 5
    assert usage["resets_at"] > usage["period_start"]
    assert body["prices"] == settings.CREDIT_COSTS
    assert (body["prices"]["create"], body["prices"]["stems_full"]) == (15, 75)


def test_reads_are_throttled_on_the_shared_cache(alice_client, settings):
    settings.READ_RATE = "2/min"
    assert alice_client.get("/api/v1/me").status_code == 200
    assert alice_client.get("/api/v1/me").status_code == 200
    response = alice_client.get("/api/v1/me")
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    assert int(response["Retry-After"]) > 0
