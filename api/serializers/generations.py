"""Generation request and resource serializers."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api import passthrough
from api.fields import (
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictFloatField,
    UnknownFieldsRefused,
)
from api.serializers.base import ModelSerializer
from api.serializers.jobs import JobSerializer
from api.signing import context_grant, signed_url
from generations.models import (
    PLAYABLE_CLIP_STATES,
    Clip,
    ClipState,
    ErrorCode,
    Generation,
    MediaState,
    Mode,
    Operation,
    Persona,
    Status,
    VocalGender,
)
from generations.personas import PersonaNotReady, persona_for_generation
from generations.quotas import account_for, plan_for
from generations.selectors import clip_get, persona_get

CUSTOM_ONLY = ("lyrics", "title", "tags", "auto_lyrics")
NEWER_MODEL_ONLY = ("vocal_gender", "auto_lyrics")


class _ModelChoiceField(StrictChoiceField):
    """Choices read from settings on each request, so operators configure models, not code."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=settings.MUSIC_MODELS, **kwargs)

    def to_internal_value(self, data):
        self.choices = settings.MUSIC_MODELS
        return super().to_internal_value(data)


class GenerationCreateSerializer(UnknownFieldsRefused, serializers.Serializer):
    mode = StrictChoiceField(choices=Mode.choices, default=Mode.DESCRIPTION)
    description = StrictCharField(
        required=False,
        help_text="What the music should be like. Required in description mode (the default), "
        "not allowed in custom mode.",
    )
    lyrics = StrictCharField(
        required=False,
        help_text="Lyrics with section tags such as [Verse] (custom mode); with auto_lyrics, "
        "a description the vendor writes lyrics from.",
    )
    title = StrictCharField(required=False, help_text="Song title (custom mode).")
    tags = StrictCharField(required=False, help_text="Style words, e.g. 'lofi, piano' (custom).")
    negative_tags = StrictCharField(required=False, help_text="Styles to avoid.")
    auto_lyrics = StrictBooleanField(
        required=False, default=False, help_text="Let the vendor write lyrics (custom mode)."
    )
    instrumental = StrictBooleanField(required=False, default=False)
    model = _ModelChoiceField(required=False, help_text="Model version; default from settings.")
    vocal_gender = StrictChoiceField(choices=VocalGender.choices, required=False)
    # Uploads come through POST /uploads (a file, not JSON).
    operation = StrictChoiceField(
        choices=[c for c in Operation.choices if c[0] != Operation.UPLOAD],
        default=Operation.CREATE,
    )
    source_clip = serializers.UUIDField(
        required=False,
        help_text="One of your own succeeded clips to extend or cover (an uploaded one "
        "too), or the clip of one of your extends to concat: required with those operations, "
        "not allowed with create; another id is 400.",
    )
    continue_at = StrictFloatField(
        required=False, min_value=0, help_text="Seconds into the source clip to extend from."
    )
    persona = serializers.UUIDField(
        required=False,
        help_text="One of your own personas whose status is succeeded, to sing this song: "
        "required with operation persona_music (custom mode), not allowed otherwise; another "
        "id is 400.",
    )

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["operation"] == Operation.CONCAT:
            return self._validate_concat(attrs)
        attrs.setdefault("model", settings.MUSIC_DEFAULT_MODEL)
        errors: dict[str, list[str]] = {}
        self._check_mode(attrs, errors)
        self._check_model_features(attrs, errors)
        self._check_lengths(attrs, errors)
        self._check_operation(attrs, errors)
        self._check_persona(attrs, errors)
        self._check_plan(attrs, errors)
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    @staticmethod
    def _check_mode(attrs: dict[str, Any], errors: dict[str, list[str]]) -> None:
        if attrs["mode"] == Mode.DESCRIPTION:
            if not attrs.get("description", "").strip():
                what = (
                    "the music"
                    if attrs.get("operation", "create") == "create"
                    else (f"what the {attrs['operation']} should sound like")
                )
                errors["description"] = [
                    f"Required: describe {what}, or send mode custom with lyrics and tags."
                ]
            for name in CUSTOM_ONLY:
                if attrs.get(name):
                    errors[name] = ["Only allowed in custom mode."]
        else:
            if "description" in attrs:
                errors["description"] = ["Not allowed in custom mode; use lyrics and tags."]
            if not attrs.get("lyrics", "").strip() and not attrs.get("instrumental"):
                errors["lyrics"] = ["Required in custom mode unless instrumental is true."]

    @staticmethod
    def _check_model_features(attrs: dict[str, Any], errors: dict[str, list[str]]) -> None:
        if attrs["model"] in settings.MUSIC_NEWER_MODELS:
            return
        for name in NEWER_MODEL_ONLY:
            if attrs.get(name):
                errors[name] = [f"Not supported by model {attrs['model']}."]

    @staticmethod
    def _check_lengths(attrs: dict[str, Any], errors: dict[str, list[str]]) -> None:
        limits = settings.MUSIC_LIMITS
        lyrics_key = "lyrics_newer" if attrs["model"] in settings.MUSIC_NEWER_MODELS else "lyrics"
        for name, limit in (
            ("description", limits["description"]),
            ("lyrics", limits[lyrics_key]),
            ("title", limits["title"]),
            ("tags", limits["tags"]),
            ("negative_tags", limits["negative_tags"]),
        ):
            if len(attrs.get(name, "")) > limit:
                errors.setdefault(name, []).append(
                    f"Ensure this field has no more than {limit} characters."
                )

    def _check_plan(self, attrs: dict[str, Any], errors: dict[str, list[str]]) -> None:
        # The view passes the plan it has already read for the quota headers.
        plan = self.context.get("plan") or plan_for(account_for(self.context["request"].user))
        if plan.allowed_models and attrs["model"] not in plan.allowed_models:
            errors.setdefault("model", []).append(
                f"Your plan ({plan.name}) includes only {', '.join(plan.allowed_models)}."
            )
        if plan.allowed_operations and attrs["operation"] not in plan.allowed_operations:
            errors.setdefault("operation", []).append(
                f"Your plan ({plan.name}) includes only {', '.join(plan.allowed_operations)}."
            )

    def _validate_concat(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The vendor's concat takes only the extended clip: anything else the client sends
        # would be silently ignored, so it is refused instead.
        errors: dict[str, list[str]] = {
            name: ["Not allowed with operation concat, which takes only source_clip."]
            for name in sorted(set(self.initial_data) - {"operation", "source_clip"})
        }
        clip = self._source_clip(attrs, errors)
        if clip is not None and clip.generation.operation != Operation.EXTEND:
            errors["source_clip"] = ["Only the clip of an extend can be concatenated."]
        if clip is not None:
            # Stored for the record (and the plan's model rule); the vendor is not sent one.
            attrs = {"operation": Operation.CONCAT, "source_clip": clip}
            attrs["model"] = clip.model or clip.generation.model
            self._check_plan(attrs, errors)
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def _source_clip(self, attrs: dict[str, Any], errors: dict[str, list[str]]) -> Clip | None:
        """The caller's finished clip named by `source_clip`, or None with the error noted."""
        if "source_clip" not in attrs:
            errors["source_clip"] = [f"Required with operation {attrs['operation']}."]
            return None
        try:
            clip = clip_get(owner=self.context["request"].user, clip_id=attrs["source_clip"])
        except Clip.DoesNotExist:
            errors["source_clip"] = ["No clip of yours has this id."]
            return None
        if clip.state != ClipState.SUCCEEDED:
            errors["source_clip"] = ["The clip has not finished successfully."]
            return None
        return clip

    def _check_persona(self, attrs: dict[str, Any], errors: dict[str, list[str]]) -> None:
        if attrs["operation"] != Operation.PERSONA_MUSIC:
            if "persona" in attrs:
                errors["persona"] = ["Only allowed with operation persona_music."]
            return
        if attrs["mode"] != Mode.CUSTOM:
            # The vendor's persona_music requires custom_mode and a prompt (docs/upstream.md P3).
            errors["mode"] = ["Operation persona_music takes custom mode: lyrics, title, tags."]
        if "persona" not in attrs:
            errors["persona"] = ["Required with operation persona_music."]
            return
        try:
            persona = persona_get(owner=self.context["request"].user, persona_id=attrs["persona"])
            attrs["persona"] = persona_for_generation(persona)
        except Persona.DoesNotExist:
            errors["persona"] = ["No persona of yours has this id."]
        except PersonaNotReady as exc:
            errors["persona"] = [str(exc)]

    def _check_operation(self, attrs: dict[str, Any], errors: dict[str, list[str]]) -> None:
        operation = attrs["operation"]
        if operation in (Operation.CREATE, Operation.PERSONA_MUSIC):
            for name in ("source_clip", "continue_at"):
                if name in attrs:
                    errors[name] = ["Only allowed with operation extend or cover."]
            return
        if operation == Operation.COVER and "continue_at" in attrs:
            errors["continue_at"] = ["Only allowed with operation extend."]
        if operation == Operation.EXTEND and "continue_at" not in attrs:
            errors["continue_at"] = ["Required with operation extend."]
        clip = self._source_clip(attrs, errors)
        if clip is None:
            return
        if (
            operation == Operation.EXTEND
            and clip.duration is not None
            and attrs.get("continue_at", 0) > clip.duration
        ):
            errors["continue_at"] = [f"Must be at most the clip's duration ({clip.duration} s)."]
        attrs["source_clip"] = clip


class ClipSerializer(ModelSerializer):
    audio_url = serializers.SerializerMethodField(
        help_text="Short-lived signed URL of the audio, from the moment the clip is streaming "
        "or succeeded: our copy once `media` is ready, until then streamed through from the "
        "music service (same URL). Null while the clip has no playable audio."
    )
    image_url = serializers.SerializerMethodField(
        help_text="Short-lived signed URL of the cover, like `audio_url`."
    )
    media = serializers.ChoiceField(
        source="media_state",
        choices=MediaState.choices,
        read_only=True,
        help_text="Our copy of the media. pending: not copied yet (audio_url streams from the "
        "music service); ready: served from our storage; failed: could not be copied.",
    )
    jobs = JobSerializer(
        many=True,
        read_only=True,
        help_text="What was made from this clip (WAV, stems, lyrics timeline), newest first.",
    )

    class Meta:
        model = Clip
        fields = (
            "id",
            "title",
            "tags",
            "lyrics",
            "duration",
            "model",
            "state",
            "media",
            "audio_url",
            "image_url",
            "jobs",
            "created_at",
        )

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_audio_url(self, clip: Clip) -> str | None:
        return self._media_url(clip, "audio")

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_image_url(self, clip: Clip) -> str | None:
        return self._media_url(clip, "image")

    def _media_url(self, clip: Clip, kind: str) -> str | None:
        copied = clip.media_state == MediaState.READY and getattr(clip, f"{kind}_file")
        streamable = clip.state in PLAYABLE_CLIP_STATES and (
            passthrough.refusal(getattr(clip, f"vendor_{kind}_url")) is None
        )
        if not (copied or streamable):
            return None
        return signed_url(self.context["request"], clip.pk, kind, context_grant(self.context))


class GenerationErrorSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=ErrorCode.choices)
    detail = serializers.CharField()


