"""Benchmark: thousands of live event streams on one web process while events flow (issue 12).

Starts one uvicorn web process on loopback (no workers: the events are made by this script, so
the figures are the web tier's) with its own Redis and SQLite (or a PostgreSQL database on
DATABASE_URL's server). Creates --generations generations, opens --streams SSE streams spread
over their `GET /generations/{id}/events` plus --user-streams on `GET /api/v1/events`, holds them
for --hold-s while a publisher process ends the generations one by one (each end is one event,
published as a worker publishes it), and meanwhile samples `/healthz` and `GET /generations/{id}`.

Prints one table with the issue's targets beside the figures and writes it to docs/benchmarks.md:
web RSS, Redis connections of the web process, /healthz and GET p99, publish -> receipt p95.
The client is a bare asyncio HTTP/1.1 reader (one socket per stream, nothing else), and the
file limit is raised to the hard limit for this process and the web process it starts.
Bounded: the hold ends after --hold-s, every read has a timeout.

    python -m bench.events [--streams 10000] [--generations 200] [--hold-s 120]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import statistics
import sys
import time
from dataclasses import dataclass, field

import redis

from bench import report
from tests.stack import PYTHON, ROOT, Stack

TARGET_RSS_MB = 1024
TARGET_REDIS_CONNECTIONS = 4
TARGET_HEALTHZ_P99_MS = 100
TARGET_GET_P99_MS = 200
TARGET_RECEIPT_P95_MS = 250

PUBLISH = """
import json, sys, time
from generations import states
from generations.models import Status
for line in sys.stdin:
    pk = line.strip()
    states.transition(generation_id=pk, expected=[Status.QUEUED], to=Status.FAILED,
                      error_code="internal", error_detail="bench")
    print(json.dumps({"g": pk, "t": time.time()}), flush=True)
"""


@dataclass
class Receipts:
    first_seen: dict[str, list[float]] = field(default_factory=dict)  # generation -> receipts
    opened: int = 0
    refused: int = 0
    errors: int = 0
    frames: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)  # "generation" / "user" -> receipts
    why: dict[str, int] = field(default_factory=dict)  # error kind -> count

    def error(self, kind: str) -> None:
        self.errors += 1
        self.why[kind] = self.why.get(kind, 0) + 1


def raise_file_limit() -> int:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


@dataclass
class Deadline:
    at: float = float("inf")  # set once every stream is open: the hold's end


async def hold_stream(
    port: int, path: str, headers: str, receipts: Receipts, until: Deadline, opened: asyncio.Event
) -> None:
    kind = "user" if path == "/api/v1/events" else "generation"
    """One SSE stream: record when each generation's terminal event arrives."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 30)
    except (OSError, TimeoutError) as exc:
        receipts.error(f"connect: {type(exc).__name__}")
        return
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 60)
        if b" 200 " not in status:
            receipts.refused += 1
            receipts.why[status.decode(errors="replace").strip()] = 1
            return
        receipts.opened += 1
        opened.set()
        buffer = b""
        while time.monotonic() < until.at:
            try:
                chunk = await asyncio.wait_for(
                    reader.read(65536), min(5.0, until.at - time.monotonic())
                )
            except TimeoutError:
                continue
            if not chunk:
                break
            now = time.time()
            buffer += chunk
            while b"\n\n" in buffer:
                frame, buffer = buffer.split(b"\n\n", 1)
                if b'"status": "failed"' in frame:
                    receipts.frames += 1
                    receipts.by_kind[kind] = receipts.by_kind.get(kind, 0) + 1
                    body = frame.split(b"data: ", 1)[1]
                    data = json.loads(body)
                    generation_id = data["data"]["id"] if "type" in data else data["id"]
                    receipts.first_seen.setdefault(generation_id, []).append(now)
    except (OSError, TimeoutError, ValueError, KeyError) as exc:
        receipts.error(f"read: {type(exc).__name__}")
    finally:
        writer.close()


SAMPLE = """
import json, sys, time
import requests
url, authorization, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
headers = {"Authorization": authorization} if authorization else {}
session, took, until = requests.Session(), [], time.monotonic() + seconds
while time.monotonic() < until:
    started = time.perf_counter()
    try:
        ok = session.get(url, headers=headers, timeout=30).ok
    except requests.RequestException:
        ok = False
    took.append(time.perf_counter() - started if ok else None)
    time.sleep(0.2)
print(json.dumps(took))
"""


