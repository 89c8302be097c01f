"""Services for personal API tokens.

One small module rather than django-rest-knox: knox tokens have no name or last-use time and
knox owns its own views and header keyword, while users here need several named tokens they can
list and revoke.

Tokens are 256-bit random secrets, so a single SHA-256 is enough to store them safely (slow
password hashes guard low-entropy secrets); the plain value exists only in the creation response.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from api.models import ApiToken
from generations.errors import DomainError

PREFIX_LENGTH = 8
# Writing last_used_at on every request would turn each read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenLimitReached(DomainError):
    code = "token_limit"


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_create(
    *,
    user: Any,
    name: str,
    expires_at: datetime | None = None,
    parent: ApiToken | None = None,
    limit: int | None = None,
) -> IssuedToken:
    """Create a token; the returned secret is never stored and cannot be shown again.

    A token made with another token (`parent`) expires no later than it, so a short-lived token
    cannot mint a permanent one. With `limit`, a user holds at most that many unrevoked tokens
    (expired ones count until revoked, which keeps the list bounded)."""
    if parent is not None and parent.expires_at is not None:
        expires_at = min(expires_at or parent.expires_at, parent.expires_at)
    secret = settings.API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        if limit is not None:
            # The user's row serializes concurrent creates, so the cap cannot be overshot.
            get_user_model().objects.select_for_update().filter(pk=user.pk).first()
            if token_list(user=user).count() >= limit:
                raise TokenLimitReached(
                    f"You have {limit} tokens, the most allowed; revoke one (expired ones too) "
                    "to create another."
                )
        token = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=secret[: len(settings.API_TOKEN_PREFIX) + PREFIX_LENGTH],
            digest=_digest(secret),
            expires_at=expires_at,
        )
    return IssuedToken(token=token, secret=secret)


def token_revoke(*, token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def token_authenticate(*, secret: str) -> ApiToken | None:
    """Return the live token matching `secret`, or None when unknown, revoked or expired."""
    if not secret.startswith(settings.API_TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=_digest(secret), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    now = timezone.now()
    if token is None or (token.expires_at is not None and token.expires_at <= now):
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def token_list(*, user: Any):
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True)


def token_live_ids(token_ids: Iterable[str]) -> set[str]:
    """Which of these tokens (hex ids) are live: not revoked or expired, their user active."""
    return {
        pk.hex
        for pk in ApiToken.objects.filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()),
            pk__in=list(token_ids),
            revoked_at__isnull=True,
            user__is_active=True,
        ).values_list("pk", flat=True)
    }


def token_user_id(token_id: str) -> Any | None:
    """The user a token (hex id) belongs to, whatever its state (signatures check liveness)."""
    return ApiToken.objects.filter(pk=token_id).values_list("user_id", flat=True).first()
