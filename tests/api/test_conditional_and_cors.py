import pytest

pytestmark = pytest.mark.django_db


def test_generation_reads_carry_an_etag_and_answer_304(alice, alice_client, generation_factory):
    generation = generation_factory(owner=alice)
    first = alice_client.get(f"/api/v1/generations/{generation.pk}")
    etag = first["ETag"]
    assert etag
    again = alice_client.get(f"/api/v1/generations/{generation.pk}", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    type(generation).objects.filter(pk=generation.pk).update(status="running")
    changed = alice_client.get(f"/api/v1/generations/{generation.pk}", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200


def test_clip_reads_carry_an_etag(alice, alice_client, clip_factory):
    clip = clip_factory(generation__owner=alice)
    etag = alice_client.get(f"/api/v1/clips/{clip.pk}")["ETag"]
    assert alice_client.get(f"/api/v1/clips/{clip.pk}", HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_a_preflight_from_an_allowed_origin_is_answered(client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example"]
    response = client.options(
        "/api/v1/generations",
        HTTP_ORIGIN="https://app.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, idempotency-key",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://app.example"
    allowed = response["Access-Control-Allow-Headers"]
    assert {"authorization", "content-type", "idempotency-key"} <= set(allowed.split(", "))


def test_an_unknown_origin_gets_no_cors_headers(client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example"]
    response = client.options(
        "/api/v1/generations",
        HTTP_ORIGIN="https://evil.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
    )
    assert "Access-Control-Allow-Origin" not in response


def test_clients_can_read_the_headers_they_need(alice_client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example"]
    response = alice_client.get("/api/v1/me", HTTP_ORIGIN="https://app.example")
    exposed = response["Access-Control-Expose-Headers"].lower()
    assert {"location", "etag", "retry-after", "ratelimit", "ratelimit-policy"} <= set(
        exposed.split(", ")
    )
