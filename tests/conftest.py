"""Shared fixtures: named users (alice, bob) with API clients, and the real broker."""

from __future__ import annotations

import dramatiq
import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from api.tokens import token_create
from generations import dispatch
from tests.factories import ClipFactory, GenerationFactory
from workers.musicapi.client import MusicApiClient
from workers.musicapi.simulator import Simulator
from workers.musicapi.simulator.server import start_in_thread
from workers.upstream import MusicApiUpstream

SIMULATOR_KEY = "test-key-0123456789"


class RecordingMiddleware(dramatiq.Middleware):
    """Notes each message the real broker accepted."""

    def __init__(self) -> None:
        self.messages: list[dramatiq.Message] = []

    def after_enqueue(self, broker, message, delay):
        self.messages.append(message)


@pytest.fixture
def broker():
    """The configured broker (real Redis), emptied after the test."""
    broker = dramatiq.get_broker()
    for queue in dispatch.QUEUES:  # flush_all empties declared queues only
        broker.declare_queue(queue)
    broker.flush_all()
    yield broker
    broker.flush_all()


@pytest.fixture
def sent_messages(broker):
    recorder = RecordingMiddleware()
    broker.add_middleware(recorder)
    yield recorder.messages
    broker.middleware.remove(recorder)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate counters and webhook ids live in Redis; each test starts without them."""
    from django.core.cache import cache

    cache.clear()


def _user(username: str):
    return get_user_model().objects.create_user(username=username)


@pytest.fixture
def alice(db):
    return _user("alice")


@pytest.fixture
def bob(db):
    return _user("bob")


def _client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_create(user=user, name='t').secret}")
    return client


@pytest.fixture
def alice_client(alice) -> APIClient:
    return _client_for(alice)


@pytest.fixture
def bob_client(bob) -> APIClient:
    return _client_for(bob)


@pytest.fixture
def generation_factory():
    return GenerationFactory


@pytest.fixture
def clip_factory():
    return ClipFactory


@pytest.fixture
def simulator():
    """The vendor simulator on a free loopback port; tasks are ready after 0.4 s."""
    sim = Simulator(key=SIMULATOR_KEY, ready_after_s=0.4, clip_duration_s=3.0)
    server = start_in_thread(sim)
    yield sim
    server.shutdown()
    server.server_close()


@pytest.fixture
def upstream(simulator):
    """The domain's vendor port, over real HTTP to the simulator."""
    client = MusicApiClient(
        base_url=f"{simulator.public_url}/api/v1", key=SIMULATOR_KEY, timeout_s=(2, 5)
    )
    return MusicApiUpstream(client)
