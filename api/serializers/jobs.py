"""Jobs (WAV, stems, lyrics timeline, lyrics): their requests and the job resource."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api import passthrough
from api.fields import LabelField, StrictChoiceField, UnknownFieldsRefused
from api.serializers.base import ModelSerializer
from api.signing import context_grant, signed_url
from generations.models import Job, JobFile, JobKind, MediaState, Status


class _StrictSerializer(UnknownFieldsRefused, serializers.Serializer):
    """A JSON object with only the declared fields (none: an empty object or no body)."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        return super().to_internal_value(data)


class NoBodySerializer(_StrictSerializer):
    """No options: send nothing, or `{}`."""


class StemsRequestSerializer(_StrictSerializer):
    tracks = StrictChoiceField(
        choices=[("basic", "basic"), ("full", "full")],
        default="basic",
        help_text="basic: vocals + instrumental; full: up to 12 instrument tracks.",
    )


class LyricsRequestSerializer(_StrictSerializer):
    description = LabelField(
        max_length=settings.MUSIC_LIMITS["lyrics_description"],
        help_text="What the lyrics should be about, e.g. 'a song about the sky'.",
    )

    def validate_description(self, value: str) -> str:
        limit = settings.MUSIC_LIMITS["lyrics_description"]
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        if len(value) > limit:
            raise serializers.ValidationError(
                f"Ensure this field has no more than {limit} characters."
            )
        return value


class JobFileSerializer(ModelSerializer):
    media = serializers.ChoiceField(
        source="media_state",
        choices=MediaState.choices,
        read_only=True,
        help_text="Our copy: pending (the url streams from the music service meanwhile), "
        "ready (served from our storage) or failed.",
    )
    url = serializers.SerializerMethodField(
        help_text="Short-lived signed URL of the file (Range supported), usable in `<audio src>` "
        "or a download link; null when it cannot be served."
    )

    class Meta:
        model = JobFile
        fields = ("id", "name", "media", "url")

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_url(self, row: JobFile) -> str | None:
        if not (row.media_state == MediaState.READY and row.file) and passthrough.refusal(
            row.vendor_url
        ):
            return None
        return signed_url(self.context["request"], row.pk, "file", context_grant(self.context))


class JobErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()


class LyricsDraftSerializer(serializers.Serializer):
    title = serializers.CharField()
    lyrics = serializers.CharField()


PUBLIC_STATUSES = [Status.QUEUED, Status.RUNNING, Status.SUCCEEDED, Status.FAILED]


class JobSerializer(ModelSerializer):
    status = serializers.SerializerMethodField()
    clip = serializers.UUIDField(source="clip_id", allow_null=True, read_only=True)
    files = JobFileSerializer(many=True, read_only=True)
    segments = serializers.SerializerMethodField(
        help_text="lyrics_timeline: the timed segments as the music service sends them "
        "(each with its start and end in seconds; field names are the vendor's)."
    )
    drafts = serializers.SerializerMethodField(help_text="lyrics: the title + lyrics drafts.")
    error = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = (
            "id",
            "kind",
            "status",
            "clip",
            "description",
            "files",
            "segments",
            "drafts",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        )

    @extend_schema_field(serializers.ChoiceField(choices=PUBLIC_STATUSES))
    def get_status(self, job: Job) -> str:
        return Status.QUEUED if job.status == Status.SUBMITTING else job.status

    @extend_schema_field(serializers.ListField(child=serializers.DictField(), allow_null=True))
    def get_segments(self, job: Job) -> list[dict[str, Any]] | None:
        if job.kind != JobKind.LYRICS_TIMELINE or job.status != Status.SUCCEEDED:
            return None
        return job.result.get("segments", [])

    @extend_schema_field(LyricsDraftSerializer(many=True, allow_null=True))
    def get_drafts(self, job: Job) -> list[dict[str, str]] | None:
        if job.kind != JobKind.LYRICS or job.status != Status.SUCCEEDED:
            return None
        return job.result.get("drafts", [])

    @extend_schema_field(JobErrorSerializer(allow_null=True))
    def get_error(self, job: Job) -> dict[str, str] | None:
        if job.status != Status.FAILED:
            return None
        return {"code": job.error_code, "detail": job.error_detail}
