"""Benchmark: `POST /generations` throughput and latency on PostgreSQL, beside the DRF floor.

Starts the production web tier on loopback — gunicorn with WEB_CONCURRENCY uvicorn workers, as
config/gunicorn.py (`make run-prod`) configures it, DEBUG off, pooled PostgreSQL connections —
against a fresh database on DATABASE_URL's server (or a throwaway PostgreSQL of its own when
DATABASE_URL is not PostgreSQL). No worker runs: the figure
is the web tier's, and every create stays queued (in flight). C clients, one user each, keep one
keep-alive connection busy for a fixed time against, in turn, the floor (`POST /bench/floor`, the
same token authentication and JSON parsing, nothing else; see bench/urls.py) and the create.
The load generator is a small asyncio HTTP/1.1 client so that it costs the server little CPU on a
small machine. Prints one table with the targets of issue 16 beside the figures and writes it to
docs/benchmarks.md. Bounded: each phase stops after --seconds.

    python -m bench.creates [--clients 32] [--seconds 20] [--web-concurrency 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from bench import postgres, report
from tests.stack import Stack

CREATE_PATH = "/api/v1/generations"
FLOOR_PATH = "/bench/floor"
TARGET_CREATES_PER_S = 300
TARGET_FLOOR_SHARE = 0.5
SERVERS = {
    "gunicorn": "uvicorn (ASGI) workers (config/gunicorn.py, as make run-prod)",
    "gunicorn-wsgi": "gthread (WSGI, 8 threads) workers",
}


@dataclass
class Phase:
    name: str
    latencies_s: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def ok(self) -> int:
        return len(self.latencies_s)

    @property
    def errors(self) -> int:
        return sum(self.statuses.values())

    @property
    def per_s(self) -> float:
        return self.ok / self.wall_s if self.wall_s else 0.0

    def percentile_ms(self, p: float) -> float:
        ordered = sorted(self.latencies_s)
        if not ordered:
            return float("nan")
        return 1000 * ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


# --- load generator --------------------------------------------------------------------------


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Status code and whether the server keeps the connection; the body is read and dropped."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    status = int(head.split(" ", 2)[1])
    headers = head.lower()
    if match := re.search(r"\r\ncontent-length:\s*(\d+)", headers):
        await reader.readexactly(int(match.group(1)))
    elif "transfer-encoding: chunked" in headers:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status, "connection: close" not in headers


async def _client(port: int, path: str, token: str, expect: int, until: float, phase: Phase):
    body = json.dumps({"description": "bench song"}).encode()
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    reader = writer = None
    while time.monotonic() < until:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            started = time.monotonic()
            writer.write(request)
            status, keep = await asyncio.wait_for(_read_response(reader), timeout=60)
        except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
            key = type(exc).__name__
            phase.statuses[key] = phase.statuses.get(key, 0) + 1
            writer = None
            await asyncio.sleep(0.05)
            continue
        if status == expect:
            phase.latencies_s.append(time.monotonic() - started)
        else:
            phase.statuses[str(status)] = phase.statuses.get(str(status), 0) + 1
        if not keep:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


def load(port: int, path: str, tokens: list[str], seconds: float, name: str) -> Phase:
    phase = Phase(name)

    async def run() -> None:
        until = time.monotonic() + seconds
        await asyncio.gather(*(_client(port, path, t, 202, until, phase) for t in tokens))

    started = time.monotonic()
    asyncio.run(run())
    phase.wall_s = time.monotonic() - started
    return phase


# --- what the server used --------------------------------------------------------------------


def _peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s*(\d+)", status).group(1)) / 1024


class PeakConnections:
    """Samples the database's client connections (all web processes together) every 0.2 s."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psycopg

        database = self.stack.env["DATABASE_URL"].rsplit("/", 1)[1]
        with psycopg.connect(self.stack.env["DATABASE_URL"], autocommit=True) as conn:
            while not self._stop.wait(0.2):
                (count,) = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
                    " AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
                    [database],
                ).fetchone()
                self.peak = max(self.peak, count)

    def __enter__(self) -> PeakConnections:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


# --- the run ---------------------------------------------------------------------------------


def _tokens(stack: Stack, clients: int) -> list[str]:
    script = (
        "import json; from django.contrib.auth import get_user_model; "
        "from api.tokens import token_create; U = get_user_model(); "
        f"print(json.dumps([token_create(user=U.objects.create(username=f'bench{{n}}'), "
        f"name='bench').secret for n in range({clients})]))"
    )
    return json.loads(stack.manage("shell", "-c", script).strip().splitlines()[-1])


