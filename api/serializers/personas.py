"""Personas: the create request and the persona resource."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.fields import LabelField, TextField
from api.serializers.base import ModelSerializer
from api.serializers.jobs import PUBLIC_STATUSES, JobErrorSerializer, _StrictSerializer
from generations.models import Persona, Status

LIMITS = settings.MUSIC_LIMITS


class PersonaCreateSerializer(_StrictSerializer):
    clip = serializers.UUIDField(
        help_text="One of your own succeeded clips, with the voice to keep (the music service "
        "asks for a recent one: made within the last 24 hours). Another user's clip is 404."
    )
    name = LabelField(
        max_length=LIMITS["persona_name"], help_text="What to call it, e.g. 'Velvet'."
    )
    description = TextField(
        max_length=LIMITS["persona_description"],
        required=False,
        allow_blank=True,
        help_text="The voice and style in words, e.g. 'a warm alto with a soft vibrato'.",
    )
    styles = TextField(
        max_length=LIMITS["persona_styles"],
        required=False,
        allow_blank=True,
        help_text="Style words, e.g. 'soul, neo-soul'.",
    )

    def validate_name(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value


class PersonaSerializer(ModelSerializer):
    status = serializers.SerializerMethodField(
        help_text="Its job's: queued → running → succeeded (it can sing: use it in a generation "
        "of operation persona_music) or failed (see `error`)."
    )
    clip = serializers.UUIDField(
        source="clip_id",
        allow_null=True,
        read_only=True,
        help_text="The clip it was made from; null once that song is deleted (the persona stays).",
    )
    job = serializers.UUIDField(source="job_id", read_only=True, help_text="The job making it.")
    error = serializers.SerializerMethodField()
    finished_at = serializers.DateTimeField(source="job.finished_at", read_only=True)

    class Meta:
        model = Persona
        fields = (
            "id",
            "name",
            "description",
            "styles",
            "status",
            "clip",
            "job",
            "error",
            "created_at",
            "finished_at",
        )

    @extend_schema_field(serializers.ChoiceField(choices=PUBLIC_STATUSES))
    def get_status(self, persona: Persona) -> str:
        status = persona.job.status
        return Status.QUEUED if status == Status.SUBMITTING else status

    @extend_schema_field(JobErrorSerializer(allow_null=True))
    def get_error(self, persona: Persona) -> dict[str, str] | None:
        if persona.job.status != Status.FAILED:
            return None
        return {"code": persona.job.error_code, "detail": persona.job.error_detail}
