"""Jobs: a clip's WAV, stems and lyrics timeline, lyrics drafts (202), a job, and its files."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from api import creates, passthrough, ranges, ratelimit
from api.filters import JobFilter
from api.pagination import NewestFirstCursorPagination
from api.schema import IDEMPOTENCY_KEY_PARAMETER
from api.serializers.jobs import (
    JobSerializer,
    LyricsRequestSerializer,
    NoBodySerializer,
    StemsRequestSerializer,
)
from api.serializers.problems import NO_SUCH_PAGE, problem_responses
from api.views.clips import MEDIA_PARAMETERS, SignedMediaView, own_clip
from generations import idempotency, jobs, quotas, selectors
from generations.media import served_type
from generations.models import Job, JobFile, JobKind, MediaState, Status

JOB_EXAMPLE = {
    "id": "9d2f7c1a-5e3b-4f60-8a1d-3c4b5a6e7f80",
    "kind": "wav",
    "status": "succeeded",
    "clip": "0b5e8c1d-2f4a-4e6b-8c9d-1a2b3c4d5e6f",
    "description": "",
    "files": [
        {
            "id": "4c3b2a19-0d8e-4f7a-9b6c-5d4e3f2a1b0c",
            "name": "wav",
            "media": "ready",
            "url": "https://gateway.example/api/v1/files/4c3b2a19-0d8e-4f7a-9b6c-5d4e3f2a1b0c?sig=…",
        }
    ],
    "segments": None,
    "drafts": None,
    "error": None,
    "created_at": "2026-11-24T09:02:00Z",
    "started_at": "2026-11-24T09:02:01Z",
    "finished_at": "2026-11-24T09:02:31Z",
}
QUEUED_EXAMPLE = {**JOB_EXAMPLE, "status": "queued", "files": [], "started_at": None}
QUEUED_EXAMPLE["finished_at"] = None
IDEMPOTENCY_PARAMETER = IDEMPOTENCY_KEY_PARAMETER
ASYNC_NOTE = (
    "Answers **202 Accepted** with the queued job and its `Location`; workers take it to the "
    "music service. Follow it with `GET /jobs/{id}`, or on the clip's generation's events "
    "stream (the clip carries its jobs). Reserves the operation's price from your credits "
    "(`GET /me` lists the prices: a WAV 2, stems 15 basic / 75 full, a lyrics timeline 1, "
    "lyrics 10), given back if the music service fails or refuses (the refusal's reason is in "
    "the job's `error`); over your credits is 429 with the `cost` and your `remaining` credits. "
    "If the clip already has this output, done or on its way, that job is answered "
    "with **200** and nothing is reserved. `Idempotency-Key` works as for generations."
)
CREATE_RESPONSES = {
    200: JobSerializer,
    202: JobSerializer,
    **problem_responses(400, 401, 404, 409, 415, 422, 429),
}


def _answer(request, created: jobs.JobCreated, usage, creates_left=None) -> Response:
    headers = {
        "Location": request.build_absolute_uri(f"/api/v1/jobs/{created.job.pk}"),
        **ratelimit.headers(created.usage or usage, creates_left=creates_left),
    }
    if created.replayed:
        headers["Idempotent-Replayed"] = "true"
    fresh = not created.existing and created.job.status not in (Status.SUCCEEDED, Status.FAILED)
    return Response(
        JobSerializer(created.job, context={"request": request}).data,
        status=status.HTTP_202_ACCEPTED if fresh else status.HTTP_200_OK,
        headers=headers,
    )


class _JobCreateView(APIView):
    """Validate the body, replay an Idempotency-Key, count the create, call `job_create`."""

    request_serializer = NoBodySerializer

    def kind_for(self, data: dict) -> JobKind:
        raise NotImplementedError

    def create(self, request, clip=None) -> Response:
        key = creates.idempotency_key(request)
        serializer = self.request_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        usage = quotas.usage_for(request.user)
        body = {"path": request.path, "body": request.data}
        request_hash = idempotency.fingerprint(body) if key else ""
        kind = self.kind_for(serializer.validated_data)
        original, creates_left = creates.original_or_count(
            request, key=key, request_hash=request_hash, usage=usage, operation=kind
        )
        if original is not None:
            return _answer(request, jobs.JobCreated(original, None, replayed=True), usage)
        created = jobs.job_create(
            owner=request.user,
            kind=kind,
            clip=clip,
            description=serializer.validated_data.get("description", ""),
            idempotency_key=key,
            request_hash=request_hash,
            plan=usage.plan,
        )
        return _answer(request, created, usage, creates_left)


class ClipWavView(_JobCreateView):
    @extend_schema(
        operation_id="createClipWav",
        summary="Make a clip's lossless WAV",
        description=f"A WAV file of one of your finished clips. {ASYNC_NOTE}",
        request=None,
        parameters=[IDEMPOTENCY_PARAMETER],
        examples=[
            OpenApiExample(
                "Queued", value=QUEUED_EXAMPLE, response_only=True, status_codes=["202"]
            ),
            OpenApiExample("Ready", value=JOB_EXAMPLE, response_only=True, status_codes=["200"]),
        ],
        responses=CREATE_RESPONSES,
        tags=["jobs"],
    )
    def post(self, request, pk):
        return self.create(request, clip=own_clip(request, pk))

    def kind_for(self, data: dict) -> JobKind:
        return JobKind.WAV


class ClipStemsView(_JobCreateView):
    request_serializer = StemsRequestSerializer

    @extend_schema(
        operation_id="createClipStems",
        summary="Split a clip into stems",
        description="`tracks: basic` (the default) makes vocals + instrumental; `full` up to 12 "
        f"instrument tracks, and costs more. Each track is one of the job's `files`. {ASYNC_NOTE}",
        request=StemsRequestSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        examples=[
            OpenApiExample("Full", value={"tracks": "full"}, request_only=True),
            OpenApiExample(
                "Queued",
                value={**QUEUED_EXAMPLE, "kind": "stems_full"},
                response_only=True,
                status_codes=["202"],
            ),
            OpenApiExample(
                "Over your credits",
                value={
                    "type": "urn:music-gateway:problem:quota_exceeded",
                    "title": "Too many requests",
                    "status": 429,
                    "detail": "This stems_full costs 75 credits and you have 45 of your 300 "
                    "left for this day.",
                    "limit": "credits_per_period",
                    "operation": "stems_full",
                    "cost": 75,
                    "remaining": 45,
                },
                response_only=True,
                status_codes=["429"],
            ),
        ],
        responses=CREATE_RESPONSES,
        tags=["jobs"],
    )
    def post(self, request, pk):
        return self.create(request, clip=own_clip(request, pk))

    def kind_for(self, data: dict) -> JobKind:
        return JobKind.STEMS_FULL if data["tracks"] == "full" else JobKind.STEMS_BASIC


class ClipLyricsTimelineView(_JobCreateView):
    @extend_schema(
        operation_id="createClipLyricsTimeline",
        summary="Time a clip's lyrics (karaoke, captions)",
        description="The clip's lyrics aligned to its audio, as timed `segments` on the job. A "
        f"clip without lyrics is 409. {ASYNC_NOTE}",
        request=None,
        parameters=[IDEMPOTENCY_PARAMETER],
        examples=[
            OpenApiExample(
                "Ready",
                value={
                    **JOB_EXAMPLE,
                    "kind": "lyrics_timeline",
                    "files": [],
                    "segments": [
                        {"text": "[Verse]", "start": 0.0, "stop": 1.5},
                        {"text": "Wake up to the morning light", "start": 1.5, "stop": 4.2},
                    ],
                },
                response_only=True,
                status_codes=["200"],
            ),
        ],
        responses=CREATE_RESPONSES,
        tags=["jobs"],
    )
    def post(self, request, pk):
        return self.create(request, clip=own_clip(request, pk))

    def kind_for(self, data: dict) -> JobKind:
        return JobKind.LYRICS_TIMELINE


class LyricsView(_JobCreateView):
    request_serializer = LyricsRequestSerializer

    @extend_schema(
        operation_id="createLyrics",
        summary="Write lyrics from a description",
        description="Two title + lyrics drafts (`drafts` on the job), to use as the `lyrics` of a "
        "custom-mode generation. **202** with the job: the music service answers this call "
        "synchronously, but nothing on a web request waits for it (docs/upstream.md says "
        "why); it usually succeeds within seconds. `Idempotency-Key` works as for "
        "generations.",
        request=LyricsRequestSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        examples=[
            OpenApiExample("Request", value={"description": "a song about sky"}, request_only=True),
            OpenApiExample(
                "Ready",
                value={
                    **JOB_EXAMPLE,
                    "kind": "lyrics",
                    "clip": None,
                    "description": "a song about sky",
                    "files": [],
                    "drafts": [
                        {"title": "Open Sky", "lyrics": "[Verse]\nBlue above me\n[Chorus]\n…"},
                        {"title": "Skyward", "lyrics": "[Verse]\nClouds roll by\n[Chorus]\n…"},
                    ],
                },
                response_only=True,
                status_codes=["200"],
            ),
        ],
        # 200: a replayed Idempotency-Key whose job has already finished (as for the others).
        responses={
            200: JobSerializer,
            202: JobSerializer,
            **problem_responses(400, 401, 415, 422, 429),
        },
        tags=["jobs"],
    )
    def post(self, request):
        return self.create(request)

    def kind_for(self, data: dict) -> JobKind:
        return JobKind.LYRICS


class JobListView(ListAPIView):
    serializer_class = JobSerializer
    pagination_class = NewestFirstCursorPagination
    filterset_class = JobFilter
    queryset = Job.objects.none()  # for the schema; get_queryset scopes to the owner

    def get_queryset(self):
        return selectors.job_list(owner=self.request.user)

    @extend_schema(
        operation_id="listJobs",
        summary="List your jobs",
        description="Newest first, cursor-paginated; `?kind=lyrics` finds your lyrics drafts. "
        "A `cursor` this API did not give out is 404; an empty `?kind=` is 400.",
        responses={200: JobSerializer(many=True), **problem_responses(400, 401), **NO_SUCH_PAGE},
        tags=["jobs"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class JobView(APIView):
    @extend_schema(
        operation_id="getJob",
        summary="Get one job",
        description="Its status, and when it succeeded its result: `files` (WAV, stems, each "
        "with a short-lived signed `url`), `segments` (lyrics timeline) or `drafts` (lyrics). "
        "Another user's job is 404.",
        examples=[
            OpenApiExample("WAV ready", value=JOB_EXAMPLE, response_only=True),
            OpenApiExample(
                "Refused",
                value={
                    **JOB_EXAMPLE,
                    "status": "failed",
                    "files": [],
                    "error": {
                        "code": "rejected",
                        "detail": "This song contains copyrighted content and cannot be processed.",
                    },
                },
                response_only=True,
            ),
        ],
        responses={200: JobSerializer, **problem_responses(401, 404)},
        tags=["jobs"],
    )
    def get(self, request, pk):
        try:
            job = selectors.job_get(owner=request.user, job_id=pk)
        except (Job.DoesNotExist, DjangoValidationError) as exc:
            raise Http404 from exc
        return Response(JobSerializer(job, context={"request": request}).data)


class JobFileView(SignedMediaView):
    @extend_schema(
        operation_id="getJobFile",
        summary="Download a job's file (WAV, a stem)",
        description="Like a clip's audio: Bearer token or the signed `url`, single-range 206, "
        "`ETag`. Before our copy lands it is streamed through from the music service.",
        parameters=MEDIA_PARAMETERS,
        responses={
            (200, "audio/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The file."),
            (206, "audio/*"): OpenApiResponse(OpenApiTypes.BINARY, description="A byte range."),
            **problem_responses(401, 403, 404, 416, 502),
        },
        tags=["jobs"],
    )
    def get(self, request, pk):
        row = self._file(request, pk)
        if row.media_state != MediaState.READY or not row.file:
            return passthrough.serve(request, url=row.vendor_url, kind="file")
        return ranges.serve(
            request,
            name=row.file.name,
            content_type=served_type("file", row.content_type),
            sha256=row.sha256,
            modified=row.copied_at,
        )

    def _file(self, request, pk) -> JobFile:
        files = JobFile.objects.select_related("job")
        if not self.signed(request, pk, "file"):
            files = files.filter(job__owner=request.user)
        try:
            return files.get(pk=pk)
        except (JobFile.DoesNotExist, DjangoValidationError) as exc:
            raise Http404 from exc
