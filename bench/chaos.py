"""Chaos run: generations under random vendor faults while workers are killed with SIGKILL and
Redis is restarted empty, then the reconciler repairs what was lost. Loopback only, bounded.

Prints what was done to the system and whether every generation reached a terminal status with
the status its prompt asked for, plus the vendor creates per generation.

    python -m bench.chaos [--generations 60] [--rounds 6] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from tests.integration.helpers import TERMINAL, create, statuses, successful_creates
from tests.stack import Stack

FAULTS = {
    "server_error": 0.05,
    "rate_limit": 0.05,
    "retry_after_s": 1,
    "slow": 0.02,
    "slow_s": 2,
    "failed_clip": 0.1,
    "lost_webhook": 0.3,
}
SETTLE_LIMIT_S = 240


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=6, help="disruptions, one every ~3 s")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    with Stack(ready_after_s=3, faults={**FAULTS, "seed": args.seed}, webhooks=True) as stack:
        session = stack.session(stack.token("chaos"))
        expected = {}
        for n in range(args.generations):
            marker = rng.choice(["", "", "", "[sim:failed] ", "[sim:moderation] "])
            generation = create(session, stack.base, {"description": f"{marker}chaos {n}"})
            expected[generation["id"]] = "failed" if marker else "succeeded"
        actions = []
        for _ in range(args.rounds):
            time.sleep(rng.uniform(2, 4))
            if rng.random() < 0.6:
                stack.kill_worker()
                stack.start_worker()
                actions.append("kill -9 worker")
            else:
                stack.restart_redis()
                actions.append("restart Redis (empty)")
        started = time.monotonic()
        final: dict[str, dict] = {}
        while time.monotonic() - started < SETTLE_LIMIT_S:
            stack.manage("reconcile")  # what the scheduler does every minute, sped up
            final = statuses(session, stack.base, list(expected))
            if all(g["status"] in TERMINAL for g in final.values()):
                break
            time.sleep(2)
        settle_s = time.monotonic() - started
        creates = len(successful_creates(stack))
        used = session.get(f"{stack.base}/api/v1/me", timeout=10).json()["usage"]["used"]
    # A create whose worker was killed inside it ends `failed`/`unconfirmed` (charged, never
    # re-sent): right for any generation.
    wrong = {
        gid: (g["status"], expected[gid])
        for gid, g in final.items()
        if g["status"] != expected[gid] and (g.get("error") or {}).get("code") != "unconfirmed"
    }
    unconfirmed = sum(
        1 for g in final.values() if (g.get("error") or {}).get("code") == "unconfirmed"
    )
    reached_vendor = sum(
        1 for gid in expected if "moderation" not in final.get(gid, {}).get("description", "")
    )
    print(f"\n{args.generations} generations, faults {FAULTS}")
    print(f"disruptions: {', '.join(actions)}")
    print(
        f"all terminal: {not any(g['status'] not in TERMINAL for g in final.values())} "
        f"({settle_s:.0f} s after the last disruption)"
    )
    print(f"status as expected: {len(expected) - len(wrong)}/{len(expected)}")
    for gid, (got, want) in list(wrong.items())[:10]:
        print(f"  {gid}: {got}, expected {want}")
    print(
        f"vendor creates: {creates} for {reached_vendor} generations that reached the vendor; "
        f"{unconfirmed} unconfirmed (a worker killed inside the create); units used: {used} "
        "(tasks that failed at the vendor are refunded, so not charged)"
    )
    return 0 if not wrong else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
