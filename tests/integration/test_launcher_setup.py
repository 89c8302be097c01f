"""A mistake in `make run`'s settings: one line naming the variable, and nothing left running."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.launcher import fresh_checkout, newcomer_env, processes_in, sweep

pytestmark = pytest.mark.integration

UNREACHABLE = "127.0.0.1:9"  # the discard port: nothing listens there


@pytest.fixture(scope="module")
def checkout():
    made = fresh_checkout()
    yield made
    sweep(made)


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("DATABASE_URL", f"postgres://app:s3cret@{UNREACHABLE}/music", "cannot connect to"),
        ("DATABASE_URL", "mysql://app@db/music", "must be postgres"),
        ("REDIS_URL", f"redis://{UNREACHABLE}/0", "cannot reach"),
        ("BROKER_URL", f"amqp://guest:guest@{UNREACHABLE}/", "cannot reach"),
        ("DEFAULT_PLAN_CREDITS", "twenty", "invalid literal"),
        ("MUSICAPI_MEDIA_HOSTS", "ftp://cdn.example", ""),
    ],
)
def test_a_setup_mistake_is_one_line_naming_the_variable(checkout, variable, value, says):
    result = subprocess.run(
        [sys.executable, "-m", "config.runstack"],
        cwd=checkout,
        env=newcomer_env(**{variable: value}),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"make run: {variable}"), lines
    assert says in lines[0]
    assert "s3cret" not in result.stderr + result.stdout
    # The embedded Redis it had started is gone with it.
    assert processes_in(checkout) == []
