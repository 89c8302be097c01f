"""The user's own audio: checked, stored, and made a vendor clip by a worker.

An upload is a generation of operation `upload` with one clip, created at acceptance with our
copy of the file already in media storage (playable at once). A worker hands the vendor a
short-lived signed link to that copy (`source_url`); the vendor's answer, its clip id, turns the
clip `succeeded`, and from then on it can be extended, covered or made into anything a
generated clip can. Everything that could refuse the file (one per upload, type, length, size)
runs before the file is stored, the credits are reserved or anything is queued.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from generations import dispatch, events
from generations.audio import AudioInfo, NotAudio, audio_inspect
from generations.errors import DomainError
from generations.idempotency import key_claim
from generations.models import (
    Clip,
    ClipState,
    EventType,
    Generation,
    IdempotencyKey,
    MediaState,
    Operation,
    Plan,
)
from generations.quotas import Usage, credits_reserve, usage_for
from generations.services import Created

logger = logging.getLogger(__name__)

SOURCE_SALT = "upload-source"
TITLE_MAX = 80  # the vendor's title limit: the clip's title goes along to extends and covers


class UploadRefused(DomainError):
    """The file cannot be uploaded; `status` is 400 (what it is) or 413 (how big), `limit`
    names the setting it broke."""

    code = "upload_refused"

    def __init__(self, detail: str, *, status: int = 400, limit: str = "") -> None:
        super().__init__(detail)
        self.status = status
        self.limit = limit


class UploadsUnavailable(DomainError):
    """The vendor fetches uploads from a public URL of ours, and none is configured."""

    code = "uploads_unavailable"


@dataclass(frozen=True)
class CheckedAudio:
    info: AudioInfo
    sha256: str
    size: int


def uploads_available() -> None:
    """Raise UploadsUnavailable unless the vendor can reach our copy (PUBLIC_BASE_URL)."""
    if not settings.PUBLIC_BASE_URL:
        raise UploadsUnavailable(
            "Uploads need PUBLIC_BASE_URL: the music service fetches the audio from this "
            "service's public address, and none is configured."
        )


def upload_parts_check(*, file_parts: int) -> None:
    """One `file` per upload: with two, which one the form's last value made the upload would be
    a guess the client never sees. Raises UploadRefused naming the rule."""
    if file_parts > 1:
        raise UploadRefused(
            f"The form has {file_parts} `file` parts; send one file per upload.",
            limit="one_file",
        )


def upload_check(*, file: IO[bytes], size: int) -> CheckedAudio:
    """The vendor's rules for an upload, from the bytes: raises UploadRefused naming the limit."""
    if size > settings.UPLOAD_MAX_BYTES:
        raise UploadRefused(
            f"The file is {size} bytes; uploads may be at most {settings.UPLOAD_MAX_BYTES} "
            "bytes (UPLOAD_MAX_BYTES).",
            status=413,
            limit="UPLOAD_MAX_BYTES",
        )
    try:
        info = audio_inspect(file)
    except NotAudio as exc:
        raise UploadRefused(
            f"{exc} Upload MP3 or WAV audio (the type is read from the file's bytes).",
            limit="format",
        ) from None
    low, high = settings.UPLOAD_MIN_DURATION_S, settings.UPLOAD_MAX_DURATION_S
    if info.duration_s < low:
        raise UploadRefused(
            f"The audio lasts {info.duration_s:.1f} s; uploads must last at least {low:g} s "
            "(UPLOAD_MIN_DURATION_S).",
            limit="UPLOAD_MIN_DURATION_S",
        )
    if info.duration_s > high:
        raise UploadRefused(
            f"The audio lasts {info.duration_s:.1f} s; uploads may last at most {high:g} s "
            "(UPLOAD_MAX_DURATION_S).",
            limit="UPLOAD_MAX_DURATION_S",
        )
    digest = hashlib.sha256()
    file.seek(0)
    while chunk := file.read(1 << 20):
        digest.update(chunk)
    file.seek(0)
    return CheckedAudio(info=info, sha256=digest.hexdigest(), size=size)


