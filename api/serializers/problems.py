"""Schema-only serializer documenting the RFC 9457 problem details body."""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ProblemSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="A URI naming the problem type, or about:blank.")
    title = serializers.CharField(help_text="A short summary of the problem type.")
    status = serializers.IntegerField(help_text="The HTTP status code.")
    detail = serializers.CharField(help_text="What went wrong this time, for a human.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Validation errors per field (400 only).",
    )
    limit = serializers.CharField(
        required=False,
        help_text="The limit that was hit: on a 429 credits_per_period, max_in_flight or "
        "creates_per_minute; on an upload's 400 / 413 the rule the file broke (format, "
        "UPLOAD_MIN_DURATION_S, UPLOAD_MAX_DURATION_S, UPLOAD_MAX_BYTES).",
    )
    operation = serializers.CharField(
        required=False, help_text="The refused operation (429 of a priced operation)."
    )
    cost = serializers.IntegerField(
        required=False, help_text="What the refused operation costs, in credits (429)."
    )
    remaining = serializers.IntegerField(
        required=False, help_text="Your balance: credits left this period (429)."
    )


def problem_responses(*statuses: int) -> dict[tuple[int, str], OpenApiResponse]:
    descriptions = {
        400: "Invalid request: `errors` names each field.",
        401: "No token, or a bad, expired or revoked one.",
        403: "The signed media link expired or was tampered with.",
        404: "Not found, or not yours.",
        409: "The request conflicts with the resource's current state.",
        413: "Request body too large.",
        415: "Content-Type must be application/json.",
        416: "The range is outside the file.",
        422: "The Idempotency-Key was used with a different body.",
        429: "Over your credits, in-flight or rate limit: `limit` names it; over credits, `cost` "
        "and `remaining` say what the operation costs and what you have left. See Retry-After "
        "and the RateLimit headers.",
        502: "The music service did not answer for this media; try again (Retry-After).",
    }
    return {
        (status, "application/problem+json"): OpenApiResponse(
            ProblemSerializer, description=descriptions[status]
        )
        for status in statuses
    }


# A cursor-paginated list: a cursor this API did not give out names no page (api.pagination).
NO_SUCH_PAGE = {
    (404, "application/problem+json"): OpenApiResponse(
        ProblemSerializer, description="No such page: the cursor is not one we gave out."
    )
}
