"""Finding 9: bodies are bounded before authentication and before they are read (ASGI)."""

from __future__ import annotations

import itertools
import json

import pytest

from api.tokens import token_create
from config.asgi import application
from tests.security.asgi import call

LIMIT = 64 * 1024


def test_a_huge_content_length_is_413_before_one_byte_is_read(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT
    offered = itertools.repeat(b"x" * 65536, 64)  # the first 4 MB of the declared 200 MB
    answer = call(
        application,
        "POST",
        "/api/v1/tokens",
        headers=[("content-type", "application/json"), ("content-length", str(200 * 2**20))],
        chunks=offered,
    )
    assert answer.status == 413
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["status"] == 413
    assert answer.bytes_read == 0


def test_a_chunked_body_is_read_only_up_to_the_cap(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT
    answer = call(
        application,
        "POST",
        "/api/v1/generations",
        headers=[("content-type", "application/json"), ("transfer-encoding", "chunked")],
        chunks=itertools.repeat(b"x" * 8192, 512),  # 4 MB
    )
    assert answer.status == 413
    assert answer.json()["detail"] == f"The body must be at most {LIMIT} bytes."
    assert answer.bytes_read <= LIMIT + 8192


@pytest.mark.parametrize("length", ["12x", "-1", "1" * 30])
def test_a_malformed_content_length_is_400(length):
    answer = call(application, "POST", "/api/v1/tokens", headers=[("content-length", length)])
    assert answer.status == 400
    assert answer.bytes_read == 0


@pytest.mark.django_db(transaction=True)
def test_a_chunked_json_body_is_read(alice):
    secret = token_create(user=alice, name="t").secret
    body = json.dumps({"name": "from chunks"}).encode()
    answer = call(
        application,
        "POST",
        "/api/v1/tokens",
        headers=[
            ("authorization", f"Bearer {secret}"),
            ("content-type", "application/json"),
            ("transfer-encoding", "chunked"),
        ],
        chunks=[body[:5], body[5:], b""],
    )
    assert answer.status == 201, answer.body
    assert answer.json()["name"] == "from chunks"
