"""`/demo/`: a page that goes from a description to a playing song, in plain HTML and JS."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET
from redis.exceptions import RedisError

from api.tokens import token_authenticate, token_create

DEMO_TOKEN_LIFETIME = timedelta(hours=1)
# A reload reuses the browser's token while it has at least this long to live.
DEMO_TOKEN_MIN_LEFT = timedelta(minutes=15)
SESSION_KEY = "demo_token"
# The newest demo-page token, for every visitor: a request without the session cookie (curl, a
# new browser) reuses it instead of minting one more (30 anonymous requests made 30 tokens).
# Only the sandbox hands it out, to whoever opens the page, so the cache holds nothing secret.
CACHE_KEY = "demo-page-token"
logger = logging.getLogger(__name__)


def _usable(secret: str) -> bool:
    token = token_authenticate(secret=secret) if secret else None
    return bool(
        token and token.expires_at and token.expires_at - timezone.now() > DEMO_TOKEN_MIN_LEFT
    )


def _shared() -> str:
    try:
        return cache.get(CACHE_KEY) or ""
    except RedisError:
        logger.warning("demo page: the cache is unreachable; minting a token")
        return ""


def _demo_token(request) -> str:
    """The demo token: this browser's, else the newest one while it has enough life left (so a
    reload or another visitor is not one more token), else a new one, shared from then on."""
    for secret in (request.session.get(SESSION_KEY, ""), _shared()):
        if _usable(secret):
            request.session[SESSION_KEY] = secret
            return secret
    user, _ = get_user_model().objects.get_or_create(username="demo")
    secret = token_create(
        user=user, name="demo page", expires_at=timezone.now() + DEMO_TOKEN_LIFETIME
    ).secret
    request.session[SESSION_KEY] = secret
    try:
        cache.set(CACHE_KEY, secret, timeout=int(DEMO_TOKEN_LIFETIME.total_seconds()))
    except RedisError:
        logger.warning("demo page: the cache is unreachable; the token is this browser's")
    return secret


@require_GET
def demo(request):
    # Only a developer's sandbox hands out a token to whoever opens the page.
    token = _demo_token(request) if settings.SANDBOX and settings.DEBUG else ""
    return render(request, "demo/index.html", {"demo_token": token, "sandbox": settings.SANDBOX})
