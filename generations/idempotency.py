"""`Idempotency-Key` for the POSTs that create (a generation, a job), with Stripe's semantics.

The same key and the same body within IDEMPOTENCY_KEY_TTL_S return the original generation or job
(no new reservation, no new task); the same key with a different body is refused; keys are per
user, shared by every endpoint (a job's fingerprint includes its path, so one body sent to two
clips is two requests).
The key row is claimed in the creating transaction, so of two concurrent requests with one key
the second waits on the unique index and then sees the first's generation.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from generations.errors import DomainError
from generations.models import Generation, IdempotencyKey, Job

KEY_MAX_LENGTH = 255
# 1-255 printable ASCII characters, neither first nor last a space (HTTP strips those, so such a
# key could never arrive as sent). The OpenAPI schema states the same pattern.
KEY_PATTERN = rf"^[!-~]([ -~]{{0,{KEY_MAX_LENGTH - 2}}}[!-~])?$"
_KEY = re.compile(KEY_PATTERN)


class IdempotencyKeyInvalid(DomainError):
    code = "idempotency_key_invalid"


class IdempotencyKeyReused(DomainError):
    """The key was used with a different request body."""

    code = "idempotency_key_reused"


class IdempotencyKeyInProgress(DomainError):
    code = "idempotency_key_in_progress"


def key_validate(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise IdempotencyKeyInvalid(
            f"Idempotency-Key must be 1 to {KEY_MAX_LENGTH} printable ASCII characters, "
            "not starting or ending with a space."
        )
    return key


def fingerprint(body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def key_lookup(*, user: Any, key: str, request_hash: str) -> Generation | Job | None:
    """The generation or job this unexpired key already made, or None: a cheap check before
    any rate counting, without claiming anything (key_claim settles races)."""
    existing = (
        IdempotencyKey.objects.select_related("generation", "job")
        .filter(user=user, key=key, created_at__gte=_cutoff())
        .first()
    )
    return None if existing is None else _replayable(existing, request_hash)


def key_claim(
    *, user: Any, key: str, request_hash: str
) -> tuple[IdempotencyKey, Generation | Job | None]:
    """Inside the creating transaction: claim `key`, or return what it already made."""
    IdempotencyKey.objects.filter(user=user, key=key, created_at__lt=_cutoff()).delete()
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(
                user=user, key=key, request_hash=request_hash
            ), None
    except IntegrityError:
        existing = IdempotencyKey.objects.select_related("generation", "job").get(
            user=user, key=key
        )
    return existing, _replayable(existing, request_hash)


def _replayable(existing: IdempotencyKey, request_hash: str) -> Generation | Job:
    if existing.request_hash != request_hash:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request body."
        )
    made = existing.generation or existing.job
    if made is None:
        raise IdempotencyKeyInProgress("A request with this Idempotency-Key is still in progress.")
    return made


def _cutoff():
    return timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_S)


def keys_purge() -> int:
    """Delete keys older than the TTL; returns how many."""
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=_cutoff()).delete()
    return deleted
