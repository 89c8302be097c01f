"""Copying each succeeded clip's audio and cover into Django storage, once.

The vendor's URLs are CDN links that may not live forever; clients are served our copy. The
fetcher (`workers.fetch.SafeFetcher`) decides what may be fetched; this module decides what to
do with the result.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.core.cache import cache
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from generations import dispatch, events, jobs
from generations.models import (
    TERMINAL_STATUSES,
    Clip,
    ClipState,
    EventType,
    JobFile,
    MediaState,
    Status,
)

logger = logging.getLogger(__name__)

# One copy of a clip at a time. Each copy message carries a claim token; the clip's claim (in
# the cache, i.e. Redis) names the copy that is queued, running or waiting to retry, and lapses
# after COPY_CLAIM_S. Without it the reconciler re-sent a copy for every clip still pending a
# minute past its grace (one more per run while a backlog of copies waited in the queue), and two
# copies of one clip downloaded it twice, the second replacing the file the first had just
# marked ready. A lapsed claim (a worker killed mid-copy, a message lost) only delays the copy:
# the clip streams through meanwhile. Long enough for a backlog to drain and a copy (at most
# 300 s, the actor's time limit) to run.
COPY_CLAIM_S = 15 * 60

# The only types we copy and serve, with their file extensions. Anything else (SVG with a
# <script>, HTML, ...) would be served from our origin, next to /admin/ and the docs.
AUDIO_TYPES = {
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/ogg": "ogg",
    "audio/aac": "aac",
    "audio/mp4": "m4a",
    "audio/x-m4a": "m4a",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
}
IMAGE_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
# "file": a job's file (a lossless WAV, a stem): audio, with a cap of its own (media_cap).
ALLOWED_TYPES = {"audio": AUDIO_TYPES, "image": IMAGE_TYPES, "file": AUDIO_TYPES}
EXTENSIONS = AUDIO_TYPES | IMAGE_TYPES


def media_cap(kind: str) -> int:
    """The most bytes a copy or a stream-through of `kind` may hold."""
    return {
        "audio": settings.MEDIA_MAX_AUDIO_BYTES,
        "image": settings.MEDIA_MAX_IMAGE_BYTES,
        "file": settings.MEDIA_MAX_FILE_BYTES,
    }[kind]


def served_type(kind: str, content_type: str) -> str:
    """The Content-Type to serve `kind` with: the stored one only if it is allowed."""
    return content_type if content_type in ALLOWED_TYPES[kind] else "application/octet-stream"


class MediaRefused(Exception):
    """Permanent: an unlisted host, a private address, too large, the wrong type."""


class MediaUnavailable(Exception):
    """Transient: a timeout, a 5xx; try again later."""


@dataclass
class FetchedFile:
    file: IO[bytes]
    content_type: str
    sha256: str
    size: int


Fetch = Callable[..., FetchedFile]


# What a claim holds: a clip's media, or one of a job's files (a WAV, a stem).
CLIP = "media-copy"
JOB_FILE = "job-file-copy"


def _claim_key(what: str, object_id: Any) -> str:
    return f"{what}:{object_id}"


def copies_send(clip_ids: Iterable[Any]) -> int:
    """Send a copy message for each clip that has none queued, running or retrying; how many."""
    return _send_claimed(dispatch.COPY_CLIP_MEDIA, CLIP, clip_ids)


def job_file_copies_send(file_ids: Iterable[Any]) -> int:
    """The same for job files (WAV, stems)."""
    return _send_claimed(dispatch.COPY_JOB_FILE, JOB_FILE, file_ids)


def _send_claimed(actor_name: str, what: str, ids: Iterable[Any]) -> int:
    sent = 0
    for object_id in ids:
        claim = uuid.uuid4().hex
        if not cache.add(_claim_key(what, object_id), claim, timeout=COPY_CLAIM_S):
            continue  # a copy of it is on its way
        try:
            dispatch.send(actor_name, str(object_id), claim)
        except dispatch.BROKER_DOWN:
            # nothing is on its way: the reconciler sends it
            cache.delete(_claim_key(what, object_id))
            raise
        sent += 1
    return sent


def _claim(what: str, object_id: Any, claim: str) -> bool:
    """Hold the object for this copy (the message that claimed it, a lapsed claim, or none)."""
    key = _claim_key(what, object_id)
    if not cache.add(key, claim, timeout=COPY_CLAIM_S) and cache.get(key) != claim:
        return False
    cache.touch(key, COPY_CLAIM_S)
    return True


def _release(what: str, object_id: Any) -> None:
    cache.delete(_claim_key(what, object_id))


def _copy_claimed(what: str, object_id: Any, claim: str | None, copy: Callable[[], None]) -> None:
    """Run `copy` while holding the object's claim; without a `claim` (a message sent before
    claims existed) only if no other copy holds it."""
    if not _claim(what, object_id, claim or uuid.uuid4().hex):
        return  # another copy of it is queued, running or waiting to retry
    try:
        copy()
    except MediaUnavailable:
        # Held through the retry's backoff, so that the reconciler does not start another.
        cache.touch(
            _claim_key(what, object_id), COPY_CLAIM_S + settings.RETRY_MAX_BACKOFF_MS // 1000
        )
        raise
    except BaseException:
        _release(what, object_id)
        raise
    _release(what, object_id)


def clip_copy_media(*, clip_id: Any, fetch: Fetch, claim: str | None = None) -> None:
    """Copy a succeeded clip's audio (required) and cover (best effort). Idempotent.

    `claim`: the token its copy message carries (the same on every retry of it); without one
    (a message sent before claims existed) the copy runs only if no other holds the clip.
    Raises MediaUnavailable for the caller to retry, keeping the clip for that retry.
    """
    clip = Clip.objects.filter(pk=clip_id).select_related("generation").first()
    if clip is None or clip.state != ClipState.SUCCEEDED or clip.media_state != MediaState.PENDING:
        return
    _copy_claimed(CLIP, clip.pk, claim, lambda: _copy(clip, fetch))


def _copy(clip: Clip, fetch: Fetch) -> None:
    try:
        audio = fetch(clip.vendor_audio_url, max_bytes=settings.MEDIA_MAX_AUDIO_BYTES, kind="audio")
    except MediaRefused as exc:
        with transaction.atomic():
            Clip.objects.filter(pk=clip.pk).update(
                media_state=MediaState.FAILED, media_error=str(exc)
            )
            events.publish(clip.generation_id, EventType.CLIP_MEDIA_FAILED, clip_id=clip.pk)
        logger.error("OPERATOR: clip %s audio not copied: %s", clip.pk, exc)
        return
    image = None
    if clip.vendor_image_url:
        try:
            image = fetch(
                clip.vendor_image_url, max_bytes=settings.MEDIA_MAX_IMAGE_BYTES, kind="image"
            )
        except (MediaRefused, MediaUnavailable) as exc:
            logger.warning("clip %s cover not copied: %s", clip.pk, exc)
    fields: dict[str, Any] = {}
    with audio.file:
        fields |= _save(clip, "audio", audio)
    if image is not None:
        with image.file:
            fields |= _save(clip, "image", image)
    with transaction.atomic():
        updated = Clip.objects.filter(pk=clip.pk, media_state=MediaState.PENDING).update(
            media_state=MediaState.READY, media_error="", media_copied_at=timezone.now(), **fields
        )
        if updated:
            events.publish(clip.generation_id, EventType.CLIP_MEDIA_READY, clip_id=clip.pk)
    if not updated:  # deleted or copied by a duplicate message meanwhile: drop orphans only
        for name in (fields.get("audio_file"), fields.get("image_file")):
            if name and not Clip.objects.filter(Q(audio_file=name) | Q(image_file=name)).exists():
                default_storage.delete(name)
        return
    logger.info("clip %s media copied (%d bytes of audio)", clip.pk, audio.size)


def clip_copy_give_up(*, clip_id: Any, attempts: int) -> None:
    """A copy that kept failing for transient reasons: mark it failed, with the reason."""
    with transaction.atomic():
        updated = Clip.objects.filter(pk=clip_id, media_state=MediaState.PENDING).update(
            media_state=MediaState.FAILED,
            media_error=f"not copied after {attempts} attempts (the vendor kept failing)",
        )
        if updated:
            generation_id = Clip.objects.filter(pk=clip_id).values_list("generation_id", flat=True)
            events.publish(generation_id.first(), EventType.CLIP_MEDIA_FAILED, clip_id=clip_id)
    _release(CLIP, clip_id)
    if updated:
        logger.error("OPERATOR: clip %s media not copied after %d attempts", clip_id, attempts)


def _save(clip: Clip, kind: str, fetched: FetchedFile) -> dict[str, str]:
    saved = _store(f"clips/{clip.generation_id}/{clip.pk}-{kind}", fetched)
    return {
        f"{kind}_file": saved,
        f"{kind}_type": fetched.content_type,
        f"{kind}_sha256": fetched.sha256,
    }


def _store(stem: str, fetched: FetchedFile) -> str:
    """Save under `stem` plus the type's extension; a retry after a crash replaces the file
    (never "name_abc123")."""
    name = f"{stem}.{EXTENSIONS.get(fetched.content_type, 'bin')}"
    if default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, File(fetched.file, name=name))


# --- a job's files (WAV, stems) --------------------------------------------------------------


def job_file_copy(*, file_id: Any, fetch: Fetch, claim: str | None = None) -> None:
    """Copy one file a job produced into our storage, one copy at a time (`claim` as for
    clips). Idempotent; raises MediaUnavailable for the caller to retry. Until it lands the
    file is streamed through from the vendor."""
    row = JobFile.objects.filter(pk=file_id).select_related("job").first()
    if row is None or row.media_state != MediaState.PENDING or row.job.status != Status.SUCCEEDED:
        return
    _copy_claimed(JOB_FILE, row.pk, claim, lambda: _copy_job_file(row, fetch))


def _copy_job_file(row: JobFile, fetch: Fetch) -> None:
    try:
        fetched = fetch(row.vendor_url, max_bytes=media_cap("file"), kind="file")
    except MediaRefused as exc:
        JobFile.objects.filter(pk=row.pk).update(
            media_state=MediaState.FAILED, media_error=str(exc)
        )
        jobs.job_announce(row.job_id)
        logger.error("OPERATOR: job file %s not copied: %s", row.pk, exc)
        return
    with fetched.file:
        saved = _store(f"jobs/{row.job_id}/{row.position:02d}-{row.name}", fetched)
    updated = JobFile.objects.filter(pk=row.pk, media_state=MediaState.PENDING).update(
        media_state=MediaState.READY,
        media_error="",
        file=saved,
        content_type=fetched.content_type,
        sha256=fetched.sha256,
        size=fetched.size,
        copied_at=timezone.now(),
    )
    if not updated:  # copied by a duplicate message meanwhile: drop an orphan only
        if not JobFile.objects.filter(file=saved).exists():
            default_storage.delete(saved)
        return
    jobs.job_announce(row.job_id)
    logger.info("job file %s copied (%d bytes)", row.pk, fetched.size)


def job_file_copy_give_up(*, file_id: Any, attempts: int) -> None:
    """A copy that kept failing for transient reasons: mark it failed, with the reason."""
    updated = JobFile.objects.filter(pk=file_id, media_state=MediaState.PENDING).update(
        media_state=MediaState.FAILED,
        media_error=f"not copied after {attempts} attempts (the vendor kept failing)",
    )
    _release(JOB_FILE, file_id)
    if updated:
        job_id = JobFile.objects.filter(pk=file_id).values_list("job_id", flat=True).first()
        jobs.job_announce(job_id)
        logger.error("OPERATOR: job file %s not copied after %d attempts", file_id, attempts)


def media_names(*, generation_id: Any) -> list[str]:
    """The stored files of a generation's clips and of their finished jobs (WAV, stems)."""
    names = Clip.objects.filter(generation_id=generation_id).values_list("audio_file", "image_file")
    files = JobFile.objects.filter(
        job__clip__generation_id=generation_id, job__status__in=TERMINAL_STATUSES
    ).values_list("file", flat=True)
    return [name for pair in names for name in pair if name] + [name for name in files if name]


def media_delete(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)
