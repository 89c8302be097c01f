"""Every environment variable the settings read is documented in the README and .env.example."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Reads of the environment: env.int("NAME", ...), os.environ.get("NAME"), _parse(environ, "NAME").
READS = re.compile(
    r"""(?:\benv(?:\.\w+)?|environ\.get|os\.getenv|_parse)\((?:\s*environ,)?\s*["']([A-Z][A-Z0-9_]+)["']"""
)
# Where settings are read: the settings module and what `make run` reads before it.
SOURCES = [
    "config/settings.py",
    "config/embedded_redis.py",
    "config/runstack.py",
    "config/ports.py",
]


def _variables() -> set[str]:
    found = set()
    for source in SOURCES:
        found |= set(READS.findall((ROOT / source).read_text()))
    return found - {"DJANGO_SETTINGS_MODULE"}


def test_the_scan_finds_the_settings():
    assert {"SECRET_KEY", "DATABASE_URL", "PORT", "SIMULATOR_PORT"} <= _variables()


def test_every_variable_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    missing = sorted(name for name in _variables() if f"`{name}`" not in readme)
    assert missing == [], f"add to README.md's Configuration tables: {missing}"


def test_every_variable_is_in_env_example():
    example = (ROOT / ".env.example").read_text()
    missing = sorted(
        name for name in _variables() if not re.search(rf"^#? ?{name}=", example, re.MULTILINE)
    )
    assert missing == [], f"add to .env.example: {missing}"
