"""Every error on an API path is a problem+json body, whatever DEBUG is and whoever made it.

DRF views and the `handler*` views already answer problems; this catches the rest: Django's
debug 404/500 pages (DEBUG on), the CSRF failure page, `require_GET`'s bare 405, an empty 401.
"""

from __future__ import annotations

import json

from django.utils.deprecation import MiddlewareMixin

from api.problems import CONTENT_TYPE, problem

API_PREFIXES = ("/api/v1/", "/metrics", "/healthz", "/readyz")
DETAILS = {
    400: "The request could not be understood.",
    401: "Authentication is required.",
    403: "You may not do that.",
    404: "There is nothing here.",
    405: "This method is not allowed here.",
    500: "Something went wrong on our side; it has been logged.",
}


class ProblemMiddleware(MiddlewareMixin):  # the mixin serves sync and async stacks alike
    def process_response(self, request, response):
        if (
            response.status_code >= 400
            and request.path.startswith(API_PREFIXES)
            # A deliberate JSON body (the readiness probe's checks) is left as it is.
            and not response.get("Content-Type", "").startswith((CONTENT_TYPE, "application/json"))
            and not response.streaming
        ):
            status = response.status_code
            detail = DETAILS.get(status, response.reason_phrase)
            response.content = json.dumps(problem(status, detail)).encode()
            response["Content-Type"] = CONTENT_TYPE
            if response.has_header("Content-Length"):
                response["Content-Length"] = str(len(response.content))
        return response
