"""`/demo/`: a page that goes from a description to a playing song, in plain HTML and JS."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from api.tokens import token_create

DEMO_TOKEN_LIFETIME = timedelta(hours=1)


@require_GET
def demo(request):
    token = ""
    # Only a developer's sandbox hands out a token to whoever opens the page.
    if settings.SANDBOX and settings.DEBUG:
        user, _ = get_user_model().objects.get_or_create(username="demo")
        token = token_create(
            user=user, name="demo page", expires_at=timezone.now() + DEMO_TOKEN_LIFETIME
        ).secret
    return render(request, "demo/index.html", {"demo_token": token, "sandbox": settings.SANDBOX})
