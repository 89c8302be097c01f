"""Where clip audio may be fetched from when the operator names no MUSICAPI_MEDIA_HOSTS: the
vendor's CDN hosts, plus the origin MUSICAPI_BASE_URL points at when it is not the vendor's
(a vendor fake or a regional endpoint serves its clips from where it answers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CDN = ["cdn1.suno.ai", "cdn2.suno.ai", "audiopipe.suno.ai"]


def media_hosts(**env: str) -> list[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MUSICAPI_", "SIMULATOR_"))}
    base.update(REDIS_URL="redis://127.0.0.1:9/0", **env)  # settings only; nothing connects
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from django.conf import settings as s; "
            "import json; print(json.dumps(s.MUSICAPI_MEDIA_HOSTS))",
        ],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(out.stdout)


@pytest.mark.parametrize(
    ("base_url", "added"),
    [
        ("http://127.0.0.1:9911/api/v1", "http://127.0.0.1:9911"),
        ("https://eu.musicapi.example/api/v1", "eu.musicapi.example"),
        ("https://eu.musicapi.example:8443/api/v1", "eu.musicapi.example:8443"),
    ],
)
def test_a_vendor_at_another_address_may_serve_its_own_clips(base_url, added):
    assert media_hosts(MUSICAPI_KEY="k", MUSICAPI_BASE_URL=base_url) == [*CDN, added]


def test_the_real_vendor_gets_its_cdn_hosts_only():
    assert media_hosts(MUSICAPI_KEY="k") == CDN


def test_the_sandbox_fetches_from_its_simulator():
    assert media_hosts(SIMULATOR_PORT="9123") == [*CDN, "http://127.0.0.1:9123"]


def test_an_explicit_list_replaces_the_defaults():
    hosts = media_hosts(
        MUSICAPI_KEY="k",
        MUSICAPI_BASE_URL="http://127.0.0.1:9911/api/v1",
        MUSICAPI_MEDIA_HOSTS="media.example",
    )
    assert hosts == ["media.example"]
