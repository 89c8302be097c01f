"""The PostgreSQL server a benchmark runs on: DATABASE_URL's, else a throwaway one."""

from __future__ import annotations

import os
from contextlib import ExitStack

from tests import pgcluster


def database_url(resources: ExitStack, bench: str) -> tuple[str, str]:
    """(URL, where it is, for the report); a throwaway server lives as long as `resources`."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        return url, "DATABASE_URL's server"
    if reason := pgcluster.unavailable_reason():
        raise SystemExit(f"{bench} needs PostgreSQL: set DATABASE_URL ({reason})")
    cluster = resources.enter_context(pgcluster.PgCluster(max_connections=100))
    return cluster.url, "a throwaway PostgreSQL server"
