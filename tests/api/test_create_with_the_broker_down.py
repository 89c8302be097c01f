"""A create while the broker is unreachable (a RabbitMQ or Redis restart): the generation is
committed before the message is sent, so the client gets its 202 and the reconciler sends the
submission once the broker is back, instead of a 500 for a generation that exists."""

from __future__ import annotations

from datetime import timedelta

import dramatiq
import pytest
import redis
from django.utils import timezone

from generations import dispatch, lifecycle
from generations.models import Generation, Status

pytestmark = pytest.mark.django_db

URL = "/api/v1/generations"


@pytest.fixture(
    params=[
        dramatiq.errors.ConnectionClosed("RabbitMQ is restarting"),  # what RabbitmqBroker raises
        redis.ConnectionError("Connection refused"),  # what RedisBroker lets through
    ],
    ids=["rabbitmq", "redis"],
)
def broker_down(broker, request, monkeypatch):
    """Every enqueue fails as the broker's client does while the server restarts."""

    def unreachable(message, *, delay=None):
        raise request.param

    monkeypatch.setattr(broker, "enqueue", unreachable)
    return monkeypatch


def test_the_create_is_accepted_and_the_reconciler_sends_it_later(
    alice_client, broker_down, broker, sent_messages, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(URL, {"description": "calm piano"}, format="json")
    assert response.status_code == 202, response.content
    generation = Generation.objects.get(pk=response.json()["id"])
    assert generation.status == Status.QUEUED
    assert sent_messages == []

    broker_down.undo()  # the broker is back
    Generation.objects.filter(pk=generation.pk).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    assert lifecycle.generations_reconcile(grace_s=60).resubmitted == 1
    assert [(m.actor_name, m.args) for m in sent_messages] == [
        (dispatch.SUBMIT_GENERATION, (str(generation.pk),))
    ]
