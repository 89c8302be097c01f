"""Disabling and re-enabling a webhook endpoint: what was held while it was off is sent again
on re-enable (within the 24 h window), with the same webhook-id, verified by `standardwebhooks`."""

# The webhook fixtures are shared with test_outbound_webhooks (imported, hence F811 on use).
# ruff: noqa: F811

from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from api.tokens import token_create
from generations import dispatch
from generations.models import DeliveryStatus, Status, WebhookDelivery, WebhookEndpoint
from tests.api.test_outbound_webhooks import (  # noqa: F401
    api,
    attempt,
    endpoint,
    finish,
    receiver,
    running,
)

pytestmark = pytest.mark.django_db


def deliver_sent(sent_messages) -> list[int]:
    """Attempt every delivery message sent so far (as the worker would), oldest first."""
    ids = [m.args[0] for m in sent_messages if m.actor_name == dispatch.DELIVER_WEBHOOK]
    sent_messages.clear()
    for delivery_id in ids:
        attempt(WebhookDelivery.objects.get(pk=delivery_id))
    return ids


@pytest.fixture
def tripped(endpoint, receiver, running, django_capture_on_commit_callbacks):
    """The endpoint disabled by the 100th failed attempt in a row (the production threshold)."""
    WebhookEndpoint.objects.filter(pk=endpoint["id"]).update(failure_streak=99)
    delivery = finish(running, django_capture_on_commit_callbacks)
    receiver.answers = [500]
    attempt(delivery)
    assert WebhookEndpoint.objects.get(pk=endpoint["id"]).disabled_at is not None
    delivery.refresh_from_db()
    return delivery


def test_a_delivery_given_up_because_the_endpoint_was_disabled_is_held(api, endpoint, tripped):
    assert tripped.status == DeliveryStatus.HELD
    rows = api.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries").json()
    assert [(r["status"], r["attempts"], r["response_status"]) for r in rows] == [("held", 1, 500)]
    shown = api.get(f"/api/v1/webhooks/{endpoint['id']}").json()
    assert shown["enabled"] is False and "100 failed attempts" in shown["disabled_reason"]


def test_re_enabling_sends_what_was_held_again_with_the_same_webhook_id(
    api,
    endpoint,
    receiver,
    tripped,
    alice,
    generation_factory,
    sent_messages,
    django_capture_on_commit_callbacks,
):
    first_id = receiver.received[0][0]["webhook-id"]
    # An event while it is off is held for it, not sent.
    later = generation_factory(owner=alice, status=Status.RUNNING, vendor_task_id="l")
    sent_messages.clear()
    held_later = finish(later, django_capture_on_commit_callbacks)
    assert held_later.status == DeliveryStatus.HELD
    assert [m for m in sent_messages if m.actor_name == dispatch.DELIVER_WEBHOOK] == []

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/webhooks/{endpoint['id']}/enable")
    assert response.status_code == 200, response.content
    assert response.json()["enabled"] is True and response.json()["disabled_at"] is None
    assert sorted(deliver_sent(sent_messages)) == sorted([tripped.pk, held_later.pk])

    again = {
        h["webhook-id"]: receiver.verified(endpoint["secret"], n)
        for n, (h, _) in enumerate(receiver.received)
        if n > 0
    }
    assert set(again) == {first_id, f"evt_{held_later.event_id}"}
    assert receiver.received[0][1] in [body for _, body in receiver.received[1:]]  # same body
    assert set(
        WebhookDelivery.objects.filter(pk__in=[tripped.pk, held_later.pk]).values_list(
            "status", flat=True
        )
    ) == {"succeeded"}
    assert WebhookEndpoint.objects.get(pk=endpoint["id"]).failure_streak == 0


def test_what_was_held_past_the_24_hour_window_is_not_sent_again(
    api, endpoint, tripped, sent_messages, django_capture_on_commit_callbacks
):
    WebhookDelivery.objects.filter(pk=tripped.pk).update(
        created_at=tripped.created_at - timedelta(hours=24, seconds=1)
    )
    sent_messages.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"/api/v1/webhooks/{endpoint['id']}/enable").status_code == 200
    assert deliver_sent(sent_messages) == []
    tripped.refresh_from_db()
    assert tripped.status == DeliveryStatus.FAILED and "24 h" in tripped.error


def test_the_owner_disables_it_and_nothing_is_sent_until_enabled(
    api, endpoint, receiver, running, sent_messages, django_capture_on_commit_callbacks
):
    pending = finish(running, django_capture_on_commit_callbacks)
    response = api.post(f"/api/v1/webhooks/{endpoint['id']}/disable")
    assert response.status_code == 200
    body = response.json()
    assert body["enabled"] is False and body["disabled_at"] and body["disabled_reason"]
    deliver_sent(sent_messages)  # the message sent before it was disabled runs now
    assert receiver.received == []
    pending.refresh_from_db()
    assert pending.status == DeliveryStatus.HELD
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/api/v1/webhooks/{endpoint['id']}/enable")
    assert deliver_sent(sent_messages) == [pending.pk]
    assert receiver.verified(endpoint["secret"])["id"] == f"evt_{pending.event_id}"


def test_disabling_twice_keeps_the_first_reason(api, endpoint, tripped):
    before = api.get(f"/api/v1/webhooks/{endpoint['id']}").json()
    after = api.post(f"/api/v1/webhooks/{endpoint['id']}/disable").json()
    assert (after["disabled_at"], after["disabled_reason"]) == (
        before["disabled_at"],
        before["disabled_reason"],
    )


def test_enabling_an_enabled_endpoint_changes_nothing(
    api, endpoint, sent_messages, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/webhooks/{endpoint['id']}/enable")
    assert response.status_code == 200 and response.json()["enabled"] is True
    assert deliver_sent(sent_messages) == []


def test_re_enabling_checks_the_url_against_the_rules_again(api, endpoint, tripped, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = []  # the operator no longer allows this loopback one
    response = api.post(f"/api/v1/webhooks/{endpoint['id']}/enable")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert "non-public" in response.json()["detail"] or "http" in response.json()["detail"]
    assert WebhookEndpoint.objects.get(pk=endpoint["id"]).disabled_at is not None


@pytest.mark.parametrize("verb", ["enable", "disable"])
def test_another_users_endpoint_is_404(endpoint, bob, verb):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_create(user=bob, name='b').secret}")
    response = client.post(f"/api/v1/webhooks/{endpoint['id']}/{verb}")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert WebhookEndpoint.objects.get(pk=endpoint["id"]).disabled_at is None
