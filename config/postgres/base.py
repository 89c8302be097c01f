"""Django's PostgreSQL backend with a better pool check (`ENGINE = "config.postgres"`).

psycopg_pool's own check (what Django installs with CONN_HEALTH_CHECKS) tests one idle connection
at a time and backs off between failures: 0, 1, 2, 4 s. After a server restart or failover every
idle connection in the pool is dead, so a request that meets four or five of them spends the
whole DB_POOL_TIMEOUT discarding them and is answered 503 — possibly long after the server came
back, whenever a quiet process next takes a connection. Here the first dead connection found
makes the pool check all its idle ones at once (a dead one fails at once: its socket is closed),
so the caller's next try waits only for a fresh connection.
"""

from __future__ import annotations

import functools
import logging

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool

logger = logging.getLogger(__name__)


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self):
        pool = super().pool
        # Django hands the pool psycopg_pool's check and has no setting for another one.
        if pool is not None and not getattr(pool, "purges_dead_connections", False):
            if not hasattr(pool, "_check"):
                raise ImproperlyConfigured("psycopg_pool no longer keeps its check in `_check`")
            pool._check = functools.partial(check_connection, pool)
            pool.purges_dead_connections = True
        return pool


def check_connection(pool: ConnectionPool, conn) -> None:
    """`ConnectionPool.check_connection`; on a dead connection, every idle one is checked too
    (the dead ones are replaced in the background)."""
    try:
        ConnectionPool.check_connection(conn)
    except Exception:
        logger.warning("a pooled database connection was dead: checking every idle one")
        pool.check()
        raise
