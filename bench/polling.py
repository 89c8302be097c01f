"""Benchmark: vendor calls per generation and time from vendor-ready to `succeeded`.

Runs the whole service as real processes on loopback (see tests/stack.py) against the simulator,
with and without vendor webhooks, and prints one table. Every wait is bounded.

    python -m bench.polling [--generations 200] [--ready-after 5] [--expected 5 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from tests.integration.helpers import create, wait_terminal
from tests.stack import Stack

MINIMUM_CALLS = 2  # one create and one finishing poll


def run(*, generations: int, ready_after_s: float, expected_s: float, webhooks: bool) -> dict:
    env = {
        "GENERATION_EXPECTED_S": str(expected_s),
        # The vendor's recommended interval, as in production.
        "POLL_INTERVAL_MIN_S": "15",
        "POLL_INTERVAL_MAX_S": "25",
    }
    with Stack(ready_after_s=ready_after_s, webhooks=webhooks, env=env, worker_threads=16) as stack:
        session = stack.session(stack.token("bench"))
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            ids = list(
                pool.map(
                    lambda n: create(session, stack.base, {"description": f"bench song {n}"})["id"],
                    range(generations),
                )
            )
        final = wait_terminal(session, stack.base, ids, timeout_s=ready_after_s + 300)
        wall_s = time.monotonic() - started
        rows = json.loads(
            stack.manage(
                "shell",
                "-c",
                "import json; from generations.models import Generation as G; "
                "print(json.dumps([[str(g.id), g.vendor_task_id] for g in G.objects.all()]))",
            )
            .strip()
            .splitlines()[-1]
        )
        task_of = dict(rows)
        log = stack.simulator("calls")
    created_at = {
        c["task_id"]: c["at"]
        for c in log["calls"]
        if c["path"].endswith("/sonic/create") and c["status"] == 200
    }
    vendor_calls = sum(1 for c in log["calls"] if "/sonic/" in c["path"])
    latencies = []
    for gid, generation in final.items():
        if generation["status"] != "succeeded":
            continue
        finished = datetime.fromisoformat(generation["finished_at"]).timestamp()
        ready = created_at[task_of[gid]] + ready_after_s
        latencies.append(finished - ready)
    latencies.sort()
    return {
        "webhooks": webhooks,
        "expected_s": expected_s,
        "succeeded": len(latencies),
        "generations": generations,
        "calls_per_generation": vendor_calls / generations,
        "creates": len(created_at),
        "p50_s": statistics.median(latencies),
        "p95_s": latencies[int(0.95 * (len(latencies) - 1))],
        "wall_s": wall_s,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=200)
    parser.add_argument("--ready-after", type=float, default=5.0, help="simulator seconds")
    parser.add_argument(
        "--expected",
        type=float,
        nargs="+",
        default=[5.0, 3.0],
        help="GENERATION_EXPECTED_S values to try (the first poll's delay)",
    )
    args = parser.parse_args(argv)
    results = [
        run(
            generations=args.generations,
            ready_after_s=args.ready_after,
            expected_s=expected,
            webhooks=webhooks,
        )
        for expected in args.expected
        for webhooks in (False, True)
    ]
    print(
        f"\n{args.generations} generations, simulator ready after {args.ready_after:g} s, "
        f"polls every 15-25 s after the first; minimum vendor calls per generation = "
        f"{MINIMUM_CALLS}\n"
    )
    print(
        f"{'first poll':>10} {'webhooks':>8} {'ok':>5} {'creates':>7} {'calls/gen':>9} "
        f"{'p50 ready->ok':>13} {'p95 ready->ok':>13} {'wall':>7}"
    )
    for r in results:
        print(
            f"{r['expected_s']:>9g}s {('yes' if r['webhooks'] else 'no'):>8} "
            f"{r['succeeded']:>5} {r['creates']:>7} {r['calls_per_generation']:>9.2f} "
            f"{r['p50_s']:>12.2f}s {r['p95_s']:>12.2f}s {r['wall_s']:>6.1f}s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
