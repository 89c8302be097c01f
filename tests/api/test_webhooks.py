import json
import time

import pytest

from generations import dispatch
from generations.models import Status
from workers.musicapi.simulator.app import sign_webhook

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(alice, generation_factory, settings):
    settings.PUBLIC_BASE_URL = "https://gateway.test"
    return generation_factory(
        owner=alice, status=Status.RUNNING, vendor_task_id="t1", poll_seq=2, webhook_secret="s3cret"
    )


def deliver(client, generation, *, secret="s3cret", timestamp=None, body=None, headers=None):
    raw = json.dumps(body or {"code": 200, "data": [], "event": "song.completed"}).encode()
    signed = sign_webhook(raw, secret, timestamp=timestamp)
    signed.update(headers or {})
    extra = {
        f"HTTP_{k.upper().replace('-', '_')}": v for k, v in signed.items() if k != "Content-Type"
    }
    response = client.post(
        f"/api/v1/hooks/musicapi/{generation.pk}",
        data=raw,
        content_type="application/json",
        **extra,
    )
    return response, signed


def test_a_signed_delivery_triggers_an_immediate_poll(client, running, sent_messages):
    response, _ = deliver(client, running)
    assert response.status_code == 204
    polls = [m for m in sent_messages if m.actor_name == dispatch.POLL_GENERATION]
    # A new chain (seq 3) that supersedes the poll already scheduled with seq 2.
    assert [(m.args, m.options.get("eta")) for m in polls] == [((str(running.pk), 3), None)]
    running.refresh_from_db()
    assert running.poll_seq == 3


def test_a_bad_signature_is_rejected(client, running, sent_messages):
    response, _ = deliver(client, running, secret="wrong")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert sent_messages == []


def test_a_tampered_body_is_rejected(client, running, sent_messages):
    raw = b'{"event": "song.completed"}'
    signed = sign_webhook(raw, "s3cret")
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in signed.items()}
    response = client.post(
        f"/api/v1/hooks/musicapi/{running.pk}",
        data=b'{"event": "song.failed"}',
        content_type="application/json",
        **extra,
    )
    assert response.status_code == 401


@pytest.mark.parametrize("skew_s", [-3600, 3600])
def test_a_stale_or_future_timestamp_is_rejected(client, running, sent_messages, skew_s):
    response, _ = deliver(client, running, timestamp=int(time.time()) + skew_s)
    assert response.status_code == 401
    assert "too old" in response.json()["detail"]


def test_a_replay_is_rejected(client, running, sent_messages):
    first, signed = deliver(client, running)
    replay, _ = deliver(client, running, headers={"X-Webhook-Id": signed["X-Webhook-Id"]})
    assert (first.status_code, replay.status_code) == (204, 409)
    assert len(sent_messages) == 1


def test_no_webhooks_without_a_public_base_url(client, running, settings):
    settings.PUBLIC_BASE_URL = ""
    response, _ = deliver(client, running)
    assert response.status_code == 404


def test_a_generation_without_a_secret_accepts_nothing(client, running, sent_messages):
    type(running).objects.filter(pk=running.pk).update(webhook_secret="")
    response, _ = deliver(client, running, secret="")
    assert response.status_code == 401


def test_a_signed_delivery_resent_with_new_ids_is_a_replay(client, running, sent_messages):
    """The id is not covered by the HMAC: only what is signed decides what is new."""
    raw = json.dumps({"code": 200, "data": [], "event": "song.completed"}).encode()
    signed = sign_webhook(raw, "s3cret")
    answers = []
    for n in range(3):
        headers = {**signed, "X-Webhook-Id": f"forged-{n}"}
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
        answers.append(
            client.post(
                f"/api/v1/hooks/musicapi/{running.pk}",
                data=raw,
                content_type="application/json",
                **extra,
            ).status_code
        )
    assert answers == [204, 409, 409]
    assert len(sent_messages) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Webhook-Timestamp": "9" * 400},
        {"X-Webhook-Timestamp": "1" * 5000},
        {"X-Webhook-Timestamp": "-1"},
        {"X-Webhook-Timestamp": " 1700000000"},
        {"X-Webhook-Signature": "sha256=é"},
        {"X-Webhook-Signature": "sha256=\u2603" * 10},
    ],
    ids=["400-digits", "5000-digits", "negative", "space", "non-ascii", "snowmen"],
)
def test_malformed_signature_headers_are_401(client, running, sent_messages, headers):
    response, _ = deliver(client, running, headers=headers)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert sent_messages == []
