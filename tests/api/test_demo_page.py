"""The sandbox demo page hands out a token, and keeps handing out the same one on reloads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from api.models import ApiToken

pytestmark = pytest.mark.django_db


def _token(client: Client) -> str:
    response = client.get("/demo/")
    assert response.status_code == 200
    return response.context["demo_token"]


def test_reloads_reuse_the_token_and_another_browser_gets_its_own(settings):
    settings.DEBUG, settings.SANDBOX = True, True
    browser = Client()
    first = _token(browser)
    assert first.startswith("mg_")
    assert _token(browser) == first
    assert _token(Client()) != first
    assert ApiToken.objects.filter(name="demo page").count() == 2


def test_a_token_about_to_expire_is_replaced(settings):
    settings.DEBUG, settings.SANDBOX = True, True
    browser = Client()
    first = _token(browser)
    ApiToken.objects.update(expires_at=timezone.now() + timedelta(minutes=5))
    assert _token(browser) != first


def test_outside_the_sandbox_there_is_no_token(settings):
    settings.DEBUG, settings.SANDBOX = True, False
    assert _token(Client()) == ""
    assert not ApiToken.objects.exists()
