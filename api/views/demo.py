"""`/demo/`: a page that goes from a description to a playing song, in plain HTML and JS."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from api.tokens import token_authenticate, token_create

DEMO_TOKEN_LIFETIME = timedelta(hours=1)
# A reload reuses the browser's token while it has at least this long to live.
DEMO_TOKEN_MIN_LEFT = timedelta(minutes=15)
SESSION_KEY = "demo_token"


def _demo_token(request) -> str:
    """This browser's demo token: reused across reloads, not one more per page view."""
    secret = request.session.get(SESSION_KEY, "")
    token = token_authenticate(secret=secret) if secret else None
    if token and token.expires_at and token.expires_at - timezone.now() > DEMO_TOKEN_MIN_LEFT:
        return secret
    user, _ = get_user_model().objects.get_or_create(username="demo")
    secret = token_create(
        user=user, name="demo page", expires_at=timezone.now() + DEMO_TOKEN_LIFETIME
    ).secret
    request.session[SESSION_KEY] = secret
    return secret


@require_GET
def demo(request):
    # Only a developer's sandbox hands out a token to whoever opens the page.
    token = _demo_token(request) if settings.SANDBOX and settings.DEBUG else ""
    return render(request, "demo/index.html", {"demo_token": token, "sandbox": settings.SANDBOX})
