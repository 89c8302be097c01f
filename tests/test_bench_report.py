"""The benchmarks' pure helpers: percentiles, targets, tables, profile shares (nothing timed)."""

from __future__ import annotations

import math

from bench import polling
from bench.inflight import drain_target_s, summarize_collapsed
from bench.report import markdown_table, percentile, verdict


def test_percentile_is_nearest_rank_of_unsorted_values():
    values = [float(v) for v in range(100, 0, -1)]  # 100 .. 1, unsorted
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 100) == 100
    assert percentile(values, 0) == 1
    assert percentile([7.0], 95) == 7.0
    assert percentile([1.0, 2.0, 3.0], 50) == 2.0
    assert math.isnan(percentile([], 50))


def test_drain_target_is_r_plus_two_longest_intervals_plus_30_s():
    assert drain_target_s(30) == 30 + 2 * 25 + 30
    assert drain_target_s(60, poll_max_s=20) == 60 + 40 + 30


def test_markdown_table_and_verdict():
    text = markdown_table(["a", "b"], [["1", verdict(True)], ["2", verdict(False)]])
    assert text.splitlines() == [
        "| a | b |",
        "|---|---|",
        "| 1 | met |",
        "| 2 | **missed** |",
    ]


def test_profile_shares_count_each_sample_once_per_group():
    lines = [
        "worker (dramatiq/worker.py:1);execute (psycopg/cursor.py:2) 6",
        "worker (dramatiq/worker.py:1);send (requests/sessions.py:3) 3",
        "worker (dramatiq/worker.py:1);idle (threading.py:4) 1",
        "not a sample line",
    ]
    shares = summarize_collapsed(lines, {"db": ("psycopg",), "http": ("requests/", "urllib3/")})
    assert shares == {"db": 0.6, "http": 0.3}
    assert summarize_collapsed([], {"db": ("psycopg",)}) == {"db": 0.0}


def _result(expected_s: float, webhooks: bool, calls: float, p95_s: float) -> dict:
    return {
        "database": "SQLite",
        "webhooks": webhooks,
        "expected_s": expected_s,
        "succeeded": 200,
        "generations": 200,
        "calls_per_generation": calls,
        "creates": 200,
        "p50_s": p95_s / 2,
        "p95_s": p95_s,
        "webhook_sent_p95_s": 0.05 if webhooks else math.nan,
        "after_webhook_p95_s": 0.25 if webhooks else math.nan,
        "wall_s": 40.0,
    }


def test_detection_table_names_settings_and_judges_each_target():
    text = polling.table(
        [
            _result(5, False, 2.0, 0.4),
            _result(5, True, 2.0, 0.3),
            _result(3, False, 3.0, 27.0),
            _result(3, True, 2.0, 2.5),
        ],
        generations=200,
        ready_after_s=5,
    )
    head, _, table = text.partition("\n\n")
    assert "every 15-25 s" in head and "SQLite" in head and "cores" in head
    rows = table.splitlines()[2:]
    assert rows[0].startswith("| 5 s (well timed) | no | 200 of 200 | 2.00 | 2.00: met |")
    assert rows[0].endswith("p95 ≤ 26 s (one interval + 1 s): met | — |")
    assert rows[1].endswith("p95 ≤ 2 s: met | 0.05 / 0.25 s |")
    assert "| 2.00 | — |" in rows[1]  # 2.00 is the polling target; a webhook may race a poll
    assert "| 3.00 | — |" in rows[2]  # an early first poll is not held to 2 calls
    assert rows[2].endswith("p95 ≤ 26 s (one interval + 1 s): **missed** | — |")
    assert rows[3].endswith("p95 ≤ 2 s: **missed** | 0.05 / 0.25 s |")
