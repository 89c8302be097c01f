"""Uploads: your own audio becomes a clip (202), and the signed link the vendor fetches it by."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from api import creates, ranges
from api.schema import IDEMPOTENCY_KEY_PARAMETER
from api.serializers.generations import GenerationSerializer
from api.serializers.problems import ProblemSerializer, problem_responses
from api.serializers.uploads import UploadSerializer
from api.views.clips import _AnyAccept
from api.views.generations import GENERATION_EXAMPLE, accepted
from generations import idempotency, quotas, uploads
from generations.media import served_type

UPLOAD_EXAMPLE = {
    **GENERATION_EXAMPLE,
    "status": "queued",
    "operation": "upload",
    "description": "",
    "instrumental": False,
    "model": "",
    "title": "humming",
    "clips": [
        {
            **GENERATION_EXAMPLE["clips"][0],
            "title": "humming",
            "tags": "",
            "duration": 12.5,
            "model": "",
            "state": "pending",
            "image_url": None,
            "jobs": [],
        }
    ],
    "started_at": None,
    "finished_at": None,
}


UPLOAD_PROBLEMS = {
    (status_code, "application/problem+json"): OpenApiResponse(
        ProblemSerializer, description=description
    )
    for status_code, description in (
        (
            400,
            "Not MP3 or WAV audio, too short or too long, or more than one `file` part "
            "(`limit` names the rule), or a form field is invalid (`errors`).",
        ),
        (413, "The file is over UPLOAD_MAX_BYTES (`limit`)."),
        (415, "The body must be multipart/form-data."),
        (503, "Uploads are not configured (PUBLIC_BASE_URL), or the database is busy."),
    )
}


def _problem(status_code: int, detail: str, **extra) -> OpenApiExample:
    return OpenApiExample(
        f"{status_code}: {extra.get('limit', 'PUBLIC_BASE_URL')}",
        value={
            "type": f"urn:music-gateway:problem:{extra.pop('code', 'upload_refused')}",
            "title": {400: "Bad request", 413: "Request too large"}.get(
                status_code, "Service unavailable"
            ),
            "status": status_code,
            "detail": detail,
            **extra,
        },
        response_only=True,
        status_codes=[str(status_code)],
    )


class UploadView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="createUpload",
        summary="Upload your own audio (to extend or cover it)",
        description="A `multipart/form-data` body with the audio as `file` (and an optional "
        "`title`); one file per upload. The file is checked first, from its bytes: MP3 or WAV "
        "(PCM or float samples), 6-60 s long, at most `UPLOAD_MAX_BYTES` (20 MiB): anything "
        "else is 400 (or 413 for the size) naming the limit, with nothing stored, reserved or "
        "sent. Then it is stored, the upload's price (`GET /me`: 2 credits) is reserved, and "
        "the answer is **202** with a generation of "
        "`operation: upload` whose one clip plays our copy at once. A worker hands the music "
        "service a short-lived link to that copy; when it has made its clip of it the "
        "generation `succeeded` and the clip can be the `source_clip` of an extend or a "
        "cover. A refusal fails the generation with the music service's reason and gives "
        "the credits back. Follow it like any generation (`Location`, `events_url`). "
        "`Idempotency-Key` works as for generations (the same file and title). Without "
        "`PUBLIC_BASE_URL` configured, uploads are 503.",
        request={"multipart/form-data": UploadSerializer},
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        examples=[
            OpenApiExample(
                "Queued", value=UPLOAD_EXAMPLE, response_only=True, status_codes=["202"]
            ),
            _problem(
                400,
                "The audio lasts 75.0 s; uploads may last at most 60 s (UPLOAD_MAX_DURATION_S).",
                limit="UPLOAD_MAX_DURATION_S",
            ),
            _problem(
                413,
                "The file is 31457280 bytes; uploads may be at most 20971520 bytes "
                "(UPLOAD_MAX_BYTES).",
                limit="UPLOAD_MAX_BYTES",
            ),
            _problem(
                503,
                "Uploads need PUBLIC_BASE_URL: the music service fetches the audio from this "
                "service's public address, and none is configured.",
                code="uploads_unavailable",
            ),
        ],
        responses={
            202: GenerationSerializer,
            **problem_responses(401, 409, 422, 429),
            **UPLOAD_PROBLEMS,
        },
        tags=["uploads"],
    )
    def post(self, request):
        uploads.uploads_available()
        key = creates.idempotency_key(request)
        # request.data keeps every `file` part (and a plain field of that name); the serializer
        # would silently take the last.
        uploads.upload_parts_check(file_parts=_file_parts(request.data))
        serializer = UploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        file = serializer.validated_data["file"]
        audio = uploads.upload_check(file=file, size=file.size)
        title = serializer.validated_data.get("title") or _stem(file.name)
        usage = quotas.usage_for(request.user)
        _check_plan(usage.plan)
        request_hash = (
            idempotency.fingerprint({"upload": audio.sha256, "title": title}) if key else ""
        )
        original, creates_left = creates.original_or_count(
            request, key=key, request_hash=request_hash, usage=usage, operation="upload"
        )
        if original is not None:
            return accepted(request, original, usage, replayed=True)
        created = uploads.upload_create(
            owner=request.user,
            file=file,
            audio=audio,
            title=title,
            idempotency_key=key,
            request_hash=request_hash,
            plan=usage.plan,
        )
        return accepted(
            request,
            created.generation,
            created.usage or usage,
            creates_left=creates_left,
            replayed=created.replayed,
        )


def _file_parts(data) -> int:
    """How many `file` values the form has; a request without a body parses to a plain dict."""
    return len(data.getlist("file")) if hasattr(data, "getlist") else int("file" in data)


def _stem(name: str) -> str:
    return (name or "").rpartition(".")[0][: uploads.TITLE_MAX] or (name or "")[: uploads.TITLE_MAX]


def _check_plan(plan) -> None:
    if plan.allowed_operations and "upload" not in plan.allowed_operations:
        raise exceptions.ValidationError(
            {
                "file": [
                    f"Your plan ({plan.name}) includes only {', '.join(plan.allowed_operations)}."
                ]
            }
        )


class UploadSourceView(APIView):
    """The bytes of an upload, for the music service's fetch: no token, a signed expiring link
    (`generations.uploads.source_url`). Never a redirect: the vendor asks for a direct URL."""

    permission_classes = [AllowAny]
    authentication_classes = []
    content_negotiation_class = _AnyAccept
    throttle_classes = []

    @extend_schema(exclude=True)
    def get(self, request, pk, extension):
        if not uploads.source_verify(
            pk, request.query_params.get("expires", ""), request.query_params.get("sig", "")
        ):
            raise exceptions.PermissionDenied("This link is not valid or has expired.")
        clip = uploads.source_clip(pk)
        if clip is None or not clip.audio_file.name.endswith(f".{extension}"):
            raise Http404
        return ranges.serve(
            request,
            name=clip.audio_file.name,
            content_type=served_type("audio", clip.audio_type),
            sha256=clip.audio_sha256,
            modified=clip.media_copied_at,
            redirect=False,
        )
