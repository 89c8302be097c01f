"""Clips: metadata, and the stored audio and cover with HTTP Range."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from api import passthrough, ranges
from api.serializers.generations import ClipSerializer
from api.serializers.problems import problem_responses
from api.signing import SignatureInvalid, signature_verify
from generations.media import served_type
from generations.models import PLAYABLE_CLIP_STATES, Clip, MediaState
from generations.selectors import clip_get


def own_clip(request, pk) -> Clip:
    try:
        return clip_get(owner=request.user, clip_id=pk)
    except (Clip.DoesNotExist, DjangoValidationError) as exc:
        raise Http404 from exc


class ClipView(APIView):
    @extend_schema(
        operation_id="getClip",
        summary="Get one clip",
        description="Its metadata and short-lived signed `audio_url` / `image_url`.",
        responses={200: ClipSerializer, **problem_responses(401, 404)},
        tags=["clips"],
    )
    def get(self, request, pk):
        return Response(ClipSerializer(own_clip(request, pk), context={"request": request}).data)


class _AnyAccept(BaseContentNegotiation):
    """Media answers are bytes, not JSON: a player's `Accept: audio/*` must not be a 406."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class SignedMediaView(APIView):
    """Bytes for the owner's Bearer token or a signed `sig` query parameter (`<audio src>`)."""

    permission_classes = [AllowAny]
    content_negotiation_class = _AnyAccept

    def initialize_request(self, request, *args, **kwargs):
        drf_request = super().initialize_request(request, *args, **kwargs)
        if "sig" in request.GET:
            # The signature is the credential: a stale Authorization header a player sends
            # along must not turn a valid link into a 401.
            drf_request.authenticators = ()
        return drf_request

    @staticmethod
    def signed(request, pk, kind: str) -> bool:
        """True when the request carries a valid `sig` for `kind` of `pk`; False when it has
        none and a token authenticated it. Raises 401/403 otherwise."""
        token = request.query_params.get("sig")
        if token is None:
            if request.user is None:
                raise exceptions.NotAuthenticated()
            return False
        try:
            signature_verify(token, pk, kind)
        except SignatureInvalid as exc:
            raise exceptions.PermissionDenied(exc.message) from exc
        return True


class _ClipMediaView(SignedMediaView):
    kind = "audio"

    def get(self, request, pk):
        clip = self._clip(request, pk)
        name = getattr(clip, f"{self.kind}_file").name
        if clip.media_state != MediaState.READY or not name:
            if clip.state not in PLAYABLE_CLIP_STATES:
                raise Http404
            # Until our copy lands (or when it could not be made), straight from the vendor.
            url = getattr(clip, f"vendor_{self.kind}_url")
            return passthrough.serve(request, url=url, kind=self.kind)
        return ranges.serve(
            request,
            name=name,
            content_type=served_type(self.kind, getattr(clip, f"{self.kind}_type")),
            sha256=getattr(clip, f"{self.kind}_sha256"),
            modified=clip.media_copied_at,
        )

    def _clip(self, request, pk) -> Clip:
        if not self.signed(request, pk, self.kind):
            return own_clip(request, pk)
        try:
            return Clip.objects.get(pk=pk)
        except Clip.DoesNotExist as exc:
            raise Http404 from exc


MEDIA_PARAMETERS = [
    OpenApiParameter(
        "sig",
        str,
        description="The signature from `audio_url` / `image_url`; not needed with a token.",
    ),
    OpenApiParameter(
        "Range", str, OpenApiParameter.HEADER, description="e.g. `bytes=0-99`, `bytes=-500`."
    ),
]


class ClipAudioView(_ClipMediaView):
    kind = "audio"

    @extend_schema(
        operation_id="getClipAudio",
        summary="Stream a clip's audio",
        description="The stored copy, with `Accept-Ranges`, single-range 206, `ETag` and "
        "`Last-Modified`. Works in `<audio src>` through the signed `audio_url`. Before the "
        "copy is ready (a `streaming` or just `succeeded` clip) the audio is streamed through "
        "from the music service, Range forwarded, not cached (502 when it does not answer).",
        parameters=MEDIA_PARAMETERS,
        responses={
            (200, "audio/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The audio."),
            (206, "audio/*"): OpenApiResponse(OpenApiTypes.BINARY, description="A byte range."),
            **problem_responses(401, 403, 404, 416, 502),
        },
        tags=["clips"],
    )
    def get(self, request, pk):
        return super().get(request, pk)


class ClipImageView(_ClipMediaView):
    kind = "image"

    @extend_schema(
        operation_id="getClipImage",
        summary="Get a clip's cover image",
        description="The stored cover, like the audio: Bearer token or the signed `image_url`.",
        parameters=MEDIA_PARAMETERS,
        responses={
            (200, "image/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The cover."),
            (206, "image/*"): OpenApiResponse(OpenApiTypes.BINARY, description="A byte range."),
            **problem_responses(401, 403, 404, 416, 502),
        },
        tags=["clips"],
    )
    def get(self, request, pk):
        return super().get(request, pk)
