"""Every error is an RFC 9457 problem: no HTML page, no stack trace."""

import pytest
from django.urls import path
from rest_framework.test import APIClient

from config import urls as config_urls

pytestmark = pytest.mark.django_db

URL = "/api/v1/generations"


def _assert_problem(response, status):
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["type"]
    return body


def test_an_unknown_url_is_a_404_problem(alice_client):
    _assert_problem(alice_client.get("/api/v1/nothing-here"), 404)
    _assert_problem(APIClient().get("/nowhere"), 404)


def test_a_wrong_method_is_a_405_problem(alice_client):
    _assert_problem(alice_client.put(URL, {}, format="json"), 405)


def test_malformed_json_is_a_400_problem(alice_client):
    response = alice_client.post(URL, data="{not json", content_type="application/json")
    assert "JSON" in _assert_problem(response, 400)["detail"]


def test_a_json_array_body_is_a_400_problem(alice_client):
    response = alice_client.post(URL, data="[1, 2]", content_type="application/json")
    _assert_problem(response, 400)


def test_a_wrong_content_type_is_a_415_problem(alice_client):
    response = alice_client.post(URL, data="description=x", content_type="text/plain")
    _assert_problem(response, 415)


def test_a_form_body_is_a_415_problem(alice_client):
    _assert_problem(alice_client.post(URL, {"description": "x"}), 415)


def test_a_body_over_the_limit_is_a_413_problem(alice_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"description": "' + "x" * 2000 + '"}'
    response = alice_client.post(URL, data=body, content_type="application/json")
    _assert_problem(response, 413)


def test_validation_problems_name_each_field(alice_client):
    body = _assert_problem(alice_client.post(URL, {"mode": "x"}, format="json"), 400)
    assert body["type"].endswith(":validation")
    assert "mode" in body["errors"]
    assert body["detail"].startswith("mode:")


def _boom(request):
    raise RuntimeError("secret internals")


urlpatterns = [path("boom", _boom), *config_urls.urlpatterns]
handler500 = config_urls.handler500


def test_an_unexpected_error_is_a_500_problem_without_a_trace(settings):
    settings.ROOT_URLCONF = __name__
    settings.DEBUG = False
    client = APIClient(raise_request_exception=False)
    body = _assert_problem(client.get("/boom"), 500)
    assert "secret internals" not in str(body)
