"""drf-spectacular extensions: the Bearer security scheme for our token authentication."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter

from generations import idempotency
from generations.models import EventType

# Every operation that takes an Idempotency-Key states its rule, the one the code checks.
IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    {
        "type": "string",
        "minLength": 1,
        "maxLength": idempotency.KEY_MAX_LENGTH,
        "pattern": idempotency.KEY_PATTERN,
    },
    OpenApiParameter.HEADER,
    description="Makes retries safe: 1-255 printable ASCII characters (not starting or ending "
    "with a space), per user. Any other value is 400.",
)


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (`mg_…`), created with `POST /api/v1/tokens` "
            "or `manage.py create_api_user`.",
        }


SSE_EXAMPLE = (
    'id: evt_1042\nevent: generation\ndata: {"id": "…", "status": "running", …}\n\n: heartbeat\n\n'
)


# Open API 3.0 has `schema` describe one event of a `text/event-stream` (as schemathesis and 3.2's
# `itemSchema` read it): its `event` name, its `id` (to send back as Last-Event-ID) and its `data`
# (JSON). Comments (`: heartbeat`) and the `retry:` line are no events.
def sse_event_schema(names: list[str], data: str) -> dict:
    return {
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"type": "string", "enum": names},
            "id": {"type": "string", "pattern": r"^evt_\d+$"},
            "retry": {"type": "integer", "minimum": 0},
            # Open API 3.0 has no contentSchema: tests/security/test_conformance.py checks it.
            "data": {"type": "string", "description": data},
        },
    }


SSE_EVENT_SCHEMA = sse_event_schema(
    ["generation"], "The whole generation resource (`Generation`), as JSON."
)


def add_streaming_and_limits(result, generator, request, public):
    """Postprocessing hook: document the SSE endpoint (a plain async Django view that DRF does
    not see), the read throttle's 429 on every authenticated operation, and the 503 a saturated
    database answers (api.database_unavailable)."""
    problem = {"$ref": "#/components/schemas/Problem"}
    problem_response = {"content": {"application/problem+json": {"schema": problem}}}
    for path, item in result["paths"].items():
        if path.startswith("/api/v1/hooks/"):
            continue
        for operation in item.values():
            operation["responses"].setdefault(
                "429", {**problem_response, "description": "Too many requests; see Retry-After."}
            )
            operation["responses"].setdefault(
                "503",
                {**problem_response, "description": "The database is busy; see Retry-After."},
            )
    result["paths"]["/api/v1/generations/{id}/events"] = {
        "get": {
            "operationId": "streamGenerationEvents",
            "summary": "Follow a generation live (Server-Sent Events)",
            "description": (
                "A `text/event-stream` of `generation` events, each carrying the whole generation "
                "resource as JSON, sent when its status changes or its clips' audio is stored, "
                "with `: heartbeat` comments in between. The stream ends once the generation is "
                "terminal and its audio copies are settled. Reconnect with `Last-Event-ID` to "
                "receive what you missed (a malformed or unknown id starts from the current "
                "state). "
                "`EventSource` cannot send headers: use the generation's signed `events_url`, or "
                "send a Bearer token from code. A stream opened with `events_url` ends when that "
                "link expires or its token is revoked. A clip that starts streaming is sent too: "
                "its `audio_url` plays now, before the song is final."
            ),
            "tags": ["generations"],
            "parameters": [
                {
                    "in": "path",
                    "name": "id",
                    "required": True,
                    "schema": {"type": "string", "format": "uuid"},
                },
                {
                    "in": "query",
                    "name": "sig",
                    "schema": {"type": "string"},
                    "description": "The signature from `events_url`.",
                },
                {
                    "in": "header",
                    "name": "Last-Event-ID",
                    "schema": {"type": "string"},
                    "description": "Resume after this event.",
                },
            ],
            "security": [{"bearerAuth": []}, {}],
            "responses": {
                "200": {
                    "description": "The event stream.",
                    "content": {
                        "text/event-stream": {
                            "schema": SSE_EVENT_SCHEMA,
                            "example": SSE_EXAMPLE,
                        }
                    },
                },
                "401": {**problem_response, "description": "No token and no signature."},
                "403": {
                    **problem_response,
                    "description": "The signed URL expired, was tampered with, or its token "
                    "was revoked.",
                },
                "404": {**problem_response, "description": "Not found, or not yours."},
                "429": {
                    **problem_response,
                    "description": "Too many open streams for this user; see Retry-After.",
                },
            },
        }
    }
    _add_user_events(result, problem_response)
    return result


USER_SSE_EXAMPLE = (
    "retry: 3000\n\n"
    "id: evt_1042\nevent: generation.running\n"
    'data: {"id": "evt_1042", "type": "generation.running", '
    '"timestamp": "2026-11-25T12:00:00+00:00", "data": {"id": "…", "status": "running", …}}\n\n'
    ": heartbeat\n\n"
    "id: evt_1043\nevent: generation.queued\n"
    'data: {"id": "evt_1043", "type": "generation.queued", …}\n\n'
)
# When each event type is sent; every one carries the generation as it is when delivered.
EVENT_TYPE_DOCS = {
    "generation.queued": "A generation was created.",
    "generation.running": "The vendor took it: the song is being made.",
    "generation.succeeded": "It finished with at least one clip; sent after its clips' "
    "`clip.succeeded` / `clip.failed`.",
    "generation.failed": "It ended without a song (`data.error` says why); sent after its "
    "clips' `clip.failed`.",
    "generation.canceled": "You canceled it.",
    "clip.streaming": "A clip's audio plays now (`audio_url`), before the song is final.",
    "clip.succeeded": "The clip named by `clip` is final. Once per clip, before the "
    "generation's own terminal event.",
    "clip.failed": "The vendor could not make the clip named by `clip` (its `error_detail` "
    "says why). Once per clip, before the generation's own terminal event.",
    "clip.media_ready": "The copy of the clip named by `clip` landed: its audio and cover are "
    "served by this service from now on.",
    "clip.media_failed": "The clip named by `clip` could not be copied (it still plays through "
    "from the vendor while its link lasts).",
    "clip.job_updated": "A job on the clip named by `clip` (a WAV, stems, a lyrics timeline, a "
    "persona made from it) moved or its files landed: the clip's `jobs` show it.",
}
CLIP_NAMED = (
    "clip.succeeded",
    "clip.failed",
    "clip.media_ready",
    "clip.media_failed",
    "clip.job_updated",
)


def _event_component(type_: str) -> tuple[str, dict]:
    """The schema of one event type: `Event`'s union member for it."""
    name = "".join(part.title() for part in type_.replace("_", ".").split(".")) + "Event"
    named = type_ in CLIP_NAMED
    clip = (
        {"type": "string", "format": "uuid", "description": "The clip it is about."}
        if named
        else {"type": "string", "format": "uuid", "nullable": True, "description": "null."}
    )
    return name, {
        "type": "object",
        "description": f"`{type_}`: {EVENT_TYPE_DOCS[type_]}",
        "required": ["id", "type", "timestamp", "data", *(["clip"] if named else [])],
        "properties": {
            "id": {"type": "string", "example": "evt_1042", "description": "`evt_<n>`."},
            "type": {"type": "string", "enum": [type_]},
            "timestamp": {"type": "string", "format": "date-time"},
            "clip": clip,
            "data": {
                "allOf": [{"$ref": "#/components/schemas/Generation"}],
                "description": "The generation as it is when the event is delivered.",
            },
        },
    }


