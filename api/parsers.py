"""A JSON parser that refuses bodies over the configured size before reading them whole, and
nesting deeper than MAX_JSON_DEPTH before parsing (deep nesting exhausts Python's recursion)."""

from __future__ import annotations

import re
from io import BytesIO

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

# A JSON string, so that brackets inside strings are not counted.
STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
OPEN, CLOSE = frozenset(b"[{"), frozenset(b"]}")


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


def json_depth(raw: bytes) -> int:
    """How deeply arrays and objects nest in `raw` (which need not be valid JSON)."""
    depth = deepest = 0
    for byte in STRING.sub(b"", raw):
        if byte in OPEN:
            depth += 1
            deepest = max(deepest, depth)
        elif byte in CLOSE:
            depth -= 1
    return deepest


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise RequestTooLarge(f"The request body must be at most {limit} bytes.")
        if stream is not None:
            body = stream.read(limit + 1)
            if len(body) > limit:
                raise RequestTooLarge(f"The request body must be at most {limit} bytes.")
            if json_depth(body) > settings.MAX_JSON_DEPTH:
                raise ParseError(f"JSON may nest at most {settings.MAX_JSON_DEPTH} levels deep.")
            stream = BytesIO(body)
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:  # cannot happen under the depth cap; never a 500 if it does
            raise ParseError("JSON nests too deeply.") from None
