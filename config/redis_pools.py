"""One Redis connection pool per process and server for Django's cache (`CACHES` OPTIONS).

Django keeps a cache object per thread and per async context, and each RedisCache builds a pool
of its own. Under ASGI every request runs in a context of its own, so every request that touched
the cache (each create counts itself, each read is throttled) built a pool and opened a new Redis
connection — connect, handshake, then the command — and left the socket to the garbage
collector. Here every RedisCache of the process takes the one pool of its server: a request
borrows a connection and gives it back, as under WSGI. redis-py's pool is thread-safe and starts
afresh in a forked child.
"""

from __future__ import annotations

import threading
from typing import Any

import redis

_lock = threading.Lock()
_pools: dict[tuple[str, str], redis.ConnectionPool] = {}


class SharedConnectionPool(redis.ConnectionPool):
    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> redis.ConnectionPool:
        key = (url, repr(sorted(kwargs.items())))
        with _lock:
            if key not in _pools:
                _pools[key] = super().from_url(url, **kwargs)
            return _pools[key]