async def sample(url: str, authorization: str, seconds: float) -> list[float]:
    """Time one request every 0.2 s for `seconds`, in a process of its own: the web process's
    answer time, not this one's (its event loop is busy with the streams), inf when failed."""
    sampler = await asyncio.create_subprocess_exec(
        PYTHON, "-c", SAMPLE, url, authorization, str(seconds), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await sampler.communicate()
    return [float("inf") if t is None else t for t in json.loads(out)]


def p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def redis_connections(stack: Stack) -> dict[str, int]:
    """Clients of the stack's own Redis other than this one, by connection name (CLIENT
    SETNAME: the hub's, the cache's; the broker's has none): with no workers, and the
    publisher gone, they are the web process's."""
    client = redis.Redis(unix_socket_path=str(stack.redis_socket))
    try:
        me = client.client_id()
        names: dict[str, int] = {}
        for row in client.client_list():
            if int(row["id"]) != me:
                names[row["name"] or "unnamed"] = names.get(row["name"] or "unnamed", 0) + 1
        return names
    finally:
        client.close()


async def run(args) -> dict:
    hard = raise_file_limit()
    needed = args.streams + args.user_streams + 200
    if hard < needed:
        sys.exit(f"the file limit is {hard}; {needed} are needed (ulimit -Hn)")
    env = {
        "SSE_MAX_STREAMS_PER_USER": str(needed),
        "SSE_MAX_DURATION_S": str(args.hold_s + 600),
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "LOG_LEVEL": "WARNING",
        "SECURE_SSL_REDIRECT": "false",
    }
    with Stack(workers=False, media_worker=False, env=env) as stack:
        token = stack.token("bench")
        auth = {"Authorization": f"Bearer {token}"}
        session = stack.session(token)
        ids = []
        for n in range(args.generations):
            created = session.post(
                f"{stack.base}/api/v1/generations", json={"description": f"bench song {n}"}
            )
            created.raise_for_status()
            ids.append(created.json()["id"])
        web_pid = stack.procs["web"].pid
        rss_before = rss_mb(web_pid)
        receipts = Receipts()
        header = f"Authorization: Bearer {token}\r\n"
        opened = asyncio.Event()
        started = time.monotonic()
        until = Deadline()  # streams are read until the hold ends, however long the ramp
        tasks = []
        for n in range(args.streams):
            path = f"/api/v1/generations/{ids[n % len(ids)]}/events"
            tasks.append(
                asyncio.create_task(
                    hold_stream(stack.web_port, path, header, receipts, until, opened)
                )
            )
            # Self-paced: at most 200 opening at once, so the ramp measures holding, not a
            # connection storm past the listen backlog.
            while n + 1 - (receipts.opened + receipts.refused + receipts.errors) > 200:
                await asyncio.sleep(0.05)
        for _ in range(args.user_streams):
            tasks.append(
                asyncio.create_task(
                    hold_stream(stack.web_port, "/api/v1/events", header, receipts, until, opened)
                )
            )
        ramp_deadline = time.monotonic() + 300
        while receipts.opened + receipts.refused + receipts.errors < len(tasks):
            if time.monotonic() > ramp_deadline:
                break
            await asyncio.sleep(0.5)
        ramp_s = time.monotonic() - started
        hold_until = time.monotonic() + args.hold_s
        until.at = hold_until
        samplers = [
            asyncio.create_task(sample(f"{stack.base}/healthz", "", args.hold_s)),
            asyncio.create_task(
                sample(
                    f"{stack.base}/api/v1/generations/{ids[0]}", auth["Authorization"], args.hold_s
                )
            ),
        ]
        await asyncio.sleep(min(10, args.hold_s / 4))  # a quiet baseline first
        publisher = await asyncio.create_subprocess_exec(
            PYTHON,
            "manage.py",
            "shell",
            "-c",
            PUBLISH,
            cwd=ROOT,
            env=stack.env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        published: dict[str, float] = {}
        spacing = (args.hold_s / 2) / len(ids)  # the events spread over half the hold
        for generation_id in ids:
            publisher.stdin.write(f"{generation_id}\n".encode())
            await publisher.stdin.drain()
            line = b""
            while not line.startswith(b"{"):  # `manage.py shell` may say something first
                line = await asyncio.wait_for(publisher.stdout.readline(), 60)
            row = json.loads(line)
            published[row["g"]] = row["t"]
            await asyncio.sleep(spacing)
        publisher.stdin.close()
        await publisher.wait()
        rss_peak = rss_mb(web_pid)
        redis_clients = redis_connections(stack)
        await asyncio.sleep(max(0, hold_until - time.monotonic()))
        rss_peak = max(rss_peak, rss_mb(web_pid))
        load = os.getloadavg()[0]  # the machine's other work during the hold (2 cores)
        healthz, detail = [await sampler for sampler in samplers]
        still_open = sum(1 for t in tasks if not t.done())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        web_log = stack.log("web")
        (ROOT / "var").mkdir(exist_ok=True)
        (ROOT / "var" / "bench-events-web.log").write_text(web_log)  # kept for reading after
        tracebacks = web_log.count("Traceback (most recent call last)")
        latencies = [
            (seen - published[g]) * 1000
            for g, times in receipts.first_seen.items()
            if g in published
            for seen in times
        ]
        expected = args.streams + args.user_streams * len(ids)
        return {
            "streams": args.streams,
            "user_streams": args.user_streams,
            "generations": len(ids),
            "hold_s": args.hold_s,
            "ramp_s": ramp_s,
            "opened": receipts.opened,
            "refused": receipts.refused,
            "errors": receipts.errors,
            "open_at_end": still_open,
            "why": receipts.why,
            "receipts": len(latencies),
            "receipts_by_kind": receipts.by_kind,
            "web_tracebacks": tracebacks,
            "load_avg": load,
            "cpus": os.cpu_count(),
            "expected_receipts": expected,
            "rss_before_mb": rss_before,
            "rss_peak_mb": rss_peak,
            "redis_clients": sum(redis_clients.values()),
            "redis_by_name": redis_clients,
            "healthz_p99_ms": p(healthz, 0.99) * 1000,
            "healthz_n": len(healthz),
            "get_p99_ms": p(detail, 0.99) * 1000,
            "get_n": len(detail),
            "receipt_p50_ms": p(latencies, 0.5),
            "receipt_p95_ms": p(latencies, 0.95),
            "receipt_max_ms": max(latencies) if latencies else float("nan"),
            "receipt_mean_ms": statistics.fmean(latencies) if latencies else float("nan"),
        }


def table(r: dict) -> str:
    def row(name, value, target, ok):
        return f"| {name} | {value} | {target} | {'yes' if ok else '**no**'} |"

    lines = [
        f"{r['streams']:,} generation streams over {r['generations']} generations and "
        f"{r['user_streams']} `GET /api/v1/events` streams, one uvicorn process, held "
        f"{r['hold_s']:.0f} s after a {r['ramp_s']:.0f} s ramp; {r['generations']} generations "
        f"end during the hold (one event each). Opened {r['opened']:,}, refused "
        f"{r['refused']}, errors {r['errors']}, still open at the end {r['open_at_end']:,}; "
        f"{r['receipts']:,} of {r['expected_receipts']:,} expected receipts "
        f"({r['receipts_by_kind'].get('generation', 0):,} of {r['streams']:,} on generation "
        f"streams, {r['receipts_by_kind'].get('user', 0):,} of "
        f"{r['user_streams'] * r['generations']:,} on user streams)."
        + (f" Failures: {r['why']}." if r["why"] else "")
        + (f" The web log has {r['web_tracebacks']} tracebacks." if r["web_tracebacks"] else "")
        + f" Load average at the end of the hold {r['load_avg']:.1f} on {r['cpus']} CPUs.",
        "",
        "| figure | measured | target | met |",
        "|---|---|---|---|",
        row(
            "web RSS (before the streams → peak)",
            f"{r['rss_before_mb']:.0f} → {r['rss_peak_mb']:.0f} MB",
            f"< {TARGET_RSS_MB} MB",
            r["rss_peak_mb"] < TARGET_RSS_MB,
        ),
        row(
            "Redis connections of the web process",
            f"{r['redis_clients']} ("
            + ", ".join(f"{n} {c}" for n, c in sorted(r["redis_by_name"].items()))
            + ")",
            f"≤ {TARGET_REDIS_CONNECTIONS}",
            r["redis_clients"] <= TARGET_REDIS_CONNECTIONS,
        ),
        row(
            f"`/healthz` p99 ({r['healthz_n']} samples)",
            f"{r['healthz_p99_ms']:.0f} ms",
            f"< {TARGET_HEALTHZ_P99_MS} ms",
            r["healthz_p99_ms"] < TARGET_HEALTHZ_P99_MS,
        ),
        row(
            f"`GET /api/v1/generations/{{id}}` p99 ({r['get_n']} samples)",
            f"{r['get_p99_ms']:.0f} ms",
            f"< {TARGET_GET_P99_MS} ms",
            r["get_p99_ms"] < TARGET_GET_P99_MS,
        ),
        row(
            "publish → receipt p95 (p50, max)",
            f"{r['receipt_p95_ms']:.0f} ms ({r['receipt_p50_ms']:.0f}, {r['receipt_max_ms']:.0f})",
            f"< {TARGET_RECEIPT_P95_MS} ms",
            r["receipt_p95_ms"] < TARGET_RECEIPT_P95_MS,
        ),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--user-streams", type=int, default=20)
    parser.add_argument("--generations", type=int, default=200)
    parser.add_argument("--hold-s", type=float, default=120)
    parser.add_argument("--no-report", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    text = table(results)
    print(text)
    if not args.no_report:
        report.write_section("events", "Live events: streams held on one web process", text)


if __name__ == "__main__":
    main()
