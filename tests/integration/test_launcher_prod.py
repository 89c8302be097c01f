"""`make run-prod`: DEBUG off, SECRET_KEY required, `check --deploy` clean, gunicorn + uvicorn."""

from __future__ import annotations

import secrets
import subprocess
import sys

import pytest
import requests

from tests.integration.helpers import wait_terminal
from tests.launcher import Launcher, fresh_checkout, newcomer_env, processes_in, sweep
from tests.stack import wait_for

pytestmark = pytest.mark.integration

PROD = [sys.executable, "-m", "config.runstack", "--prod"]
FAST_SANDBOX = {"SIMULATOR_READY_AFTER_S": "1", "SIMULATOR_CLIP_DURATION_S": "3"}
# Behind the TLS proxy it expects: without it, DEBUG off redirects http to https.
PROXIED = {"X-Forwarded-Proto": "https"}


@pytest.fixture
def checkout():
    made = fresh_checkout()
    yield made
    sweep(made)


def test_run_prod_refuses_to_start_without_a_secret_key_or_allowed_hosts(checkout):
    missing_key = Launcher(checkout, command=PROD, DEBUG="false")
    assert missing_key.wait_exit(timeout_s=120) == 1
    assert missing_key.text().strip().splitlines() == [
        "make run-prod: SECRET_KEY must be set when DEBUG is off."
    ]
    missing_hosts = Launcher(
        checkout, command=PROD, DEBUG="false", SECRET_KEY=secrets.token_urlsafe(50)
    )
    assert missing_hosts.wait_exit(timeout_s=120) == 1
    (line,) = missing_hosts.text().strip().splitlines()
    assert line.startswith("make run-prod: ALLOWED_HOSTS: must be set when DEBUG is off")
    assert processes_in(checkout) == []


def test_run_prod_serves_a_song_from_gunicorn_workers_with_debug_off(checkout):
    env = {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "METRICS_TOKEN": "scrape",
        "METRICS_CACHE_S": "0",
        "WEB_CONCURRENCY": "2",
        **FAST_SANDBOX,
    }
    launcher = Launcher(checkout, command=PROD, **env)
    base, _ = launcher.wait_banner(token=False)
    text = launcher.text()
    assert "Production profile: DEBUG off, gunicorn with 2 uvicorn workers" in text
    # The master and two workers.
    wait_for(
        lambda: len([p for p in processes_in(checkout) if "gunicorn" in p]) == 3,
        60,
        "gunicorn's master and its two workers",
    )

    minted = subprocess.run(
        [sys.executable, "manage.py", "create_api_user", "prod-user"],
        cwd=checkout,
        env=newcomer_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    token = minted.stdout.strip().splitlines()[-1]
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {token}", **PROXIED})
    created = session.post(f"{base}/api/v1/generations", json={"description": "prod"}, timeout=60)
    assert created.status_code == 202, created.text
    generation_id = created.json()["id"]
    done = wait_terminal(session, base, [generation_id], timeout_s=180)[generation_id]
    assert done["status"] == "succeeded", done

    # DEBUG off: a problem document, never Django's debug page; http goes to https.
    missing = session.get(f"{base}/api/v1/nothing-here", timeout=30)
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "application/problem+json"
    plain = requests.get(f"{base}/api/v1/me", allow_redirects=False, timeout=30)
    assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")
    assert requests.get(f"{base}/metrics", timeout=30).status_code == 401

    def scraped() -> str | None:
        text = requests.get(
            f"{base}/metrics", headers={"Authorization": "Bearer scrape"}, timeout=30
        ).text
        # Both clips copied (a copy cut off by the Ctrl-C below would log its failure).
        copied = 'dramatiq_messages_total{actor_name="copy_clip_media",queue_name="media"} 2.0'
        return text if copied in text else None

    metrics = wait_for(scraped, 60, "both copies counted on /metrics", interval_s=1)
    # Both gunicorn workers' requests, added up (multiprocess mode).
    assert "django_http_requests_latency_seconds_by_view_method_status" in metrics

    # An event stream open on a worker ends cleanly when run-prod stops (curl exit 0; 18 is a
    # response cut by the worker's SIGKILL after gunicorn's graceful_timeout).
    curl = ["curl", "-sN", "--max-time", "90", "-H", "X-Forwarded-Proto: https"]
    stream = subprocess.Popen(
        [*curl, "-H", f"Authorization: Bearer {token}", f"{base}/api/v1/events"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert stream.stdout.readline().startswith("retry:")

    assert launcher.interrupt() == 0
    assert stream.wait(timeout=60) == 0, "the stream was cut, not ended"
    wait_for(lambda: processes_in(checkout) == [], 60, "every process of run-prod to end")
    text = launcher.text()
    assert "Traceback" not in text, [line for line in text.splitlines() if "Traceback" in line]
