"""RFC 9457 problem details for every error the service answers.

DRF's exceptions go through `exception_handler`; Django's own 400/403/404/500 views are replaced by
`handler*` below, so no error ever renders an HTML page or a stack trace.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from api.ratelimit import CreateRateExceeded
from api.ratelimit import headers as ratelimit_headers
from generations.errors import DomainError, NotCancelable
from generations.idempotency import (
    IdempotencyKeyInProgress,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
)
from generations.outbound import TooManyEndpoints, WebhookUrlRefused
from generations.quotas import QuotaExceeded
from generations.uploads import UploadRefused, UploadsUnavailable
from generations.webhooks import WebhookRejected, WebhookReplayed

CONTENT_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:music-gateway:problem:"

TITLES = {
    400: "Invalid request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    416: "Range not satisfiable",
    422: "Unprocessable request",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


def problem(
    status_code: int, detail: str, *, code: str | None = None, **extra: Any
) -> dict[str, Any]:
    """The body of a problem: `code` selects the type URI, `extra` adds extension members."""
    return {
        "type": f"{TYPE_PREFIX}{code}" if code else "about:blank",
        "title": TITLES.get(status_code, "Error"),
        "status": status_code,
        "detail": detail,
        **extra,
    }


def _flatten(errors: Any) -> list[str]:
    if isinstance(errors, dict):
        return [m for value in errors.values() for m in _flatten(value)]
    if isinstance(errors, list):
        return [m for value in errors for m in _flatten(value)]
    return [str(errors)]


def _validation_problem(exc: exceptions.ValidationError) -> dict[str, Any]:
    detail = exc.detail
    if isinstance(detail, dict):
        field_errors = {
            field: [str(m) for m in _flatten(messages)] for field, messages in detail.items()
        }
    else:
        field_errors = {"non_field_errors": [str(m) for m in _flatten(detail)]}
    first_field, first_messages = next(iter(field_errors.items()))
    summary = (
        first_messages[0]
        if first_field == "non_field_errors"
        else f"{first_field}: {first_messages[0]}"
    )
    return problem(400, summary, code="validation", errors=field_errors)


# Each domain error's HTTP status; the message is already safe for clients.
DOMAIN_STATUSES: dict[type[DomainError], int] = {
    NotCancelable: 409,
    IdempotencyKeyInvalid: 400,
    IdempotencyKeyInProgress: 409,
    IdempotencyKeyReused: 422,
    WebhookRejected: 401,
    WebhookReplayed: 409,
    WebhookUrlRefused: 400,
    TooManyEndpoints: 409,
    UploadsUnavailable: 503,
}


def _limit_response(exc: QuotaExceeded | CreateRateExceeded) -> Response:
    body = problem(429, str(exc), code=exc.code, limit=exc.limit)
    # What the refused operation costs and what the user has left, both in credits.
    body.update(operation=exc.operation, cost=exc.cost, remaining=exc.usage.remaining)
    response = Response(body, status=429, content_type=CONTENT_TYPE)
    response["Retry-After"] = str(exc.retry_after_s)
    for name, value in ratelimit_headers(exc.usage).items():
        response[name] = value
    return response


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, QuotaExceeded | CreateRateExceeded):
        return _limit_response(exc)
    if isinstance(exc, UploadRefused):  # 400 or 413, naming the limit the file broke
        body = problem(exc.status, str(exc), code=exc.code, limit=exc.limit)
        return Response(body, status=exc.status, content_type=CONTENT_TYPE)
    if isinstance(exc, DomainError):
        status_code = DOMAIN_STATUSES.get(type(exc), status.HTTP_409_CONFLICT)
        exc = exceptions.APIException(str(exc), code=exc.code)
        exc.status_code = status_code
    if isinstance(exc, Http404):
        # get_object_or_404's message names the model ("No ApiToken matches the given query.").
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's handler500 below answers it
    if isinstance(exc, exceptions.ValidationError):
        body = _validation_problem(exc)
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else ""
        code = getattr(detail, "code", None)
        # Generic HTTP statuses keep about:blank; our own problems get a type of their own.
        generic = code in {
            None,
            "not_found",
            "not_authenticated",
            "authentication_failed",
            "method_not_allowed",
            "unsupported_media_type",
            "permission_denied",
            "not_acceptable",
        }
        body = problem(response.status_code, str(detail), code=None if generic else code)
    response.data = body
    response.content_type = CONTENT_TYPE
    return response


def _json(body: dict[str, Any]) -> JsonResponse:
    return JsonResponse(body, status=body["status"], content_type=CONTENT_TYPE)


def bad_request(request, exception=None):
    if isinstance(exception, RequestDataTooBig):
        return _json(problem(413, "The request body is too large."))
    return _json(problem(400, "The request could not be understood."))


def permission_denied(request, exception=None):
    return _json(problem(403, "You may not do that."))


def not_found(request, exception=None):
    return _json(problem(404, "There is nothing here."))


def server_error(request):
    return _json(problem(500, "Something went wrong on our side; it has been logged."))
