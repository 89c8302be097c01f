"""drf-spectacular extensions: the Bearer security scheme for our token authentication."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


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
    "id: 1732435200000-0\nevent: generation\n"
    'data: {"id": "…", "status": "running", …}\n\n: heartbeat\n\n'
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
                            "schema": {"type": "string"},
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
    return result
