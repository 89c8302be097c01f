"""Generations: create (202), list, retrieve, cancel, delete — always the caller's own."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from api import creates, ratelimit
from api.filters import GenerationFilter
from api.pagination import NewestFirstCursorPagination
from api.schema import IDEMPOTENCY_KEY_PARAMETER
from api.serializers.generations import GenerationCreateSerializer, GenerationSerializer
from api.serializers.problems import NO_SUCH_PAGE, problem_responses
from generations import idempotency, quotas, selectors, services
from generations.models import Generation

GENERATION_EXAMPLE = {
    "id": "6f1c2a9e-3b7d-4d0e-9a55-2f8b1c4e7a10",
    "status": "succeeded",
    "mode": "description",
    "operation": "create",
    "description": "calm piano for a focus timer",
    "lyrics": "",
    "title": "",
    "tags": "",
    "negative_tags": "",
    "auto_lyrics": False,
    "instrumental": True,
    "model": "sonic-v5",
    "vocal_gender": "",
    "source_clip": None,
    "continue_at": None,
    "persona": None,
    "clips": [
        {
            "id": "0b5e8c1d-2f4a-4e6b-8c9d-1a2b3c4d5e6f",
            "title": "Quiet Focus",
            "tags": "piano, calm",
            "lyrics": "",
            "duration": 142.6,
            "model": "sonic-v5",
            "state": "succeeded",
            "media": "ready",
            "audio_url": "https://gateway.example/api/v1/clips/0b5e8c1d-2f4a-4e6b-8c9d-1a2b3c4d5e6f/audio?sig=…",
            "image_url": "https://gateway.example/api/v1/clips/0b5e8c1d-2f4a-4e6b-8c9d-1a2b3c4d5e6f/image?sig=…",
            "created_at": "2026-11-24T09:00:41Z",
        }
    ],
    "error": None,
    "events_url": "https://gateway.example/api/v1/generations/6f1c2a9e-3b7d-4d0e-9a55-2f8b1c4e7a10/events?sig=…",
    "created_at": "2026-11-24T09:00:00Z",
    "started_at": "2026-11-24T09:00:01Z",
    "finished_at": "2026-11-24T09:01:05Z",
}
RESPONSE_EXAMPLES = [
    OpenApiExample(
        "Queued",
        value={
            **GENERATION_EXAMPLE,
            "status": "queued",
            "clips": [],
            "started_at": None,
            "finished_at": None,
        },
        response_only=True,
        status_codes=["202"],
    ),
    OpenApiExample(
        "Over your credits",
        value={
            "type": "urn:music-gateway:problem:quota_exceeded",
            "title": "Too many requests",
            "status": 429,
            "detail": "This create costs 15 credits and you have 8 of your 300 left for this day.",
            "limit": "credits_per_period",
            "operation": "create",
            "cost": 15,
            "remaining": 8,
        },
        response_only=True,
        status_codes=["429"],
    ),
    OpenApiExample(
        "Invalid request",
        value={
            "type": "urn:music-gateway:problem:validation",
            "title": "Invalid request",
            "status": 400,
            "detail": "description: Ensure this field has no more than 400 characters.",
            "errors": {"description": ["Ensure this field has no more than 400 characters."]},
        },
        response_only=True,
        status_codes=["400"],
    ),
]

CREATE_EXAMPLES = [
    OpenApiExample(
        "Description mode",
        value={"description": "calm piano for a focus timer", "instrumental": True},
        request_only=True,
    ),
    OpenApiExample(
        "Custom mode",
        value={
            "mode": "custom",
            "title": "Morning Light",
            "tags": "indie pop, warm, acoustic guitar",
            "lyrics": "[Verse]\nWake up to the morning light\n[Chorus]\nWe are alright",
            "model": "sonic-v5",
            "vocal_gender": "f",
        },
        request_only=True,
    ),
    OpenApiExample(
        "Concat an extension into the full song",
        description="An extend returns only the new part; concat (2 credits) merges the clip of "
        "one of your extends with what it extended. It takes nothing but `source_clip`.",
        value={"operation": "concat", "source_clip": "0b5e8c1d-2f4a-4e6b-8c9d-1a2b3c4d5e6f"},
        request_only=True,
    ),
    OpenApiExample(
        "Sung by one of your personas",
        description="A persona (`POST /personas`, status succeeded) sings new lyrics; custom "
        "mode only, 15 credits like a song.",
        value={
            "operation": "persona_music",
            "persona": "5a7d3e21-8c4b-4f9a-b2e6-0d1c9f8a7b65",
            "mode": "custom",
            "title": "Night Drive",
            "tags": "soul, slow groove",
            "lyrics": "[Verse]\nCity lights are calling\n[Chorus]\nDrive on through the night",
        },
        request_only=True,
    ),
]


@extend_schema_view(
    list=extend_schema(
        operation_id="listGenerations",
        summary="List your generations",
        description="Newest first, cursor-paginated; filter by `status` and creation time. "
        "Follow `next` and `previous` as given: a `cursor` this API did not give out is 404 (no "
        "such page); an empty filter (`?status=`) is 400, leave it out instead.",
        responses={
            200: GenerationSerializer(many=True),
            **problem_responses(400, 401),
            **NO_SUCH_PAGE,
        },
    ),
    retrieve=extend_schema(
        operation_id="getGeneration",
        summary="Get one generation",
        description="Its status, clips and error. Another user's generation is 404.",
        examples=[
            OpenApiExample("Succeeded", value=GENERATION_EXAMPLE, response_only=True),
            OpenApiExample(
                "Failed",
                value={
                    **GENERATION_EXAMPLE,
                    "status": "failed",
                    "clips": [],
                    "error": {
                        "code": "rejected",
                        "detail": "The song description needs moderation review.",
                    },
                },
                response_only=True,
            ),
        ],
        responses={200: GenerationSerializer, **problem_responses(401, 404)},
    ),
    destroy=extend_schema(
        operation_id="deleteGeneration",
        summary="Delete a generation",
        description="Removes the generation, its clips and their stored audio.",
        responses={204: None, **problem_responses(401, 404)},
    ),
)
class GenerationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = GenerationSerializer
    pagination_class = NewestFirstCursorPagination
    filterset_class = GenerationFilter
    queryset = Generation.objects.none()  # for the schema; get_queryset scopes to the owner

    def get_queryset(self):
        return selectors.generation_list(owner=self.request.user)

    @extend_schema(
        operation_id="createGeneration",
        summary="Ask for music",
        description="Validates the request, reserves the operation's price in credits (`GET "
        "/me` lists the prices: a create, extend or cover is 15 by default, a concat 2) and "
        "answers **202 Accepted** at once with the queued generation and its `Location`. "
        "Workers take it to the vendor; follow it with `GET /generations/{id}`.\n\n"
        "Send an `Idempotency-Key` (any unique string, e.g. a UUID) to retry safely: the same key "
        "and body within 24 h return the original generation (with `Idempotent-Replayed: true`) "
        "and cost nothing; the same key with another body is 422.\n\n"
        "The credits come back when the vendor fails or refunds the song, or when you cancel "
        "it before it reached the vendor.\n\n"
        "Every answer carries `RateLimit-Policy` and `RateLimit` headers (`credits`: left this "
        "period; `creates`: left this minute); over a limit is 429 with `Retry-After`, `limit` "
        "naming the limit hit, and the operation's `cost` and your `remaining` credits.",
        request=GenerationCreateSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        examples=[*CREATE_EXAMPLES, *RESPONSE_EXAMPLES],
        responses={
            202: GenerationSerializer,
            **problem_responses(400, 401, 409, 413, 415, 422, 429),
        },
    )
    def create(self, request):
        key = creates.idempotency_key(request)
        usage = quotas.usage_for(request.user)
        serializer = GenerationCreateSerializer(
            data=request.data, context={"request": request, "plan": usage.plan}
        )
        serializer.is_valid(raise_exception=True)
        request_hash = idempotency.fingerprint(request.data) if key else ""
        original, creates_left = creates.original_or_count(
            request,
            key=key,
            request_hash=request_hash,
            usage=usage,
            operation=serializer.validated_data["operation"],
        )
        if original is not None:  # a retry: answered again, counted nowhere
            return self._accepted(request, original, usage, replayed=True)
        created = services.generation_create(
            owner=request.user,
            request=serializer.validated_data,
            idempotency_key=key,
            request_hash=request_hash,
            plan=usage.plan,
        )
        return self._accepted(
            request,
            created.generation,
            created.usage or usage,
            replayed=created.replayed,
            creates_left=creates_left,
        )

    def _accepted(self, request, generation, usage, *, replayed, creates_left=None):
        return accepted(request, generation, usage, replayed=replayed, creates_left=creates_left)

    @extend_schema(
        operation_id="cancelGeneration",
        summary="Cancel a generation",
        description="Stops waiting for it. A generation that already finished answers 409.",
        request=None,
        responses={200: GenerationSerializer, **problem_responses(401, 404, 409)},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        generation = services.generation_cancel(generation=self.get_object())
        return Response(GenerationSerializer(generation, context={"request": request}).data)

    def perform_destroy(self, instance: Generation) -> None:
        services.generation_delete(generation=instance)


def accepted(request, generation, usage, *, replayed, creates_left=None) -> Response:
    """202 with the generation, its `Location`, the quota headers and, for a replayed
    Idempotency-Key, `Idempotent-Replayed` (POST /generations and POST /uploads)."""
    headers = {
        "Location": request.build_absolute_uri(f"/api/v1/generations/{generation.pk}"),
        **ratelimit.headers(usage, creates_left=creates_left),
    }
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        GenerationSerializer(generation, context={"request": request}).data,
        status=status.HTTP_202_ACCEPTED,
        headers=headers,
    )