PUBLIC_STATUSES = [s for s in Status.values if s != Status.SUBMITTING]


class GenerationSerializer(ModelSerializer):
    status = serializers.SerializerMethodField()
    source_clip = serializers.UUIDField(source="source_clip_id", allow_null=True, read_only=True)
    persona = serializers.UUIDField(
        source="persona_id",
        allow_null=True,
        read_only=True,
        help_text="The persona singing it (operation persona_music).",
    )
    clips = ClipSerializer(many=True, read_only=True)
    error = serializers.SerializerMethodField()
    events_url = serializers.SerializerMethodField(
        help_text="Short-lived signed URL of the live status stream, for `new EventSource(url)`."
    )

    class Meta:
        model = Generation
        fields = (
            "id",
            "status",
            "mode",
            "operation",
            "description",
            "lyrics",
            "title",
            "tags",
            "negative_tags",
            "auto_lyrics",
            "instrumental",
            "model",
            "vocal_gender",
            "source_clip",
            "continue_at",
            "persona",
            "clips",
            "error",
            "events_url",
            "created_at",
            "started_at",
            "finished_at",
        )

    @extend_schema_field(serializers.ChoiceField(choices=PUBLIC_STATUSES))
    def get_status(self, generation: Generation) -> str:
        # `submitting` is a worker's internal step: the vendor does not have the request yet.
        return Status.QUEUED if generation.status == Status.SUBMITTING else generation.status

    @extend_schema_field(serializers.URLField())
    def get_events_url(self, generation: Generation) -> str:
        return signed_url(
            self.context["request"], generation.pk, "events", context_grant(self.context)
        )

    @extend_schema_field(GenerationErrorSerializer(allow_null=True))
    def get_error(self, generation: Generation) -> dict[str, str] | None:
        if generation.status != Status.FAILED:
            return None
        return {"code": generation.error_code, "detail": generation.error_detail}
