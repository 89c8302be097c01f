"""The domain's Upstream port, implemented with the MusicAPI client."""

from __future__ import annotations

import functools
from contextlib import contextmanager

from django.conf import settings

from generations import uploads
from generations.models import Generation, Job, JobKind, Operation
from generations.upstream import (
    UpstreamBalance,
    UpstreamBroken,
    UpstreamClip,
    UpstreamFile,
    UpstreamJob,
    UpstreamRejected,
    UpstreamStatus,
    UpstreamTransient,
    UpstreamUnavailable,
    UpstreamUnconfirmed,
)
from workers.musicapi import errors
from workers.musicapi.client import MusicApiClient
from workers.musicapi.types import CreateRequest, DerivedAnswer, Limits, PersonaRequest

# What a lone file of each kind is called (stems are named by the vendor's titles).
FILE_NAMES = {JobKind.WAV: "wav", JobKind.STEMS_BASIC: "stem", JobKind.STEMS_FULL: "stem"}


class MusicApiUpstream:
    def __init__(self, client: MusicApiClient) -> None:
        self.client = client

    def create(
        self, generation: Generation, *, webhook_url: str = "", webhook_secret: str = ""
    ) -> str:
        source = generation.source_clip
        request = CreateRequest(
            model=generation.model,
            mode=generation.mode,
            description=generation.description,
            lyrics=generation.lyrics,
            title=generation.title,
            tags=generation.tags,
            negative_tags=generation.negative_tags,
            auto_lyrics=generation.auto_lyrics,
            instrumental=generation.instrumental,
            vocal_gender=generation.vocal_gender,
            operation=generation.operation,
            source_vendor_clip_id=source.vendor_clip_id if source else "",
            persona_id=generation.persona.vendor_persona_id if generation.persona_id else "",
            source_uploaded=bool(source and source.generation.operation == Operation.UPLOAD),
            continue_at=generation.continue_at,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
        )
        with _translated():
            return self.client.create(request)

    def upload(self, generation: Generation) -> str:
        clip = uploads.source_clip(generation.pk)
        if clip is None:
            raise UpstreamBroken(f"upload {generation.pk} has no stored audio")
        with _translated():
            return self.client.upload(uploads.source_url(clip))

    def balance(self) -> UpstreamBalance:
        with _translated():
            credits = self.client.credits()
        return UpstreamBalance(credits=credits.credits, extra_credits=credits.extra_credits)

    def status(self, task_id: str) -> UpstreamStatus:
        with _translated():
            status = self.client.status(task_id)
        return UpstreamStatus(
            finished=status.finished,
            clips=tuple(
                UpstreamClip(
                    vendor_clip_id=clip.clip_id,
                    state=clip.state,
                    title=clip.title,
                    tags=clip.tags,
                    lyrics=clip.lyrics,
                    duration=clip.duration,
                    model=clip.model,
                    audio_url=clip.audio_url,
                    image_url=clip.image_url,
                    error=clip.error,
                )
                for clip in status.clips
            ),
        )

    def job_submit(self, job: Job) -> UpstreamJob:
        with _translated():
            if job.kind == JobKind.WAV:
                return _job(self.client.wav(job.vendor_clip_id))
            if job.kind in (JobKind.STEMS_BASIC, JobKind.STEMS_FULL):
                full = job.kind == JobKind.STEMS_FULL
                return _job(self.client.stems(job.vendor_clip_id, full=full))
            if job.kind == JobKind.LYRICS_TIMELINE:
                segments = self.client.aligned_lyrics(job.vendor_clip_id)
                return UpstreamJob(finished=True, data=list(segments))
            if job.kind == JobKind.LYRICS:
                drafts = self.client.lyrics(job.description)
                return UpstreamJob(
                    finished=True, data=[{"title": d.title, "lyrics": d.lyrics} for d in drafts]
                )
            if job.kind == JobKind.PERSONA:
                persona = job.persona
                persona_id = self.client.persona(
                    PersonaRequest(
                        clip_id=job.vendor_clip_id,
                        name=persona.name,
                        describe=persona.description,
                        styles=persona.styles,
                    )
                )
                return UpstreamJob(finished=True, data=persona_id)
        raise UpstreamBroken(f"no vendor call for a {job.kind} job")

    def job_status(self, job: Job) -> UpstreamJob:
        with _translated():
            return _job(self.client.derived_status(job.vendor_task_id, name=FILE_NAMES[job.kind]))


def _job(answer: DerivedAnswer) -> UpstreamJob:
    return UpstreamJob(
        task_id=answer.task_id,
        finished=answer.finished,
        failed=answer.error,
        files=tuple(UpstreamFile(name=f.name, url=f.url) for f in answer.files),
    )


@contextmanager
def _translated():
    """Turn the client's error vocabulary into the domain's."""
    try:
        yield
    except errors.TransientError as exc:
        raise UpstreamTransient(exc.message, retry_after_s=exc.retry_after_s) from exc
    except errors.OutcomeUnknownError as exc:
        raise UpstreamUnconfirmed(exc.message) from exc
    except errors.RejectedError as exc:
        raise UpstreamRejected(exc.message) from exc
    except errors.UnavailableError as exc:
        raise UpstreamUnavailable(exc.message) from exc
    except (errors.VendorError, errors.InvalidRequest) as exc:
        raise UpstreamBroken(str(exc)) from exc


@functools.cache
def get_upstream() -> MusicApiUpstream:
    """One pooled client per worker process."""
    key = settings.MUSICAPI_KEY or settings.SIMULATOR_KEY
    limits = settings.MUSIC_LIMITS
    client = MusicApiClient(
        base_url=settings.MUSICAPI_BASE_URL,
        key=key,
        timeout_s=settings.MUSICAPI_TIMEOUT_S,
        upload_timeout_s=(settings.MUSICAPI_TIMEOUT_S[0], settings.MUSICAPI_UPLOAD_READ_TIMEOUT_S),
        limits=Limits(
            description=limits["description"],
            lyrics=limits["lyrics"],
            lyrics_newer=limits["lyrics_newer"],
            title=limits["title"],
            tags=limits["tags"],
            negative_tags=limits["negative_tags"],
            lyrics_description=limits["lyrics_description"],
            persona_name=limits["persona_name"],
            persona_describe=limits["persona_description"],
            persona_styles=limits["persona_styles"],
            newer_models=frozenset(settings.MUSIC_NEWER_MODELS),
        ),
    )
    return MusicApiUpstream(client)
