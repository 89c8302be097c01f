"""What a create costs in CPU, beside the floor: in one process, through Django's test client.

No server, no load generator, no other process: each request runs the whole Django stack
(middleware, DRF, the service, the queries) in this process on DATABASE_URL's PostgreSQL with
`bench.settings` and DEBUG off, so `time.process_time` per request is the Python CPU a web
worker spends on it (the database's own CPU is not in it). Prints CPU per request and queries for
`POST /bench/floor` and `POST /api/v1/generations`, then (--profile) cProfile's heaviest
functions of the creates, cumulative, to say where the time goes.

    DATABASE_URL=postgres://... python -m bench.create_cpu [--requests 300] [--profile]

Migrates DATABASE_URL's database and adds users to it: point it at a scratch database.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import secrets
import sys
import time

CREATE_PATH = "/api/v1/generations"
FLOOR_PATH = "/bench/floor"


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # As the benchmark's stack: limits that a run of creates never reaches.
    os.environ.setdefault("DEFAULT_PLAN_CREDITS", "1000000000")
    os.environ.setdefault("DEFAULT_PLAN_MAX_IN_FLIGHT", "1000000")
    os.environ.setdefault("DEFAULT_PLAN_CREATES_PER_MINUTE", "1000000")
    import django

    django.setup()


def _client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    from api.tokens import token_create

    user = get_user_model().objects.create(username=f"cpu-{secrets.token_hex(6)}")
    secret = token_create(user=user, name="bench").secret
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def _measure(client, path: str, requests: int, profiler: cProfile.Profile | None):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    body = {"description": "bench song"}
    for _ in range(20):  # warm-up: imports, the pool, the plan row, the token's last use
        assert client.post(path, body, content_type="application/json").status_code == 202
    with CaptureQueriesContext(connection) as queries:
        assert client.post(path, body, content_type="application/json").status_code == 202
    sql = [q["sql"] for q in queries.captured_queries]  # read now: each request clears the log
    started = time.process_time()
    if profiler is not None:
        profiler.enable()
    for _ in range(requests):
        response = client.post(path, body, content_type="application/json")
        assert response.status_code == 202, response.content
    if profiler is not None:
        profiler.disable()
    cpu_ms = 1000 * (time.process_time() - started) / requests
    return cpu_ms, sql


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--profile", action="store_true", help="cProfile the creates too")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--show-queries", action="store_true")
    args = parser.parse_args(argv)
    _setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    client = _client()
    rows = []
    for path in (FLOOR_PATH, CREATE_PATH):
        cpu_ms, queries = _measure(client, path, args.requests, None)
        rows.append((path, cpu_ms, queries))
    print("| request | CPU per request | queries |\n|---|---|---|")
    for path, cpu_ms, queries in rows:
        print(f"| `POST {path}` | {cpu_ms:.1f} ms | {len(queries)} |")
    if args.show_queries:
        for path, _, queries in rows:
            print(f"\n{path}:")
            for sql in queries:
                print(f"  {sql[:160]}")
    if args.profile:
        profiler = cProfile.Profile(time.process_time)
        _measure(client, CREATE_PATH, args.requests, profiler)
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
        stats.print_stats(args.top)
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