def upload_create(
    *,
    owner: Any,
    file: IO[bytes],
    audio: CheckedAudio,
    title: str = "",
    idempotency_key: str = "",
    request_hash: str = "",
    plan: Plan | None = None,
) -> Created:
    """Store our copy of a checked file, reserve the upload's credits and queue the vendor call.

    Raises QuotaExceeded or an idempotency error, leaving nothing stored; an `idempotency_key`
    seen before for the same file and title returns the original (`replayed`).
    """
    generation = Generation(owner=owner, operation=Operation.UPLOAD, model="", title=title)
    clip = Clip(
        generation=generation,
        vendor_clip_id="",
        state=ClipState.PENDING,
        title=title,
        duration=round(audio.info.duration_s, 3),
        media_state=MediaState.READY,
        audio_type=audio.info.content_type,
        audio_sha256=audio.sha256,
    )
    name = f"uploads/{generation.pk}/{clip.pk}-audio.{audio.info.format}"
    file.seek(0)
    saved = default_storage.save(name, File(file, name=name))
    try:
        created = _create(
            owner=owner,
            generation=generation,
            clip=clip,
            saved=saved,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            plan=plan,
        )
    except BaseException:
        default_storage.delete(saved)
        raise
    if created.replayed:
        default_storage.delete(saved)
    return created


def _create(*, owner, generation, clip, saved, idempotency_key, request_hash, plan) -> Created:
    with transaction.atomic():
        claimed = None
        if idempotency_key:
            claimed, original = key_claim(
                user=owner, key=idempotency_key, request_hash=request_hash
            )
            if original is not None:
                return Created(generation=original, usage=None, replayed=True)
        generation.save(force_insert=True)
        clip.audio_file = saved
        clip.media_copied_at = timezone.now()
        clip.save(force_insert=True)
        credits_reserve(user=owner, operation=Operation.UPLOAD, generation=generation, plan=plan)
        usage: Usage = usage_for(owner, plan=plan)
        if claimed is not None:
            IdempotencyKey.objects.filter(pk=claimed.pk).update(generation=generation)
        events.publish(generation.pk, EventType.GENERATION_QUEUED, owner_id=owner.pk)
        dispatch.send_on_commit_or_leave_to_reconciler(
            dispatch.SUBMIT_GENERATION, str(generation.pk)
        )
    logger.info("upload %s queued for user %s", generation.pk, owner.pk)
    return Created(generation=generation, usage=usage)


# --- the link the vendor fetches -----------------------------------------------------------------


def _source_mac(generation_id: Any, expires: int) -> str:
    return signing.Signer(salt=SOURCE_SALT, algorithm="sha256").signature(
        f"{generation_id}:{expires}"
    )


def source_url(clip: Clip, *, now: float | None = None) -> str:
    """A public link to our copy of an upload, valid UPLOAD_SOURCE_URL_MAX_AGE_S seconds, for
    the vendor's upload call. Its path ends in the file's extension (`.mp3`, `.wav`): the
    vendor asks for "a public direct audio file URL" (docs/upstream.md, U4)."""
    expires = int(now if now is not None else time.time()) + settings.UPLOAD_SOURCE_URL_MAX_AGE_S
    extension = clip.audio_file.name.rpartition(".")[2]
    path = reverse("upload-source", kwargs={"pk": clip.generation_id, "extension": extension})
    mac = _source_mac(clip.generation_id, expires)
    return f"{settings.PUBLIC_BASE_URL}{path}?expires={expires}&sig={mac}"


def source_verify(generation_id: Any, expires: str, sig: str) -> bool:
    """True while a source link is genuine and unexpired."""
    if not expires.isdigit() or len(expires) > 12 or int(expires) < time.time():
        return False
    return constant_time_compare(sig, _source_mac(generation_id, int(expires)))


def source_clip(generation_id: Any) -> Clip | None:
    """The clip holding an upload's file, or None."""
    return (
        Clip.objects.filter(generation_id=generation_id, generation__operation=Operation.UPLOAD)
        .exclude(audio_file="")
        .first()
    )