def _add_user_events(result, problem_response) -> None:
    """`GET /api/v1/events` and the `Event` schema it shares with webhooks."""
    schemas, mapping = result["components"]["schemas"], {}
    for type_ in EventType.values:
        name, component = _event_component(type_)
        schemas[name] = component
        mapping[type_] = f"#/components/schemas/{name}"
    schemas["Event"] = {
        "description": "One change of one of your generations: the `data` of an SSE frame on "
        "`GET /api/v1/events` (its `event:` is `type`, its `id:` is `id`) and the body of a "
        "webhook delivery (`webhook-id` is `id`). The same change has the same `id` "
        "everywhere, so deduplicate on it. One schema per `type`.",
        "oneOf": [{"$ref": ref} for ref in mapping.values()],
        "discriminator": {"propertyName": "type", "mapping": mapping},
    }
    result["paths"]["/api/v1/events"] = {
        "get": {
            "operationId": "streamEvents",
            "summary": "Follow all your generations live (Server-Sent Events)",
            "description": (
                "One `text/event-stream` for every generation of yours, new ones included: "
                "follow many songs on one connection (browsers allow six per origin). Each "
                "frame's `event:` is the event type and its `data:` an `Event` (JSON), with "
                "`: heartbeat` comments in between. It starts with the latest event of each "
                "generation still in flight (or still copying its audio). Reconnect with "
                "`Last-Event-ID` to also receive, once per generation, what changed while you "
                "were away; a malformed or unknown id starts from the current state. Under "
                "load, events of one generation may coalesce into its latest (each carries "
                "the whole generation). `EventSource` cannot send headers: use `events_url` "
                "from `GET /api/v1/me`, which ends when that link expires or its token is "
                "revoked. Counts towards the same per-user cap of open streams."
            ),
            "tags": ["generations"],
            "parameters": [
                {
                    "in": "query",
                    "name": "sig",
                    "schema": {"type": "string"},
                    "description": "The signature from `events_url` of `GET /api/v1/me`.",
                },
                {
                    "in": "header",
                    "name": "Last-Event-ID",
                    "schema": {"type": "string"},
                    "description": "Resume after this event (`evt_<n>`).",
                },
            ],
            "security": [{"bearerAuth": []}, {}],
            "responses": {
                "200": {
                    "description": "The event stream; each frame's data is an `Event`.",
                    "content": {
                        "text/event-stream": {
                            "schema": sse_event_schema(EventType.values, "An `Event`, as JSON."),
                            "x-item-schema": {"$ref": "#/components/schemas/Event"},
                            "example": USER_SSE_EXAMPLE,
                        }
                    },
                },
                "401": {**problem_response, "description": "No token and no signature."},
                "403": {
                    **problem_response,
                    "description": "The signed URL expired, was tampered with, or its token "
                    "was revoked.",
                },
                "429": {
                    **problem_response,
                    "description": "Too many open streams for this user; see Retry-After.",
                },
            },
        }
    }


def close_request_bodies(result, generator, request, public):
    """Postprocessing hook: a request body whose serializer refuses unknown fields (400) says so
    with `additionalProperties: false`, so no client (nor schemathesis) takes extras as valid."""
    from api.fields import UnknownFieldsRefused

    schemas = result.get("components", {}).get("schemas", {})
    for serializer in _subclasses(UnknownFieldsRefused):
        name = serializer.__name__.removesuffix("Serializer")
        for component in (f"{name}Request", name):
            if component in schemas:
                schemas[component]["additionalProperties"] = False
    return result


def _subclasses(cls) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found
