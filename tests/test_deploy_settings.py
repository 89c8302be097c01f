"""Finding 13: `check --deploy` is clean with DEBUG off and only the required variables set; the
HTTPS settings come from the environment; a weak SECRET_KEY stops start-up."""

from __future__ import annotations

import os
import runpy
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

ROOT = Path(__file__).resolve().parent.parent


def check_deploy(**env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "PYTEST"))}
    base.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="api.example.com",
        REDIS_URL="redis://127.0.0.1:9/0",  # settings only; nothing connects
    )
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )


def warnings(result: subprocess.CompletedProcess) -> set[str]:
    out = result.stdout + result.stderr
    return {word.strip("():") for word in out.split() if word.startswith("(security.")}


def test_secure_defaults_with_debug_off():
    result = check_deploy()
    assert result.returncode == 0, result.stderr
    # Clean: HSTS preload (submitting a domain to browsers' preload list) is opt-in, and its
    # warning silenced (make run-prod starts only on a clean check).
    assert warnings(result) == set()


def test_https_settings_come_from_the_environment():
    result = check_deploy(SECURE_SSL_REDIRECT="false", SECURE_HSTS_SECONDS="0")
    assert {"security.W004", "security.W008"} <= warnings(result)
    preload = check_deploy(SECURE_HSTS_PRELOAD="true")
    assert warnings(preload) == set()


@pytest.mark.parametrize(
    "key", ["k", "a" * 60, "django-insecure-" + secrets.token_urlsafe(50), "short-but-random-1"]
)
def test_a_weak_secret_key_stops_start_up(monkeypatch, key):
    env = {"DEBUG": "false", "SECRET_KEY": key, "REDIS_URL": "redis://127.0.0.1:9/0"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY is weak"):
        runpy.run_path(str(ROOT / "config" / "settings.py"))
    monkeypatch.setenv("SECRET_KEY", secrets.token_urlsafe(50))
    assert runpy.run_path(str(ROOT / "config" / "settings.py"))["DEBUG"] is False
