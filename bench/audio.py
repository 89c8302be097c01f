"""Benchmark: how soon a finished song plays, how fast copies land, and whether copies slow
detection (media worker pool on, versus no media worker at all = copies disabled).

Runs the whole service as real processes on loopback (tests/stack.py) against the simulator.
A client loop lists the generations; the moment it sees one `succeeded` it asks each clip's
`audio_url` for `Range: bytes=0-99` and times the 206 (stream-through while the copy waits).

    python -m bench.audio [--generations 200] [--ready-after 10]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from bench import report
from tests.integration.helpers import create
from tests.stack import Stack

PLAYERS = 64


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.95 * (len(ordered) - 1))] if ordered else float("nan")


def _listing(session, base: str) -> list[dict]:
    items, url = [], f"{base}/api/v1/generations?page_size=100"
    while url:
        page = session.get(url, timeout=30).json()
        items += page["results"]
        url = page.get("next")
    return items


def _play(url: str) -> tuple[float, float] | None:
    """When a `Range: bytes=0-99` request went out and its answer came back complete
    (monotonic), or None when it was not a 206 with 100 bytes."""
    sent = time.monotonic()
    answer = requests.get(url, headers={"Range": "bytes=0-99"}, timeout=30)
    ok = answer.status_code == 206 and len(answer.content) == 100
    return (sent, time.monotonic()) if ok else None


def run(*, generations: int, ready_after_s: float, media_worker: bool) -> dict:
    with Stack(ready_after_s=ready_after_s, media_worker=media_worker, worker_threads=16) as stack:
        session = stack.session(stack.token("bench"))
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(
                pool.map(
                    lambda n: create(session, stack.base, {"description": f"b {n}"}),
                    range(generations),
                )
            )
        seen: dict[str, float] = {}
        playable_s: list[float] = []  # seen `succeeded` -> the 206 complete
        answer_s: list[float] = []  # the 206's request -> its answer (the server's share)
        failures = 0
        deadline = time.monotonic() + ready_after_s + 600
        # Each clip's player starts at once, as each user's would (few wait for a thread).
        with ThreadPoolExecutor(max_workers=PLAYERS) as players:
            futures = []
            while len(seen) < generations and time.monotonic() < deadline:
                for g in _listing(session, stack.base):
                    if g["status"] == "succeeded" and g["id"] not in seen:
                        seen[g["id"]] = time.monotonic()
                        for clip in g["clips"]:
                            if clip["audio_url"]:
                                futures.append(
                                    (seen[g["id"]], players.submit(_play, clip["audio_url"]))
                                )
                time.sleep(0.2)
            for started, future in futures:
                times = future.result()
                if times is None:
                    failures += 1
                else:
                    playable_s.append(times[1] - started)
                    answer_s.append(times[1] - times[0])
        last_succeeded = max(seen.values()) if seen else time.monotonic()
        copies_s = None
        if media_worker:
            while time.monotonic() < deadline:
                listing = _listing(session, stack.base)
                if all(
                    c["media"] != "pending"
                    for g in listing
                    for c in g["clips"]
                    if c["state"] == "succeeded"
                ):
                    copies_s = time.monotonic() - last_succeeded
                    break
                time.sleep(0.5)
        rows = json.loads(
            stack.manage(
                "shell",
                "-c",
                "import json; from generations.models import Generation as G; "
                "print(json.dumps([[str(g.id), g.vendor_task_id, g.finished_at.timestamp()] "
                "for g in G.objects.filter(status='succeeded')]))",
            )
            .strip()
            .splitlines()[-1]
        )
        log = stack.simulator("calls")
    created_at = {
        c["task_id"]: c["at"]
        for c in log["calls"]
        if c["path"].endswith("/sonic/create") and c["status"] == 200
    }
    detection = [
        finished - (created_at[task] + ready_after_s)
        for _, task, finished in rows
        if task in created_at
    ]
    return {
        "media_worker": media_worker,
        "succeeded": len(rows),
        "clips_played": len(playable_s),
        "play_failures": failures,
        "succeeded_to_206_p95_s": round(p95(playable_s), 3),
        "request_to_206_p95_s": round(p95(answer_s), 3),
        "detection_p95_s": round(p95(detection), 2),
        "copies_done_after_last_s": copies_s,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=200)
    parser.add_argument("--ready-after", type=float, default=10.0, help="simulator seconds")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    results = [
        run(generations=args.generations, ready_after_s=args.ready_after, media_worker=on)
        for on in (True, False)
    ]
    lines = [
        f"{args.generations} generations (2 clips each), simulator ready after "
        f"{args.ready_after:g} s; the stack of tests/stack.py (one uvicorn web process, "
        f"polls every 0.5-1 s), with the media worker pool and without it (copies disabled).",
        "",
        *(f"    {json.dumps(r)}" for r in results),
    ]
    copies, no_copies = results
    drift = copies["detection_p95_s"] / no_copies["detection_p95_s"] - 1
    copied = copies["copies_done_after_last_s"]
    p95_206 = copies["succeeded_to_206_p95_s"]
    rows = [
        ("succeeded -> 206 p95 (with copies)", f"{p95_206:.2f} s", "< 1 s"),
        ("of which the 206 request itself, p95", f"{copies['request_to_206_p95_s']:.2f} s", ""),
        (
            "copies done after the last succeeded",
            "never" if copied is None else f"{copied:.1f} s",
            "< 120 s",
        ),
        (
            "detection p95, copies on / off",
            f"{copies['detection_p95_s']:.2f} / {no_copies['detection_p95_s']:.2f} s",
            f"within 10 % ({drift:+.0%})",
        ),
        (
            "clips not playable (not 206 with 100 bytes)",
            str(copies["play_failures"] + no_copies["play_failures"]),
            "0",
        ),
    ]
    lines += ["", "| figure (issue 13) | measured | target |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {target} |" for name, value, target in rows]
    lines += ["", f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end."]
    text = "\n".join(lines)
    print(f"\n{text}\n")
    if not args.no_write:
        report.write_section("audio", "Audio: playable at once, copies, detection", text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
