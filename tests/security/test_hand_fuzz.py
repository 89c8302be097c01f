"""The hand-fuzz corpus: every input found by hand that once answered 500 (findings 6-9 of the
security review), plus what schemathesis cannot generate. Each must be a 4xx problem."""

from __future__ import annotations

import base64

import pytest

pytestmark = pytest.mark.django_db

DEEP = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000


def _cursor(raw: str) -> str:
    return base64.b64encode(raw.encode()).decode()


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


@pytest.mark.parametrize("path", ["/api/v1/generations", "/api/v1/tokens"])
@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["array", "object"])
def test_json_nested_1000_deep_is_400(alice_client, path, body):
    response = alice_client.post(path, data=body, content_type="application/json")
    assert "nest" in assert_problem(response, 400)["detail"]


def test_json_within_the_depth_cap_still_parses(alice_client, settings):
    body = '{"name": "t", "expires_at": null}'
    response = alice_client.post("/api/v1/tokens", data=body, content_type="application/json")
    assert response.status_code == 201
    settings.MAX_JSON_DEPTH = 2
    response = alice_client.post(
        "/api/v1/tokens", data='{"name": [[["x"]]]}', content_type="application/json"
    )
    assert_problem(response, 400)


def test_brackets_inside_strings_do_not_count(alice_client):
    name = '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\"{{{{{{{{{{{{{{{{{{{{{{{{{{{'
    response = alice_client.post(
        "/api/v1/tokens", data=f'{{"name": "{name}"}}', content_type="application/json"
    )
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    "query",
    [
        {"created_after": "9999-12-31T23:59:59-14:00"},
        {"created_before": "9999-12-31T23:59:59-14:00"},
        {"created_after": "0001-01-01T00:00:00+14:00"},
        {"page_size": "null"},
        {"page_size": "0"},
        {"page_size": "-1"},
        {"page_size": "101"},
        {"page_size": "9" * 5000},
    ],
)
def test_bad_list_parameters_are_400(alice_client, query):
    assert_problem(alice_client.get("/api/v1/generations", query), 400)


@pytest.mark.parametrize(
    "cursor", [_cursor("p=notadate"), _cursor("o=1&r=1&p=2026-13-45"), "not base64 at all!"]
)
def test_forged_cursors_name_no_page(alice_client, cursor):
    assert_problem(alice_client.get("/api/v1/generations", {"cursor": cursor}), 404)


@pytest.mark.parametrize("path", ["/api/v1/generations", "/api/v1/jobs", "/api/v1/personas"])
@pytest.mark.parametrize(
    "cursor",
    ["\x00", "", "=", "====", _cursor(""), _cursor("x=1"), _cursor("o=0"), _cursor("o=1") + "\x00"],
    ids=["nul", "empty", "pad", "pads", "empty-query", "unknown-key", "zero-offset", "tail-nul"],
)
def test_a_cursor_we_never_gave_out_is_404_on_every_list(alice_client, path, cursor):
    """A cursor that decodes to no position (`%00` base64-decodes to nothing) was page 1."""
    assert_problem(alice_client.get(path, {"cursor": cursor}), 404)


def test_genuine_cursors_page_forward_and_back(alice_client, alice, generation_factory):
    generation_factory.create_batch(5, owner=alice)
    first = alice_client.get("/api/v1/generations", {"page_size": 2}).json()
    second = alice_client.get(first["next"]).json()
    third = alice_client.get(second["next"]).json()
    back = alice_client.get(third["previous"])
    assert back.status_code == 200 and back.json()["results"] == second["results"]
    assert alice_client.get(second["previous"]).json()["results"] == first["results"]


def test_a_genuine_cursor_still_pages(alice_client, alice, generation_factory):
    generation_factory.create_batch(3, owner=alice)
    first = alice_client.get("/api/v1/generations", {"page_size": 2}).json()
    second = alice_client.get(first["next"])
    assert second.status_code == 200 and len(second.json()["results"]) == 1
