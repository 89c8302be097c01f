"""The steps every POST that creates something billable shares (generations, uploads, jobs,
personas), in one order so each answers the same way: the Idempotency-Key checked first; a key
seen before with the same request answers its original, counted nowhere; otherwise the per-minute
create counter, then the use case's service (generations/)."""

from __future__ import annotations

from typing import Any

from api import ratelimit
from generations import idempotency
from generations.quotas import Usage


def idempotency_key(request) -> str:
    """The request's `Idempotency-Key`, checked (400 problem when malformed); "" without one."""
    key = request.headers.get("Idempotency-Key")
    if key is not None:
        idempotency.key_validate(key)
    return key or ""


def original_or_count(
    request, *, key: str, request_hash: str, usage: Usage, operation: str
) -> tuple[Any, int | None]:
    """(the key's original, None) for a retry; else (None, the creates left this minute) once
    this create is counted (429 problem past the limit)."""
    if key:
        original = idempotency.key_lookup(user=request.user, key=key, request_hash=request_hash)
        if original is not None:
            return original, None
    creates_left = ratelimit.count_create(user_id=request.user.pk, usage=usage, operation=operation)
    return None, creates_left
