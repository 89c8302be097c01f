"""Finding 12: every API path answers problem+json, whatever DEBUG is (the signed media link
with a bad Bearer header is in tests/api/test_clip_media.py)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.security.test_hand_fuzz import assert_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def strict_client():
    return Client(enforce_csrf_checks=True, raise_request_exception=False)


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("post", "/api/v1/generations/6f1c2a9e-3b7d-4d0e-9a55-2f8b1c4e7a10/events", 405),
        ("post", "/metrics", 405),
        ("post", "/healthz", 405),
        ("get", "/api/v1/no-such-thing", 404),
        ("get", "/metrics/nothing", 404),
        ("put", "/api/v1/me", 401),
    ],
)
def test_errors_on_api_paths_are_problems(strict_client, settings, debug, method, path, status):
    settings.DEBUG = debug
    assert_problem(getattr(strict_client, method)(path), status)


def test_an_unauthorized_metrics_scrape_is_a_problem(strict_client, settings):
    settings.METRICS_TOKEN = "scrape-me"
    response = strict_client.get("/metrics")
    assert_problem(response, 401)
    assert response["WWW-Authenticate"] == "Bearer"
