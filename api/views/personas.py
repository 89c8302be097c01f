"""Personas: make one from a clip of yours (202, a job), list yours, get one."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from api import creates, ratelimit
from api.pagination import NewestFirstCursorPagination
from api.schema import IDEMPOTENCY_KEY_PARAMETER
from api.serializers.personas import PersonaCreateSerializer, PersonaSerializer
from api.serializers.problems import NO_SUCH_PAGE, problem_responses
from api.views.clips import own_clip
from generations import idempotency, personas, quotas, selectors
from generations.models import JobKind, Persona, Status

PERSONA_EXAMPLE = {
    "id": "5a7d3e21-8c4b-4f9a-b2e6-0d1c9f8a7b65",
    "name": "Velvet",
    "description": "a warm alto with a soft vibrato",
    "styles": "soul, neo-soul",
    "status": "succeeded",
    "clip": "0b5e8c1d-2f4a-4e6b-8c9d-1a2b3c4d5e6f",
    "job": "9d2f7c1a-5e3b-4f60-8a1d-3c4b5a6e7f80",
    "error": None,
    "created_at": "2026-11-24T09:05:00Z",
    "finished_at": "2026-11-24T09:05:02Z",
}
QUEUED_EXAMPLE = {**PERSONA_EXAMPLE, "status": "queued", "finished_at": None}


class PersonaListCreateView(ListAPIView):
    serializer_class = PersonaSerializer
    pagination_class = NewestFirstCursorPagination
    queryset = Persona.objects.none()  # for the schema; get_queryset scopes to the owner

    def get_queryset(self):
        return selectors.persona_list(owner=self.request.user)

    @extend_schema(
        operation_id="listPersonas",
        summary="List your personas",
        description="Newest first, cursor-paginated, whatever their status. A `cursor` this API "
        "did not give out is 404.",
        responses={
            200: PersonaSerializer(many=True),
            **problem_responses(400, 401),
            **NO_SUCH_PAGE,
        },
        tags=["personas"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="createPersona",
        summary="Make a persona from one of your clips",
        description="The voice and style of one of your finished clips, kept under a name to "
        "sing new songs: `POST /generations` with `operation: persona_music` and its id. "
        "**202 Accepted** with the persona (`queued`) and its `Location`; workers take it to "
        "the music service, and it usually `succeeded` within seconds (follow it with "
        "`GET /personas/{id}`, or on the clip's generation's events stream: the clip's `jobs` "
        "carry its job, kind `persona`). Reserves `GET /me`'s `persona` price (1 credit), given "
        "back if the music service refuses (its reason in `error`, e.g. a clip older than 24 "
        "hours). Another user's clip is 404; an unfinished one 409. `Idempotency-Key` works as "
        "for generations. Each call makes a new persona and is charged again, even from a clip "
        "that already has one (unlike WAV, stems and the timeline, which reuse the clip's job): "
        "keep the id and reuse it.",
        request=PersonaCreateSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        examples=[
            OpenApiExample(
                "Request",
                value={
                    "clip": PERSONA_EXAMPLE["clip"],
                    "name": "Velvet",
                    "description": "a warm alto with a soft vibrato",
                    "styles": "soul, neo-soul",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Queued", value=QUEUED_EXAMPLE, response_only=True, status_codes=["202"]
            ),
            OpenApiExample(
                "Not your clip",
                value={
                    "type": "urn:music-gateway:problem:not_found",
                    "title": "Not found",
                    "status": 404,
                    "detail": "Not found.",
                },
                response_only=True,
                status_codes=["404"],
            ),
        ],
        # 200: a replayed Idempotency-Key whose persona has already finished.
        responses={
            200: PersonaSerializer,
            202: PersonaSerializer,
            **problem_responses(400, 401, 404, 409, 415, 422, 429),
        },
        tags=["personas"],
    )
    def post(self, request):
        key = creates.idempotency_key(request)
        serializer = PersonaCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        clip = own_clip(request, data["clip"])
        usage = quotas.usage_for(request.user)
        body = {"path": request.path, "body": request.data}
        request_hash = idempotency.fingerprint(body) if key else ""
        original, creates_left = creates.original_or_count(
            request, key=key, request_hash=request_hash, usage=usage, operation=JobKind.PERSONA
        )
        if original is not None:
            created = personas.PersonaCreated(original.persona, None, replayed=True)
            return _answer(request, created, usage)
        created = personas.persona_create(
            owner=request.user,
            clip=clip,
            name=data["name"],
            description=data.get("description", ""),
            styles=data.get("styles", ""),
            idempotency_key=key,
            request_hash=request_hash,
            plan=usage.plan,
        )
        return _answer(request, created, usage, creates_left)


def _answer(request, created: personas.PersonaCreated, usage, creates_left=None) -> Response:
    persona = created.persona
    headers = {
        "Location": request.build_absolute_uri(f"/api/v1/personas/{persona.pk}"),
        **ratelimit.headers(created.usage or usage, creates_left=creates_left),
    }
    if created.replayed:
        headers["Idempotent-Replayed"] = "true"
    finished = persona.job.status in (Status.SUCCEEDED, Status.FAILED)
    return Response(
        PersonaSerializer(persona, context={"request": request}).data,
        status=status.HTTP_200_OK if finished else status.HTTP_202_ACCEPTED,
        headers=headers,
    )


class PersonaView(APIView):
    @extend_schema(
        operation_id="getPersona",
        summary="Get one persona",
        description="Its status: `succeeded` means it can sing (`operation: persona_music`). "
        "Another user's persona is 404.",
        examples=[
            OpenApiExample("Ready", value=PERSONA_EXAMPLE, response_only=True),
            OpenApiExample(
                "Refused",
                value={
                    **PERSONA_EXAMPLE,
                    "status": "failed",
                    "error": {
                        "code": "rejected",
                        "detail": "The clip must be from the last 24 hours.",
                    },
                },
                response_only=True,
            ),
        ],
        responses={200: PersonaSerializer, **problem_responses(401, 404)},
        tags=["personas"],
    )
    def get(self, request, pk):
        try:
            persona = selectors.persona_get(owner=request.user, persona_id=pk)
        except (Persona.DoesNotExist, DjangoValidationError) as exc:
            raise Http404 from exc
        return Response(PersonaSerializer(persona, context={"request": request}).data)