def run(*, clients: int, seconds: float, web_concurrency: int, pool_max: int, server: str) -> dict:
    env = {
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        "DB_POOL_MAX": str(pool_max),
        "WEB_CONCURRENCY": str(web_concurrency),
    }
    with ExitStack() as resources:
        database_url, where = postgres.database_url(resources, "bench.creates")
        stack = resources.enter_context(
            Stack(
                database_url=database_url,
                web_server=server,
                web_workers=web_concurrency,
                workers=False,
                env=env,
            )
        )
        tokens = _tokens(stack, clients)
        port = stack.web_port
        load(port, FLOOR_PATH, tokens, min(3.0, seconds), "warm-up")  # imports, pools, caches
        load(port, CREATE_PATH, tokens, min(3.0, seconds), "warm-up")
        with PeakConnections(stack) as connections:
            floor = load(port, FLOOR_PATH, tokens, seconds, f"POST {FLOOR_PATH} (floor)")
            creates = load(port, CREATE_PATH, tokens, seconds, f"POST {CREATE_PATH}")
        rss = [_peak_rss_mb(pid) for pid in stack.web_pids()]
        (in_flight,) = stack.query(
            "SELECT count(*) FROM generations_generation"
            " WHERE status NOT IN ('succeeded', 'failed', 'canceled')"
        )[0]
        server_version = stack.query("SHOW server_version")[0][0]
    return {
        "floor": floor,
        "creates": creates,
        "rss_mb": rss,
        "peak_connections": connections.peak,
        "in_flight": in_flight,
        "where": where,
        "server_version": server_version,
    }


def table(
    result: dict, *, clients: int, seconds: float, web_concurrency: int, pool_max: int, server: str
) -> str:
    floor, creates = result["floor"], result["creates"]
    share = creates.per_s / floor.per_s if floor.per_s else 0.0
    load_1m = os.getloadavg()[0]

    def row(phase: Phase, target_rate: str, target_errors: str) -> str:
        errors = (
            ", ".join(f"{n} x {k}" for k, n in sorted(phase.statuses.items()))
            if phase.errors
            else "0"
        )
        return (
            f"| {phase.name} | {phase.ok:,} | {phase.per_s:,.0f}/s | {target_rate} "
            f"| {phase.percentile_ms(50):.0f} / {phase.percentile_ms(95):.0f} / "
            f"{phase.percentile_ms(99):.0f} ms | {errors} | {target_errors} |"
        )

    def verdict(ok: bool) -> str:
        return "met" if ok else "**missed**"

    lines = [
        f"Creates on PostgreSQL {result['server_version']} ({result['where']}): "
        f"{os.cpu_count()} cores shared by the server, the database and the load generator "
        f"(load average {load_1m:.1f} at the end); gunicorn, {web_concurrency} {SERVERS[server]}, "
        f"DEBUG off, LOG_LEVEL=WARNING, DB_POOL_MAX={pool_max} per process; "
        f"{clients} clients (one user each, keep-alive), {seconds:g} s per row; "
        "no worker running (creates stay queued).",
        "",
        "| endpoint | answered | rate | target | p50 / p95 / p99 | errors | target |",
        "|---|---|---|---|---|---|---|",
        row(floor, "(the floor)", "0"),
        row(
            creates,
            f"≥ {TARGET_CREATES_PER_S}/s: {verdict(creates.per_s >= TARGET_CREATES_PER_S)}",
            f"0: {verdict(creates.errors == 0)}",
        ),
        "",
        "| figure | measured | target |",
        "|---|---|---|",
        f"| creates / floor | {share:.0%} | ≥ {TARGET_FLOOR_SHARE:.0%}: "
        f"{verdict(share >= TARGET_FLOOR_SHARE)} |",
        f"| generations in flight after the run | {result['in_flight']:,} | — |",
        f"| database connections, peak (all web processes) | {result['peak_connections']} | "
        f"≤ {web_concurrency} x {pool_max} |",
        "| web RSS at peak, per worker process | "
        + ", ".join(f"{mb:.0f} MB" for mb in result["rss_mb"])
        + " | — |",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0, help="per row")
    parser.add_argument(
        "--web-concurrency", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2"))
    )
    parser.add_argument(
        "--pool-max", type=int, default=int(os.environ.get("DB_POOL_MAX", "10")), help="per process"
    )
    parser.add_argument(
        "--server",
        choices=sorted(SERVERS),
        default="gunicorn",
        help="gunicorn: the production web tier; gunicorn-wsgi: for comparison",
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    settings = {
        "clients": args.clients,
        "seconds": args.seconds,
        "web_concurrency": args.web_concurrency,
        "pool_max": args.pool_max,
        "server": args.server,
    }
    result = run(**settings)
    text = table(result, **settings)
    print(f"\n{text}\n")
    if not args.no_write:
        report.write_section("creates", "Creates", text)
    return 1 if result["creates"].errors or result["floor"].errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
