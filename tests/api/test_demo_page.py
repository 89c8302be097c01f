"""The sandbox demo page hands out a token, and keeps handing out the same one on reloads and to
other visitors while it has enough life left."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from api.models import ApiToken
from api.tokens import token_revoke
from api.views.demo import CACHE_KEY

pytestmark = pytest.mark.django_db


def _token(client: Client) -> str:
    response = client.get("/demo/")
    assert response.status_code == 200
    return response.context["demo_token"]


@pytest.fixture(autouse=True)
def _no_shared_token_from_another_test():
    cache.delete(CACHE_KEY)


def test_reloads_and_other_visitors_reuse_the_live_token(settings):
    """`GET /demo/` without a cookie minted one more token each time (30 requests, 30 tokens)."""
    settings.DEBUG, settings.SANDBOX = True, True
    browser = Client()
    first = _token(browser)
    assert first.startswith("mg_")
    assert _token(browser) == first
    assert {_token(Client()) for _ in range(30)} == {first}
    assert ApiToken.objects.filter(name="demo page").count() == 1


def test_a_revoked_shared_token_is_replaced(settings):
    settings.DEBUG, settings.SANDBOX = True, True
    first = _token(Client())
    token_revoke(token=ApiToken.objects.get())
    second = _token(Client())
    assert second != first and _token(Client()) == second


def test_a_token_about_to_expire_is_replaced(settings):
    settings.DEBUG, settings.SANDBOX = True, True
    browser = Client()
    first = _token(browser)
    ApiToken.objects.update(expires_at=timezone.now() + timedelta(minutes=5))
    second = _token(browser)
    assert second != first
    assert _token(Client()) == second


def test_outside_the_sandbox_there_is_no_token(settings):
    settings.DEBUG, settings.SANDBOX = True, False
    assert _token(Client()) == ""
    assert not ApiToken.objects.exists()
