"""Benchmark: N generations in flight drained by our actors, beside the sleep-loop baseline.

One stack of real processes on loopback (tests/stack.py) on PostgreSQL (DATABASE_URL's server,
else a throwaway one), the simulator ready R seconds after each create, polls every 15-25 s as in
production, the first poll after GENERATION_EXPECTED_S = R (well timed). In the same run, with the
same worker thread count, one at a time:

1. the sleep-loop baseline (bench/sleeploop.py) drains a small N;
2. our actors (workers/actors.py, one worker process) drain N (20,000 for the table).

The generations are created before each worker starts, through the service layer in bulk —
`generation_create` after the create serializer, as `POST /generations` calls them: the same rows,
the same quota reservation, the same submit message — because 20,000 creates over HTTP take minutes
on this machine (bench/creates.py measures those). The drain is what is timed: from the worker's
start until the last generation is `succeeded`. Every generation is submitted by that worker, so
the drain includes 20,000 vendor creates. The media pool is not started (copies stay queued).

While our worker drains, the RSS of the worker and web processes is sampled (peak), their CPU time
read from /proc, the Redis queue depths logged, and optionally py-spy records the worker. Prints
one table with the targets of issue 16 and writes it to docs/benchmarks.md. Bounded: each drain
gives up after R + --timeout seconds.

    python -m bench.inflight [--generations 20000] [--sleep-loop 24] [--ready-after 30]
        [--threads 8] [--py-spy PATH]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from bench import postgres, report
from bench.report import markdown_table, percentile, verdict
from tests.stack import PYTHON, ROOT, Stack

POLL_MIN_S, POLL_MAX_S = 15.0, 25.0  # the vendor's recommended interval, as in production
SLACK_S = 30.0
TARGET_WORKER_RSS_MB = 300
MINIMUM_CALLS = 2  # one create and one finishing poll
TERMINAL = ("succeeded", "failed", "canceled")
PROFILE_S = 300  # py-spy records the first five minutes of our drain


# --- pure helpers (tests/test_bench_inflight.py) ----------------------------------------------


def drain_target_s(ready_after_s: float, poll_max_s: float = POLL_MAX_S) -> float:
    """Issue 16: N in flight drained within R + 2 poll intervals + 30 s (the longest interval)."""
    return ready_after_s + 2 * poll_max_s + SLACK_S


def summarize_collapsed(lines: list[str], markers: dict[str, tuple[str, ...]]) -> dict[str, float]:
    """Share of py-spy samples (collapsed stacks, "frame;frame;... count") whose stack passes
    through each group of `markers` (substrings of a frame); a sample may count in several."""
    total = 0
    hits: collections.Counter[str] = collections.Counter()
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        for name, needles in markers.items():
            if any(needle in stack for needle in needles):
                hits[name] += n
    return {name: hits[name] / total if total else 0.0 for name in markers}


# --- creating rows as the API does -------------------------------------------------------------


def create_rows(username: str, count: int, batch: int = 100) -> None:
    """In the stack's environment: `count` generations for `username` through the create
    serializer and `services.generation_create`, as `POST /generations` does, `batch` to a
    transaction (their submit messages are sent when it commits)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from api.serializers.generations import GenerationCreateSerializer
    from generations import quotas, services

    user, _ = get_user_model().objects.get_or_create(username=username)
    for first in range(0, count, batch):
        with transaction.atomic():
            for n in range(first, min(count, first + batch)):
                usage = quotas.usage_for(user)
                serializer = GenerationCreateSerializer(
                    data={"description": f"in flight {n}"}, context={"plan": usage.plan}
                )
                serializer.is_valid(raise_exception=True)
                services.generation_create(
                    owner=user, request=serializer.validated_data, plan=usage.plan
                )


