"""Requests share the process's Redis connections for the cache, under ASGI as under WSGI.

Django keeps one cache object per thread and per async context: under ASGI every request is a
task with a context of its own, so each request that touched the cache built a RedisCache, a
connection pool and a new Redis connection (connect, handshake, then the command), and left the
socket to the garbage collector. The per-minute create counter paid that on every create.
"""

from __future__ import annotations

import asyncio
import contextvars

import pytest
import redis
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import AsyncClient

from api.tokens import token_create

pytestmark = pytest.mark.django_db

URL = "/api/v1/generations"
REQUESTS = 12


def _connections_received() -> int:
    with redis.Redis.from_url(settings.REDIS_URL) as client:
        return client.info("stats")["total_connections_received"]


def test_creates_under_asgi_reuse_the_cache_connections(alice, broker, settings):
    settings.DEFAULT_PLAN = {
        **settings.DEFAULT_PLAN,
        "credits_per_period": 10_000,
        "max_in_flight": 100,
        "creates_per_minute": 100,
    }
    headers = {"Authorization": f"Bearer {token_create(user=alice, name='t').secret}"}

    async def create() -> int:
        response = await AsyncClient().post(
            URL, {"description": "calm piano"}, content_type="application/json", headers=headers
        )
        return response.status_code

    def request():
        # As an ASGI server runs each request: a task in a context that never saw the cache (the
        # test's own context has one, which every copy of it would share).
        return asyncio.create_task(create(), context=contextvars.Context())

    @async_to_sync
    async def serve() -> tuple[list[int], int]:
        first = await request()  # the pools exist from here on
        before = _connections_received()
        statuses = [first] + [await request() for _ in range(REQUESTS)]
        return statuses, _connections_received() - before - 1  # less the counting connection

    statuses, opened = serve()

    assert statuses == [202] * (REQUESTS + 1)
    assert opened <= 1, f"{opened} Redis connections opened for {REQUESTS} creates"
