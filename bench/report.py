"""docs/benchmarks.md: each benchmark replaces its own section with the table it printed."""

from __future__ import annotations

import re

from tests.stack import ROOT

REPORT = ROOT / "docs" / "benchmarks.md"


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
