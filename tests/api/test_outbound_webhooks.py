"""Outbound webhooks to the user's endpoint, verified by an independent implementation of the
Standard Webhooks spec (the `standardwebhooks` package) on a real HTTP receiver on loopback."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction
from rest_framework.test import APIClient
from standardwebhooks import Webhook

from api.tokens import token_create
from generations import dispatch, lifecycle, outbound, states
from generations.models import (
    DeliveryStatus,
    Event,
    Status,
    WebhookDelivery,
    WebhookEndpoint,
)
from workers.webhooks import WebhookPoster

pytestmark = pytest.mark.django_db


class Receiver:
    """A webhook receiver: records each request and answers the next status queued (200)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers.items()), body))
                self.send_response(receiver.answers.pop(0) if receiver.answers else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def verified(self, secret: str, n: int = -1) -> dict:
        """The n-th delivery's payload, verified by `standardwebhooks` (raises if it is not)."""
        headers, body = self.received[n]
        lowered = {k.lower(): v for k, v in headers.items()}
        return Webhook(secret).verify(body, lowered)


@pytest.fixture
def receiver(settings):
    receiver = Receiver()
    settings.WEBHOOK_ALLOWED_HOSTS = [receiver.url]  # the operator allows this loopback one
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def api(alice):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_create(user=alice, name='t').secret}")
    return client


@pytest.fixture
def endpoint(api, receiver) -> dict:
    response = api.post("/api/v1/webhooks", {"url": f"{receiver.url}/hooks"}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.fixture
def running(alice, generation_factory):
    return generation_factory(owner=alice, status=Status.RUNNING, vendor_task_id="t")


def finish(generation, django_capture_on_commit_callbacks, to=Status.SUCCEEDED):
    with django_capture_on_commit_callbacks(execute=True):
        states.transition(generation_id=generation.pk, expected=Status.RUNNING, to=to)
    return WebhookDelivery.objects.get(event__generation=generation, event__type=f"generation.{to}")


def attempt(delivery) -> None:
    outbound.delivery_attempt(delivery_id=delivery.pk, post=WebhookPoster())


def test_registering_shows_the_secret_once(api, endpoint):
    assert endpoint["secret"].startswith("whsec_")
    listed = api.get("/api/v1/webhooks").json()
    assert [e["id"] for e in listed] == [endpoint["id"]]
    assert "secret" not in listed[0]
    assert "secret" not in api.get(f"/api/v1/webhooks/{endpoint['id']}").json()


def test_a_change_is_delivered_signed_and_verifies_with_standardwebhooks(
    endpoint, receiver, running, sent_messages, django_capture_on_commit_callbacks
):
    delivery = finish(running, django_capture_on_commit_callbacks)
    sent = [m for m in sent_messages if m.actor_name == dispatch.DELIVER_WEBHOOK]
    assert [m.args for m in sent] == [(delivery.pk,)]
    attempt(delivery)
    payload = receiver.verified(endpoint["secret"])
    event = Event.objects.get(pk=delivery.event_id)
    headers = {k.lower(): v for k, v in receiver.received[-1][0].items()}
    assert headers["webhook-id"] == payload["id"] == event.public_id
    assert payload["type"] == "generation.succeeded"
    assert payload["data"]["id"] == str(running.pk)
    assert payload["data"]["status"] == "succeeded"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("succeeded", 1, 200)


def test_a_wrong_secret_does_not_verify(
    endpoint, receiver, running, django_capture_on_commit_callbacks
):
    attempt(finish(running, django_capture_on_commit_callbacks))
    with pytest.raises(Exception, match=r"(?i)signature"):
        receiver.verified(outbound.secret_new())


def test_the_delivery_row_commits_with_the_change_or_not_at_all(endpoint, running):
    with pytest.raises(RuntimeError), transaction.atomic():
        states.transition(generation_id=running.pk, expected=Status.RUNNING, to=Status.FAILED)
        assert WebhookDelivery.objects.count() == 1  # written in the change's transaction
        raise RuntimeError("the worker dies before commit")
    assert WebhookDelivery.objects.count() == 0
    assert Event.objects.filter(generation=running).count() == 0


def test_a_5xx_is_retried_later_with_the_same_id_and_body(
    endpoint, receiver, running, sent_messages, django_capture_on_commit_callbacks
):
    delivery = finish(running, django_capture_on_commit_callbacks)
    receiver.answers = [503]
    with django_capture_on_commit_callbacks(execute=True):
        attempt(delivery)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("pending", 1, 503)
    retry = [m for m in sent_messages if m.actor_name == dispatch.DELIVER_WEBHOOK][-1]
    assert retry.args == (delivery.pk,)
    assert retry.options["eta"] - retry.message_timestamp == 5000  # the first backoff: 5 s
    attempt(delivery)
    first, second = receiver.received
    assert first[1] == second[1]
    assert first[0]["webhook-id"] == second[0]["webhook-id"]
    assert receiver.verified(endpoint["secret"])["type"] == "generation.succeeded"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)


