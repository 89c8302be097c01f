"""While Redis restarts (the chaos run kills it and starts it empty), the API keeps answering:
Redis only holds counters and replay marks, the truth (generations, quota, ledger) is in the
database. The per-minute create counter and the read throttle let requests through, and a vendor
webhook still triggers its poll, instead of a 500 for every request that touches the cache.

The cache points at a unix socket that does not exist: the same refused connection redis-py
raises while the chaos run's Redis is down.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from django.core.cache import cache
from django.utils import timezone

from generations import dispatch, lifecycle
from generations.models import Generation, Status
from tests.api.test_webhooks import deliver

pytestmark = pytest.mark.django_db

URL = "/api/v1/generations"


@pytest.fixture
def redis_down(settings, tmp_path):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"unix://{tmp_path / 'gone.sock'}",
            "KEY_PREFIX": "mg",
        }
    }
    with pytest.raises(redis.ConnectionError):
        cache.get("anything")  # the precondition: every cache call is refused


def test_a_create_is_accepted_without_its_rate_counter(alice_client, redis_down, sent_messages):
    response = alice_client.post(URL, {"description": "calm piano"}, format="json")
    assert response.status_code == 202, response.content
    assert Generation.objects.get(pk=response.json()["id"]).status == Status.QUEUED
    # The quota part of the headers is still exact (the database); the per-minute count is not.
    assert '"credits";r=' in response["RateLimit"]
    assert '"creates"' not in response["RateLimit"]


def test_reads_are_answered_without_the_throttle(alice_client, redis_down, settings):
    settings.READ_RATE = "2/min"
    statuses = [alice_client.get("/api/v1/me").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]


def test_a_webhook_still_triggers_its_poll(
    client, alice, generation_factory, settings, redis_down, sent_messages
):
    settings.PUBLIC_BASE_URL = "https://gateway.test"
    running = generation_factory(
        owner=alice, status=Status.RUNNING, vendor_task_id="t1", poll_seq=2, webhook_secret="s3cret"
    )
    response, _ = deliver(client, running)
    assert response.status_code == 204, response.content
    polls = [m for m in sent_messages if m.actor_name == dispatch.POLL_GENERATION]
    assert [m.args for m in polls] == [(str(running.pk), 3)]


def test_a_webhook_while_the_broker_restarts_leaves_its_poll_to_the_reconciler(
    client, alice, generation_factory, settings, broker, sent_messages, monkeypatch
):
    """On the embedded shape Redis is also the broker: the poll cannot be sent. The delivery is
    still accepted (the vendor's job is done) and the poll, now due, is the reconciler's."""
    settings.PUBLIC_BASE_URL = "https://gateway.test"
    running = generation_factory(
        owner=alice, status=Status.RUNNING, vendor_task_id="t1", poll_seq=2, webhook_secret="s3cret"
    )

    def unreachable(message, *, delay=None):
        raise redis.ConnectionError("Connection refused")

    monkeypatch.setattr(broker, "enqueue", unreachable)
    response, _ = deliver(client, running)
    assert response.status_code == 204, response.content
    assert sent_messages == []

    monkeypatch.undo()  # the broker is back
    Generation.objects.filter(pk=running.pk).update(
        next_check_at=timezone.now() - timedelta(minutes=5)
    )
    assert lifecycle.generations_reconcile(grace_s=60).repolled == 1
    polls = [m for m in sent_messages if m.actor_name == dispatch.POLL_GENERATION]
    assert [m.args[0] for m in polls] == [str(running.pk)]
