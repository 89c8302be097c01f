"""A busy or unreachable database is a 503 problem with Retry-After; other database errors stay 500.

The errors are raised the way Django raises them (its OperationalError from the driver's); the
live version, against a PostgreSQL server at its connection limit, is
tests/integration/test_database_saturation.py.
"""

import sqlite3

import psycopg
import pytest
from django.db import OperationalError
from django.urls import path
from psycopg_pool import PoolTimeout
from rest_framework.test import APIClient
from rest_framework.views import APIView

from api.database_unavailable import is_database_unavailable
from config import urls as config_urls


def _django_error(cause: Exception) -> OperationalError:
    try:
        raise OperationalError(*cause.args) from cause
    except OperationalError as exc:
        return exc


POOL_EXHAUSTED = PoolTimeout("couldn't get a connection after 5.00 sec")
SERVER_FULL = psycopg.OperationalError("FATAL:  sorry, too many clients already")
SQLITE_LOCKED = sqlite3.OperationalError("database is locked")
NO_SUCH_TABLE = sqlite3.OperationalError("no such table: generations_generation")


@pytest.mark.parametrize("cause", [POOL_EXHAUSTED, SERVER_FULL, SQLITE_LOCKED])
def test_busy_and_unreachable_databases_count_as_unavailable(cause):
    assert is_database_unavailable(_django_error(cause))


@pytest.mark.parametrize(
    "error",
    [
        _django_error(NO_SUCH_TABLE),
        _django_error(psycopg.errors.UndefinedTable("relation does not exist")),
        RuntimeError("not a database error"),
    ],
)
def test_other_errors_do_not(error):
    assert not is_database_unavailable(error)


class _PoolExhaustedView(APIView):
    authentication_classes = ()
    permission_classes = ()

    def get(self, request):
        raise _django_error(POOL_EXHAUSTED)


def _server_full(request):
    raise _django_error(SERVER_FULL)


def _no_such_table(request):
    raise _django_error(NO_SUCH_TABLE)


urlpatterns = [
    path("drf", _PoolExhaustedView.as_view()),
    path("plain", _server_full),
    path("bug", _no_such_table),
    *config_urls.urlpatterns,
]
handler500 = config_urls.handler500


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("url", ["/drf", "/plain"])
def test_it_answers_503_with_retry_after_in_api_and_plain_views(settings, url, debug):
    settings.ROOT_URLCONF = __name__
    settings.DEBUG = debug
    response = APIClient(raise_request_exception=False).get(url)
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert int(response["Retry-After"]) > 0
    body = response.json()
    assert body["type"] == "urn:music-gateway:problem:database_unavailable"
    assert body["status"] == 503
    assert "too many clients" not in str(body)


def test_a_broken_query_is_still_a_500(settings):
    settings.ROOT_URLCONF = __name__
    settings.DEBUG = False
    response = APIClient(raise_request_exception=False).get("/bug")
    assert response.status_code == 500