def test_an_unreachable_receiver_is_retried_not_raised(
    api, running, settings, sent_messages, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_ALLOWED_HOSTS = ["http://127.0.0.1:9"]  # nothing listens on discard
    created = api.post("/api/v1/webhooks", {"url": "http://127.0.0.1:9/x"}, format="json")
    assert created.status_code == 201
    delivery = finish(running, django_capture_on_commit_callbacks)
    attempt(delivery)
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 1 and delivery.error


def test_after_24_hours_of_failures_the_delivery_fails_for_good(
    endpoint, receiver, running, sent_messages, django_capture_on_commit_callbacks
):
    delivery = finish(running, django_capture_on_commit_callbacks)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        created_at=delivery.created_at - timedelta(hours=23, minutes=59, seconds=58), attempts=6
    )
    receiver.answers = [500]
    sent_messages.clear()
    with django_capture_on_commit_callbacks(execute=True):
        attempt(delivery)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 7)
    assert [m for m in sent_messages if m.actor_name == dispatch.DELIVER_WEBHOOK] == []


def test_a_long_run_of_failures_disables_the_endpoint(
    endpoint, receiver, running, settings, django_capture_on_commit_callbacks
):
    """At the production threshold: the 100th failed attempt in a row disables it."""
    assert settings.WEBHOOK_DISABLE_AFTER_FAILURES == 100
    WebhookEndpoint.objects.filter(pk=endpoint["id"]).update(failure_streak=99)
    delivery = finish(running, django_capture_on_commit_callbacks)
    receiver.answers = [500]
    attempt(delivery)
    stored = WebhookEndpoint.objects.get(pk=endpoint["id"])
    assert stored.disabled_at is not None and "100 failed attempts" in stored.disabled_reason
    delivery.refresh_from_db()
    assert delivery.status == "held"  # sent again if the endpoint is re-enabled in time


def test_the_deliveries_list_shows_each_attempt(
    api, endpoint, receiver, running, django_capture_on_commit_callbacks
):
    delivery = finish(running, django_capture_on_commit_callbacks)
    receiver.answers = [500]
    attempt(delivery)
    rows = api.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries").json()
    assert [
        (r["event_id"], r["type"], r["status"], r["attempts"], r["response_status"]) for r in rows
    ] == [(f"evt_{delivery.event_id}", "generation.succeeded", "pending", 1, 500)]


def test_a_rotated_secret_signs_from_now_on(
    api, endpoint, receiver, running, django_capture_on_commit_callbacks
):
    rotated = api.post(f"/api/v1/webhooks/{endpoint['id']}/rotate-secret").json()
    assert rotated["secret"] != endpoint["secret"]
    attempt(finish(running, django_capture_on_commit_callbacks))
    assert receiver.verified(rotated["secret"])["type"] == "generation.succeeded"
    with pytest.raises(Exception, match=r"(?i)signature"):
        receiver.verified(endpoint["secret"])