def _create(stack: Stack, username: str, count: int, processes: int = 2) -> float:
    """`count` generations created by `processes` processes at once, each for a user of its own
    (`username`-0, -1, ...: an account row each, so their reservations never wait on each other)."""
    started = time.monotonic()
    shares = [count // processes + (1 if i < count % processes else 0) for i in range(processes)]
    creators = [
        subprocess.Popen(  # noqa: S603 - our own fixed command line
            [PYTHON, "-m", "bench.inflight", "--create-rows", f"{username}-{i}", str(share)],
            cwd=ROOT,
            env=stack.env,
        )
        for i, share in enumerate(shares)
        if share
    ]
    for creator in creators:
        if creator.wait(timeout=3600) != 0:
            raise RuntimeError(f"creating {username}'s generations failed")
    return time.monotonic() - started


# --- what the processes use ----------------------------------------------------------------------


def _group_pids(leader: int) -> list[int]:
    """The processes of the session `leader` started (the dramatiq CLI forks its workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(stat[3]) == leader:  # session id
                    pids.append(int(entry.name))
    return pids


def _rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError, AttributeError):
        status = Path(f"/proc/{pid}/status").read_text()
        return int(re.search(r"VmRSS:\s*(\d+)", status).group(1)) / 1024
    return 0.0


def _cpu_s(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(stat[11]) + int(stat[12])  # utime, stime
    return total / ticks


def _backend_cpu(stack: Stack) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving the stack's database (same machine)."""
    rows = stack.query(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid()"
    )
    return {pid: _cpu_s([pid]) for (pid,) in rows}


def _commits(stack: Stack) -> int:
    """Transactions committed in the stack's database so far (pg_stat_database)."""
    query = "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
    return int(stack.query(query)[0][0])


def _machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


@dataclass
class Sampler:
    """Every 0.5 s: the RSS of each process group (sum of its processes; peak kept) and the Redis
    queue depths (logged every 10 s)."""

    groups: dict[str, int]  # name -> session leader pid
    redis_socket: Path
    progress: callable
    peak_mb: dict[str, float] = field(default_factory=dict)
    peak_process_mb: dict[str, float] = field(default_factory=dict)
    queue_log: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import redis

        client = redis.Redis(unix_socket_path=str(self.redis_socket))
        started = last_log = time.monotonic()
        while not self._stop.wait(0.5):
            for name, leader in self.groups.items():
                sizes = [_rss_mb(pid) for pid in _group_pids(leader)]
                self.peak_mb[name] = max(self.peak_mb.get(name, 0.0), sum(sizes))
                self.peak_process_mb[name] = max(
                    self.peak_process_mb.get(name, 0.0), max(sizes, default=0.0)
                )
            if time.monotonic() - last_log >= 10:
                last_log = time.monotonic()
                with contextlib.suppress(Exception):
                    depths = {
                        "polls due": client.llen("dramatiq:polls"),
                        "polls delayed": client.hlen("dramatiq:polls.DQ.msgs"),
                        "submits due": client.llen("dramatiq:generations"),
                    }
                    counts = self.progress()
                    entry = {"t_s": round(last_log - started), **depths, **counts}
                    self.queue_log.append(entry)
                    print("  ", json.dumps(entry), flush=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


PROFILE_MARKERS = {
    "waiting for PostgreSQL's answers (psycopg Connection.wait)": ("Connection.wait (",),
    "PostgreSQL driver, all (psycopg)": ("psycopg",),
    "Django ORM (query building, model init)": ("django/db/models",),
    "HTTP to the vendor (requests/urllib3)": ("requests/", "urllib3/"),
    "Redis (broker)": ("redis/",),
    "submit (lifecycle.generation_submit)": ("generation_submit (",),
    "poll (lifecycle.generation_poll)": ("generation_poll (",),
    "events.publish (event rows)": ("publish (generations/events",),
    "outbound webhook rows (outbound.deliveries_create)": ("deliveries_create (",),
    "credits settled (quotas.quota_settle)": ("quota_settle (",),
}


# --- the runs ---------------------------------------------------------------------------------


def _counts(stack: Stack, username: str) -> dict[str, int]:
    rows = stack.query(
        "SELECT g.status, count(*) FROM generations_generation g"
        " JOIN auth_user u ON u.id = g.owner_id WHERE u.username LIKE %s GROUP BY g.status",
        f"{username}-%",
    )
    return dict(rows)


def _wait_drained(stack: Stack, username: str, count: int, timeout_s: float, worker: str) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if stack.procs[worker].poll() is not None:
            raise RuntimeError(f"the {worker} exited:\n{stack.log(worker)[-3000:]}")
        counts = _counts(stack, username)
        if sum(n for status, n in counts.items() if status in TERMINAL) >= count:
            return True
        time.sleep(1.0)
    return False


def _times(stack: Stack, username: str) -> list[tuple[str, float, float, str]]:
    """(vendor task id, started_at, finished_at, status) of each of `username`'s generations."""
    return stack.query(
        "SELECT g.vendor_task_id, extract(epoch from g.started_at),"
        " extract(epoch from g.finished_at), g.status FROM generations_generation g"
        " JOIN auth_user u ON u.id = g.owner_id WHERE u.username LIKE %s",
        f"{username}-%",
    )


def _sleep_loop_worker(threads: int) -> list[str]:
    return [
        *(PYTHON, "-m", "dramatiq", "--processes", "1", "--threads", str(threads)),
        *("django_dramatiq.setup", "django_dramatiq.tasks", "bench.sleeploop"),
        *("--queues", "generations"),
    ]


def _drain(
    stack: Stack, *, username: str, count: int, timeout_s: float, start_worker, worker: str
) -> dict[str, float]:
    calls_before = len(stack.simulator("calls")["calls"])
    started_wall, started = time.time(), time.monotonic()
    start_worker()
    drained = _wait_drained(stack, username, count, timeout_s, worker)
    waited_s = time.monotonic() - started
    rows = _times(stack, username)
    calls = stack.simulator("calls")["calls"][calls_before:]
    finished = [f for _, _, f, s in rows if s == "succeeded" and f is not None]
    created_at = {
        c["task_id"]: c["at"]
        for c in calls
        if c["path"].endswith("/sonic/create") and c["status"] == 200
    }
    detection = [
        float(f) - (created_at[task] + stack.ready_after_s)
        for task, _, f, s in rows
        if s == "succeeded" and task in created_at
    ]
    started_at = [float(s) for _, s, _, _ in rows if s is not None]
    return {
        "drained": drained,
        "succeeded": len(finished),
        "drain_s": (max(map(float, finished)) - started_wall) if finished else waited_s,
        "last_submit_s": (max(started_at) - started_wall) if started_at else float("nan"),
        "vendor_calls": sum(1 for c in calls if "/sonic/" in c["path"]),
        "detection_p50_s": percentile(detection, 50),
        "detection_p95_s": percentile(detection, 95),
        "waited_s": waited_s,
    }


def _py_spy(py_spy: str, leader: int, seconds: float, out: Path) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - the py-spy the operator named
        [
            *(py_spy, "record", "--pid", str(leader), "--subprocesses", "--rate", "20"),
            *("--duration", str(int(seconds)), "--format", "raw", "--output", str(out)),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run(
    *,
    generations: int,
    sleep_loop: int,
    ready_after_s: float,
    threads: int,
    timeout_s: float,
    py_spy: str | None,
    keep_profile: str | None = None,
) -> dict:
    env = {
        # The sleep loop's worker starts without manage.py.
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        "GENERATION_EXPECTED_S": str(ready_after_s),
        "POLL_INTERVAL_MIN_S": str(POLL_MIN_S),
        "POLL_INTERVAL_MAX_S": str(POLL_MAX_S),
    }
    result: dict = {"load_before": os.getloadavg()[0]}
    with ExitStack() as resources:
        database_url, where = postgres.database_url(resources, "bench.inflight")
        stack = resources.enter_context(
            Stack(
                database_url=database_url,
                ready_after_s=ready_after_s,
                worker_threads=threads,
                media_worker=False,
                workers=False,
                env=env,
            )
        )
        result["where"] = where
        result["server_version"] = stack.query("SHOW server_version")[0][0]

        if sleep_loop:
            result["sleep_create_s"] = _create(stack, "sleeploop", sleep_loop)
            print(f"sleep loop: {sleep_loop} created; draining", flush=True)
            result["sleep"] = _drain(
                stack,
                username="sleeploop",
                count=sleep_loop,
                timeout_s=timeout_s + ready_after_s * (1 + sleep_loop / threads),
                start_worker=lambda: stack._spawn("sleep-worker", _sleep_loop_worker(threads)),
                worker="sleep-worker",
            )
            stack._kill("sleep-worker", 15)
            print(f"sleep loop: {json.dumps(result['sleep'])}", flush=True)

        result["create_s"] = _create(stack, "inflight", generations)
        print(f"ours: {generations} created in {result['create_s']:.0f} s; draining", flush=True)
        groups = {"web": stack.procs["web"].pid}
        backends_before = _backend_cpu(stack)
        commits_before = _commits(stack)
        busy_before = _machine_busy()
        cpu_before = {"web": _cpu_s(_group_pids(groups["web"]))}
        spy = None

        def start() -> None:
            nonlocal spy
            stack.start_worker()
            groups["worker"] = stack.procs["worker"].pid
            groups["simulator"] = stack.procs["simulator"].pid
            cpu_before["simulator"] = _cpu_s(_group_pids(groups["simulator"]))
            if py_spy:
                time.sleep(3)  # the CLI has forked its worker process
                spy = _py_spy(
                    py_spy,
                    groups["worker"],
                    PROFILE_S,
                    stack.dir / "profile.txt",
                )

        with Sampler(groups, stack.redis_socket, lambda: _counts(stack, "inflight")) as sampler:
            result["ours"] = _drain(
                stack,
                username="inflight",
                count=generations,
                timeout_s=ready_after_s + timeout_s,
                start_worker=start,
                worker="worker",
            )
            cpu_after = {name: _cpu_s(_group_pids(pid)) for name, pid in groups.items()}
        busy_after = _machine_busy()
        backends_after = _backend_cpu(stack)
        result["commits"] = _commits(stack) - commits_before
        result["cpu_s"] = {name: cpu_after[name] - cpu_before.get(name, 0.0) for name in cpu_after}
        result["cpu_s"]["postgres"] = sum(
            cpu - backends_before.get(pid, 0.0) for pid, cpu in backends_after.items()
        )
        result["machine_busy"] = (busy_after[0] - busy_before[0]) / max(
            1, busy_after[1] - busy_before[1]
        )
        result["rss_mb"] = sampler.peak_mb
        result["rss_process_mb"] = sampler.peak_process_mb
        result["queue_log"] = sampler.queue_log
        if spy is not None:
            if spy.poll() is None:  # a drain shorter than PROFILE_S: stop it (it writes then)
                spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
            profile = stack.dir / "profile.txt"
            lines = profile.read_text().splitlines() if profile.exists() else []
            if keep_profile and lines:
                Path(keep_profile).write_text("\n".join(lines) + "\n")
            result["profile"] = summarize_collapsed(lines, PROFILE_MARKERS)
        result["load_after"] = os.getloadavg()[0]
    return result


def render(result: dict, *, generations: int, sleep_loop: int, ready_after_s: float, threads: int):
    ours = result["ours"]
    target = drain_target_s(ready_after_s)
    lines = [
        f"PostgreSQL {result['server_version']} ({result['where']}); {os.cpu_count()} cores "
        f"shared by every process of the stack and by other sessions' work (load average "
        f"{result['load_before']:.1f} before, {result['load_after']:.1f} after; the cores were "
        f"{result['machine_busy']:.0%} busy during our drain). The simulator ready "
        f"R = {ready_after_s:g} s after each create; first poll after GENERATION_EXPECTED_S = "
        f"{ready_after_s:g} s, then every {POLL_MIN_S:g}-{POLL_MAX_S:g} s; one worker process "
        f"x {threads} threads for both; DEBUG off, LOG_LEVEL=WARNING, no webhooks, no media "
        "pool. Created through the service layer in bulk (as the API does) before each worker "
        "started; the drain runs from the worker's start to the last `succeeded`, so it includes "
        "every vendor create.",
        "",
    ]
    rows = [
        [
            "ours (workers/actors.py)",
            f"{generations:,}",
            f"{ours['succeeded']:,}",
            f"{ours['drain_s']:.0f} s",
            f"{ours['succeeded'] / ours['drain_s']:.1f}/s" if ours["drain_s"] else "—",
            f"≤ {target:.0f} s: {verdict(ours['drained'] and ours['drain_s'] <= target)}",
        ]
    ]
    ratio_text = ""
    if "sleep" in result:
        sleep = result["sleep"]
        rate = sleep["succeeded"] / sleep["drain_s"] if sleep["drain_s"] else 0.0
        projected_s = generations / rate if rate else float("inf")
        rows.append(
            [
                "sleep loop (bench/sleeploop.py)",
                f"{sleep_loop:,}",
                f"{sleep['succeeded']:,}",
                f"{sleep['drain_s']:.0f} s",
                f"{rate:.2f}/s",
                f"{generations:,} would take ≈ {projected_s / 3600:.1f} h (projected)",
            ]
        )
        ours_rate = ours["succeeded"] / ours["drain_s"] if ours["drain_s"] else 0.0
        if rate:
            ratio_text = (
                f"Ratio: ours drains {ours_rate / rate:,.0f}x as many generations per second as "
                f"the sleep loop ({ours_rate:.1f}/s vs {rate:.2f}/s). The sleep loop ran "
                f"{sleep_loop} generations, not {generations:,}: it holds a thread per "
                f"generation for about R, so {threads} threads finish about {threads} per R, and "
                f"its time for {generations:,} ({projected_s / 3600:.1f} h) is projected from "
                "that throughput, not measured."
            )
    lines.append(
        markdown_table(["actor", "generations", "succeeded", "drain", "throughput", "target"], rows)
    )
    if ratio_text:
        lines += ["", ratio_text]
    calls = ours["vendor_calls"] / generations if generations else 0.0
    rss = result["rss_mb"]
    per_process = result["rss_process_mb"]
    cpu = result["cpu_s"]
    drain = ours["drain_s"] or 1.0
    figures = [
        [
            "last vendor create after the worker started",
            f"{ours['last_submit_s']:.0f} s",
            "—",
        ],
        [
            "last vendor create → last `succeeded` (all in flight, then drained)",
            f"{ours['drain_s'] - ours['last_submit_s']:.0f} s",
            f"≤ {target:.0f} s: {verdict(ours['drain_s'] - ours['last_submit_s'] <= target)}",
        ],
        [
            "ready → `succeeded`, p50 / p95 (ours)",
            f"{ours['detection_p50_s']:.1f} / {ours['detection_p95_s']:.1f} s",
            f"p95 ≤ {POLL_MAX_S + 1:g} s: {verdict(ours['detection_p95_s'] <= POLL_MAX_S + 1)}",
        ],
        [
            "vendor calls per generation (ours, first poll well timed)",
            f"{calls:.2f}",
            f"{MINIMUM_CALLS:.2f}: {verdict(round(calls, 2) <= MINIMUM_CALLS)}",
        ],
        [
            "worker RSS at peak (all its processes; the largest one)",
            f"{rss.get('worker', 0):.0f} MB; {per_process.get('worker', 0):.0f} MB",
            f"< {TARGET_WORKER_RSS_MB} MB: {verdict(rss.get('worker', 0) < TARGET_WORKER_RSS_MB)}",
        ],
        [
            "web RSS at peak (served no requests during the drain)",
            f"{rss.get('web', 0):.0f} MB",
            "—",
        ],
        [
            "CPU during the drain: worker / simulator / web / PostgreSQL backends",
            " / ".join(
                f"{cpu.get(name, 0):.0f} s ({cpu.get(name, 0) / drain:.0%} of a core)"
                for name in ("worker", "simulator", "web", "postgres")
            ),
            "—",
        ],
        [
            "worker CPU per generation (submit and polls), and the drain it allows one process",
            f"{1000 * cpu.get('worker', 0) / generations:.1f} ms; "
            f"{cpu.get('worker', 0):.0f} s at one core (one process holds one core at most)",
            "—",
        ],
        [
            "PostgreSQL transactions committed per generation (all processes, drain)",
            f"{result['commits'] / generations:.1f}",
            "—",
        ],
        [
            f"creating {generations:,} through the service layer (not timed in the drain)",
            f"{result['create_s']:.0f} s",
            "—",
        ],
    ]
    lines += ["", markdown_table(["figure", "measured", "target"], figures)]
    if result.get("profile"):
        shares = ", ".join(
            f"{name} {share:.0%}"
            for name, share in sorted(result["profile"].items(), key=lambda kv: -kv[1])
        )
        lines += [
            "",
            f"py-spy (20 Hz, the worker's processes, active samples, the first "
            f"{PROFILE_S} s of the drain at most): share of samples in {shares}.",
        ]
    if result.get("queue_log"):
        lines += [
            "",
            "Queue depths (polls due, polls delayed, submits due) and statuses during our drain, "
            "t seconds after the worker started (at most 15 of the 10 s samples):",
            "",
        ]
        lines += [
            "    " + ", ".join(f"{k}={v}" for k, v in entry.items())
            for entry in result["queue_log"][:: max(1, len(result["queue_log"]) // 15)]
        ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=20_000)
    parser.add_argument("--sleep-loop", type=int, default=24, help="generations (0: skip)")
    parser.add_argument("--ready-after", type=float, default=30.0, help="simulator seconds (R)")
    parser.add_argument("--threads", type=int, default=8, help="worker threads, both actors")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds past R, per drain")
    parser.add_argument("--py-spy", help="path of py-spy: record the worker during the drain")
    parser.add_argument("--keep-profile", help="copy py-spy's collapsed stacks to this file")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--create-rows", nargs=2, metavar=("USER", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.create_rows:
        create_rows(args.create_rows[0], int(args.create_rows[1]))
        return 0
    settings = {
        "generations": args.generations,
        "sleep_loop": args.sleep_loop,
        "ready_after_s": args.ready_after,
        "threads": args.threads,
    }
    result = run(
        **settings, timeout_s=args.timeout, py_spy=args.py_spy, keep_profile=args.keep_profile
    )
    text = render(result, **settings)
    print(f"\n{text}\n")
    if not args.no_write:
        report.write_section("inflight", "In flight: our actors beside the sleep loop", text)
    return 0 if result["ours"]["drained"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
