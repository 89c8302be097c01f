"""Generations: create (202), list, retrieve, cancel, delete — always the caller's own."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from api import ratelimit
from api.filters import GenerationFilter
from api.pagination import NewestFirstCursorPagination
from api.serializers.generations import GenerationRequestSerializer, GenerationSerializer
from api.serializers.problems import problem_responses
from generations import idempotency, quotas, selectors, services
from generations.models import Generation

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
]


@extend_schema_view(
    list=extend_schema(
        summary="List your generations",
        description="Newest first, cursor-paginated; filter by `status` and creation time.",
        responses={200: GenerationSerializer(many=True), **problem_responses(400, 401)},
    ),
    retrieve=extend_schema(
        summary="Get one generation",
        description="Its status, clips and error. Another user's generation is 404.",
        responses={200: GenerationSerializer, **problem_responses(401, 404)},
    ),
    destroy=extend_schema(
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

    def get_object(self) -> Generation:
        try:
            return selectors.generation_get(
                owner=self.request.user, generation_id=self.kwargs["pk"]
            )
        except (Generation.DoesNotExist, DjangoValidationError) as exc:
            raise Http404 from exc

    @extend_schema(
        summary="Ask for music",
        description="Validates the request, reserves one unit of your quota and answers **202 "
        "Accepted** at once with the queued generation and its `Location`. Workers take it to "
        "the vendor; follow it with `GET /generations/{id}`.\n\n"
        "Send an `Idempotency-Key` (any unique string, e.g. a UUID) to retry safely: the same key "
        "and body within 24 h return the original generation (with `Idempotent-Replayed: true`) "
        "and cost nothing; the same key with another body is 422.\n\n"
        "Every answer carries `RateLimit-Policy` and `RateLimit` headers; over quota is 429 with "
        "`Retry-After` and `limit` naming the limit hit.",
        request=GenerationRequestSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Makes retries safe: 1-255 printable ASCII characters, per user.",
            )
        ],
        examples=CREATE_EXAMPLES,
        responses={
            202: GenerationSerializer,
            **problem_responses(400, 401, 409, 413, 415, 422, 429),
        },
    )
    def create(self, request):
        key = request.headers.get("Idempotency-Key")
        if key is not None:
            idempotency.key_validate(key)
        serializer = GenerationRequestSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        usage = quotas.usage_for(request.user)
        creates_left = ratelimit.count_create(user_id=request.user.pk, usage=usage)
        created = services.generation_create(
            owner=request.user,
            request=serializer.validated_data,
            idempotency_key=key or "",
            request_hash=idempotency.fingerprint(request.data) if key else "",
        )
        generation = created.generation
        headers = {
            "Location": request.build_absolute_uri(f"{request.path.rstrip('/')}/{generation.pk}"),
            **ratelimit.headers(created.usage or usage, creates_left=creates_left),
        }
        if created.replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(
            GenerationSerializer(generation, context={"request": request}).data,
            status=status.HTTP_202_ACCEPTED,
            headers=headers,
        )

    @extend_schema(
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