def test_an_event_filter_sends_only_those_types(
    api, receiver, running, django_capture_on_commit_callbacks
):
    api.post(
        "/api/v1/webhooks",
        {"url": f"{receiver.url}/only-failures", "events": ["generation.failed"]},
        format="json",
    )
    with django_capture_on_commit_callbacks(execute=True):
        states.transition(generation_id=running.pk, expected=Status.RUNNING, to=Status.SUCCEEDED)
    assert WebhookDelivery.objects.count() == 0


def test_a_deleted_endpoint_gets_nothing_more(
    api, endpoint, receiver, running, django_capture_on_commit_callbacks
):
    delivery = finish(running, django_capture_on_commit_callbacks)
    assert api.delete(f"/api/v1/webhooks/{endpoint['id']}").status_code == 204
    attempt(delivery)
    assert receiver.received == []


def test_another_users_endpoint_is_404(endpoint, bob):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_create(user=bob, name='b').secret}")
    assert client.get(f"/api/v1/webhooks/{endpoint['id']}").status_code == 404
    assert client.delete(f"/api/v1/webhooks/{endpoint['id']}").status_code == 404


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://example.com/hook", "plain http"),
        ("https://127.0.0.1/hook", "non-public"),
        ("https://10.1.2.3/hook", "non-public"),
        ("https://[::1]/hook", "non-public"),
        ("https://example.com/" + "a" * 2000, "2000"),
    ],
)
def test_a_url_that_breaks_a_rule_is_400_naming_it(api, url, rule):
    response = api.post("/api/v1/webhooks", {"url": url}, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert rule in json.dumps(response.json()).replace(",", "")


def test_a_host_that_does_not_resolve_yet_is_registered_and_checked_at_delivery(api):
    """Registration does not hang on DNS (`.invalid` never resolves, RFC 6761): the rules on
    addresses hold at each delivery's connect, where a refusal is the attempt's reason."""
    response = api.post("/api/v1/webhooks", {"url": "https://hooks.invalid/music"}, format="json")
    assert response.status_code == 201, response.content


def test_an_unknown_event_type_is_400(api, receiver):
    response = api.post(
        "/api/v1/webhooks", {"url": f"{receiver.url}/x", "events": ["song.done"]}, format="json"
    )
    assert response.status_code == 400


def test_a_lost_message_is_resent_by_the_reconciler(
    endpoint, running, sent_messages, django_capture_on_commit_callbacks
):
    delivery = finish(running, django_capture_on_commit_callbacks)
    sent_messages.clear()  # as if the broker lost it
    assert outbound.deliveries_reconcile() == 0  # not overdue yet
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=delivery.next_attempt_at - timedelta(minutes=5)
    )
    assert outbound.deliveries_reconcile() == 1
    assert [m.args for m in sent_messages if m.actor_name == dispatch.DELIVER_WEBHOOK] == [
        (delivery.pk,)
    ]
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.PENDING


def test_clip_events_are_delivered_naming_the_clip_with_the_log_id(
    api,
    receiver,
    alice,
    generation_factory,
    upstream,
    simulator,
    django_capture_on_commit_callbacks,
):
    created = api.post(
        "/api/v1/webhooks",
        {"url": f"{receiver.url}/clips", "events": ["clip.succeeded", "clip.failed"]},
        format="json",
    ).json()
    generation = generation_factory(owner=alice, description="[sim:clip-failed] x")
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.generation_submit(generation_id=generation.pk, upstream=upstream)
    time.sleep(simulator.ready_after_s + 0.05)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.generation_poll(generation_id=generation.pk, seq=1, upstream=upstream)
    for delivery in WebhookDelivery.objects.order_by("pk"):
        attempt(delivery)
    payloads = [receiver.verified(created["secret"], n) for n in range(len(receiver.received))]
    logged = Event.objects.filter(generation=generation, type__startswith="clip.")
    assert sorted((p["id"], p["type"], p["clip"]) for p in payloads) == sorted(
        (e.public_id, e.type, str(e.clip_id)) for e in logged.exclude(type="clip.streaming")
    )
    assert {p["type"] for p in payloads} == {"clip.succeeded", "clip.failed"}
