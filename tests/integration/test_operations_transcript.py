"""bench.operations against the whole service as processes: every user operation finishes,
and the transcript shows each request as a curl command line with its answer."""

from __future__ import annotations

import io
import re

import pytest

from bench import operations
from tests.stack import Stack

pytestmark = pytest.mark.integration


def test_every_operation_succeeds_and_is_transcribed():
    # PUBLIC_BASE_URL (webhooks=True): the simulator fetches uploads from the service.
    env = {"DEFAULT_PLAN_CREATES_PER_MINUTE": "30"}
    with Stack(ready_after_s=1.0, webhooks=True, env=env) as stack:
        out, token = io.StringIO(), stack.token()
        client = operations.Client(base=stack.base, token=token, out=out, timeout_s=60)
        outcomes = operations.run(client)
    transcript = out.getvalue()
    assert [(o.name, o.status) for o in outcomes] == [
        (name, "succeeded") for name, _ in operations.OPERATIONS + operations.UPLOAD_OPERATIONS
    ], transcript[-3000:]
    posts = re.findall(r"^\$ curl -sS -i -X POST '?(\S+?)'? ", transcript, re.MULTILINE)
    paths = [re.sub(r"^https?://[^/]+", "", url) for url in posts]
    # create, extend, concat, cover, sung, cover of the upload
    assert paths.count("/api/v1/generations") == 6
    assert "-F file=@hum.wav -F title=humming" in transcript
    assert {"/api/v1/personas", "/api/v1/lyrics", "/api/v1/uploads"} <= set(paths)
    assert '-H "Authorization: Bearer $TOKEN"' in transcript
    assert token not in transcript
