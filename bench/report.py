"""docs/benchmarks.md: each benchmark replaces its own section with the table it printed."""

from __future__ import annotations

import os
import re

from tests.stack import ROOT

REPORT = ROOT / "docs" / "benchmarks.md"


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of unsorted values; NaN when there are none."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n * p / 100), at least the first
    return ordered[int(rank) - 1]


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    """The machine facts each table names: cores and how loaded they were."""
    load_1m, load_5m, _ = os.getloadavg()
    cores = os.cpu_count() or 1
    state = "quiet" if load_5m < 0.5 * cores else "loaded"
    return f"{cores} cores, {state} (load average {load_1m:.1f}, 5 min {load_5m:.1f})"


def write_section(key: str, title: str, text: str) -> None:
    begin, end = f"<!-- {key} -->", f"<!-- /{key} -->"
    block = f"{begin}\n## {title}\n\n{text}\n{end}"
    current = REPORT.read_text() if REPORT.exists() else "# Benchmarks (`make bench`)\n"
    if begin in current:
        section = re.compile(f"{re.escape(begin)}.*?{re.escape(end)}", flags=re.S)
        current = section.sub(lambda _: block, current)
    else:
        current = f"{current.rstrip()}\n\n{block}\n"
    REPORT.write_text(current)
