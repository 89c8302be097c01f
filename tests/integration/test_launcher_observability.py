"""`make run`'s /metrics and logs, from the processes a newcomer starts (issue 17)."""

from __future__ import annotations

import re

import pytest
import requests

from tests.integration.helpers import wait_terminal
from tests.launcher import Launcher, fresh_checkout, sweep
from tests.stack import wait_for

pytestmark = pytest.mark.integration

PLAIN_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) \S+ ")
FAST_SANDBOX = {"SIMULATOR_READY_AFTER_S": "1", "SIMULATOR_CLIP_DURATION_S": "3"}


@pytest.fixture(scope="module")
def run():
    """One `make run`, one song created and finished, then a scrape; shared by the tests."""
    checkout = fresh_checkout()
    launcher = Launcher(checkout, METRICS_CACHE_S="0", **FAST_SANDBOX)
    try:
        base, token = launcher.wait_banner()
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        # A loaded CI machine is slow to answer the first request of a fresh process.
        created = session.post(
            f"{base}/api/v1/generations", json={"description": "metrics and logs"}, timeout=60
        )
        assert created.status_code == 202, created.text
        generation = created.json()
        done = wait_terminal(session, base, [generation["id"]], timeout_s=180)[generation["id"]]
        assert done["status"] == "succeeded", done
        missing = session.get(f"{base}/api/v1/generations/{'0' * 8}-0000-0000-0000-{'0' * 12}")
        assert missing.status_code == 404

        def scraped():
            text = requests.get(f"{base}/metrics", timeout=10).text
            # The two media copies run last: every actor has reported once they are in.
            copies = samples(text, "dramatiq_messages_total", actor_name="copy_clip_media")
            return text if sum(copies) == 2 else None

        metrics = wait_for(scraped, 60, "the media worker's figures on /metrics", interval_s=1)
        yield {
            "launcher": launcher,
            "metrics": metrics,
            "generation": generation,
            "not_found": missing,
        }
        assert launcher.interrupt() == 0
    finally:
        sweep(checkout)


def samples(text: str, name: str, **labels: str) -> list[float]:
    found = []
    for line in text.splitlines():
        match = re.match(rf"{name}\{{(.*)\}} (\S+)$", line)
        if match and all(f'{k}="{v}"' in match.group(1) for k, v in labels.items()):
            found.append(float(match.group(2)))
    return found


def test_metrics_have_request_latency_by_route_and_status(run):
    text = run["metrics"]
    created = samples(
        text,
        "django_http_requests_latency_seconds_by_view_method_status_count",
        view="generation-list",
        method="POST",
        status="202",
    )
    assert created == [1.0], created
    missing = samples(
        text,
        "django_http_requests_latency_seconds_by_view_method_status_count",
        view="generation-detail",
        status="404",
    )
    assert missing == [1.0], missing
    buckets = samples(
        text,
        "django_http_requests_latency_seconds_by_view_method_status_bucket",
        view="generation-list",
        status="202",
    )
    assert len(buckets) > 5


def test_metrics_have_dramatiq_figures_from_every_worker_pool(run):
    """The worker processes' counters reach the web's /metrics (multiprocess mode)."""
    text = run["metrics"]
    submitted = samples(
        text, "dramatiq_messages_total", queue_name="generations", actor_name="submit_generation"
    )
    assert sum(submitted) == 1, submitted
    assert sum(samples(text, "dramatiq_messages_total", actor_name="poll_generation")) >= 1
    # Two clips copied by the media pool, a process of its own.
    copies = samples(text, "dramatiq_messages_total", actor_name="copy_clip_media")
    assert sum(copies) == 2, copies
    durations = "dramatiq_message_duration_milliseconds_count"
    assert samples(text, durations, actor_name="copy_clip_media")
    assert sum(samples(text, "dramatiq_message_errors_total")) == 0
    # Beside the domain gauges.
    assert samples(text, "musicgateway_generations", status="succeeded") == [1.0]


def test_logs_have_one_format_each_event_once_and_the_ids(run):
    text = run["launcher"].text()
    generation_id = run["generation"]["id"]
    assert "lifespan" not in text.lower()
    # Every line after the banner, from every process (uvicorn, both Dramatiq pools and their
    # main processes, the scheduler, the simulator), in the one plain format.
    logged = text.split("Ctrl-C stops everything.", 1)[1].splitlines()
    odd = [line for line in logged if line.strip() and not PLAIN_LINE.match(line)]
    assert odd == [], odd
    # The 404: one line, Django's "Not Found" warning no longer beside it.
    missing = [line for line in text.splitlines() if "0000-0000-0000" in line]
    assert len(missing) == 1, missing
    assert " api.request GET " in missing[0] and " 404 " in missing[0]
    assert f"request_id={run['not_found'].headers['X-Request-ID']}" in missing[0]
    # The create's lines carry the request, user and generation; the worker's the actor.
    (queued,) = [line for line in text.splitlines() if "queued for user" in line]
    assert "request_id=" in queued and "user_id=" in queued
    assert f"generation_id={generation_id}" in queued
    (running,) = [line for line in text.splitlines() if "running as vendor task" in line]
    assert f"generation_id={generation_id}" in running and "actor=submit_generation" in running
