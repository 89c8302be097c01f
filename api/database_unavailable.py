"""A database that is saturated or unreachable answers 503 with Retry-After, never a 500.

Busy is a normal condition under load: every pooled connection in use past DB_POOL_TIMEOUT, the
server at max_connections, SQLite's writer lock held past its timeout. The client should come
back shortly, so the answer says when; anything else the database raises stays a 500 (a bug).
"""

from __future__ import annotations

import logging
import sqlite3

from django.db import OperationalError
from django.http import JsonResponse
from django.utils.deprecation import MiddlewareMixin

from api.problems import CONTENT_TYPE, problem

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 2
# SQLSTATE classes and codes that mean "not now" rather than "wrong": connection exceptions,
# insufficient resources (53300 too_many_connections), the server starting or shutting down.
_BUSY_SQLSTATE_CLASSES = ("08", "53")
_BUSY_SQLSTATES = {"57P01", "57P02", "57P03"}


def is_database_unavailable(exc: BaseException) -> bool:
    """True for Django's OperationalError caused by a busy or unreachable database."""
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    if isinstance(cause, sqlite3.OperationalError):
        return "database is locked" in str(cause)
    try:
        import psycopg
        from psycopg_pool import PoolTimeout
    except ImportError:  # pragma: no cover - psycopg is a dependency; SQLite-only installs
        return False
    if isinstance(cause, PoolTimeout):
        return True
    if isinstance(cause, psycopg.OperationalError):
        # A failed connect carries no SQLSTATE ("sorry, too many clients already" among them).
        state = cause.sqlstate
        return state is None or state.startswith(_BUSY_SQLSTATE_CLASSES) or state in _BUSY_SQLSTATES
    return False


class DatabaseUnavailableMiddleware(MiddlewareMixin):
    """Turns a busy database, raised anywhere in a view, into a 503 problem.

    MiddlewareMixin keeps it usable on both paths, so async views (SSE) stay async.
    """

    def process_exception(self, request, exception):
        if not is_database_unavailable(exception):
            return None
        logger.warning("database unavailable, answered 503: %s", exception)
        body = problem(
            503,
            "The service is busy; try again shortly.",
            code="database_unavailable",
        )
        response = JsonResponse(body, status=503, content_type=CONTENT_TYPE)
        response["Retry-After"] = str(RETRY_AFTER_S)
        return response
