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


def test_a_missing_token_is_not_named_by_its_model(alice_client):
    """Issue 17 (11): a 404 said "No ApiToken matches the given query." (an internal name)."""
    response = alice_client.delete("/api/v1/tokens/999999")
    assert response.status_code == 404
    assert "ApiToken" not in response.content.decode()
    assert response.json()["detail"] == "Not found."


def test_me_says_which_models_and_operations_an_unrestricted_plan_allows(alice_client, settings):
    """Issue 17 (11): /me showed `allowed_models: []` without saying that empty means all."""
    plan = alice_client.get("/api/v1/me").json()["plan"]
    assert plan["allowed_models"] == settings.MUSIC_MODELS
    assert plan["allowed_operations"] == [
        "create",
        "extend",
        "cover",
        "concat",
        "persona_music",
        "upload",
    ]


def test_an_extend_without_a_description_is_told_what_to_send(alice_client, alice):
    """Issue 17 (11): the error spoke of a "description mode" the client never chose."""
    response = alice_client.post(
        "/api/v1/generations",
        {
            "operation": "extend",
            "source_clip": "00000000-0000-0000-0000-000000000000",
            "continue_at": 10,
        },
        format="json",
    )
    assert response.status_code == 400
    (message,) = response.json()["errors"]["description"]
    assert message == (
        "Required: describe what the extend should sound like, "
        "or send mode custom with lyrics and tags."
    )
