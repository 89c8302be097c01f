import json
import logging
import logging.config
from datetime import timedelta

import pytest
from django.utils import timezone

from generations.models import Generation, Status

pytestmark = pytest.mark.django_db


def sample(text: str, name: str) -> float:
    line = next(
        line
        for line in text.splitlines()
        if line.startswith(name + " ") or line.startswith(name + "{")
    )
    return float(line.rsplit(" ", 1)[1])


@pytest.fixture
def scraper(client, settings):
    """A scraper with the token /metrics requires when DEBUG is off (as under pytest)."""
    settings.METRICS_TOKEN = "scrape-me"
    client.defaults["HTTP_AUTHORIZATION"] = "Bearer scrape-me"
    return client


def test_metrics_count_generations_from_the_database(scraper, alice, generation_factory, broker):
    generation_factory(owner=alice, status=Status.SUCCEEDED)
    generation_factory(owner=alice, status=Status.FAILED, error_code="rejected")
    late = generation_factory(owner=alice, status=Status.RUNNING)
    Generation.objects.filter(pk=late.pk).update(next_check_at=timezone.now() - timedelta(hours=1))
    response = scraper.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert sample(text, 'musicgateway_generations{status="succeeded"}') == 1
    assert sample(text, 'musicgateway_generations{status="running"}') == 1
    assert sample(text, 'musicgateway_generations_failed{code="rejected"}') == 1
    assert sample(text, "musicgateway_generations_overdue") == 1
    assert sample(text, "musicgateway_generations_overdue_seconds") >= 3600
    for queue in ("generations", "polls", "polls.DQ", "media"):
        assert f'musicgateway_broker_messages{{queue="{queue}"}}' in text


def test_metrics_show_the_vendors_balance_and_its_threshold(scraper, settings):
    from generations.models import VendorBalance

    settings.VENDOR_CREDITS_LOW_THRESHOLD = 300
    settings.METRICS_CACHE_S = 0
    assert "musicgateway_vendor_credits{" not in scraper.get("/metrics").content.decode()
    VendorBalance.objects.create(credits=250, extra_credits=40, checked_at=timezone.now())
    text = scraper.get("/metrics").content.decode()
    assert sample(text, 'musicgateway_vendor_credits{kind="credits"}') == 250
    assert sample(text, 'musicgateway_vendor_credits{kind="extra_credits"}') == 40
    assert sample(text, "musicgateway_vendor_credits_low_threshold") == 300
    assert 0 <= sample(text, "musicgateway_vendor_credits_age_seconds") < 60


def test_metrics_can_require_a_token(client, settings):
    settings.METRICS_TOKEN = "scrape-me"
    assert client.get("/metrics").status_code == 401
    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me")
    assert ok.status_code == 200


def test_json_logs_are_one_object_per_line(settings, capsys):
    config = {
        **settings.LOGGING,
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    }
    logging.config.dictConfig(config)
    try:
        logging.getLogger("generations.test").warning("generation %s failed", "abc")
        line = capsys.readouterr().err.strip().splitlines()[-1]
        record = json.loads(line)
        assert record["message"] == "generation abc failed"
        assert (record["level"], record["logger"]) == ("WARNING", "generations.test")
        assert "time" in record
    finally:
        logging.config.dictConfig(settings.LOGGING)


def test_metrics_do_not_exist_outside_debug_without_a_token(client, settings):
    """Finding 11: /metrics was open by default with DEBUG off."""
    settings.DEBUG, settings.METRICS_TOKEN = False, ""
    response = client.get("/metrics")
    assert (response.status_code, response["Content-Type"]) == (404, "application/problem+json")
    settings.METRICS_TOKEN = "scrape-me"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me").status_code == 200


def test_scrapes_share_one_computation(scraper, alice, generation_factory, settings):
    """Each scrape ran full-table aggregates; now one per METRICS_CACHE_S, whoever scrapes."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.METRICS_CACHE_S = 60
    generation_factory(owner=alice, status=Status.SUCCEEDED)
    with CaptureQueriesContext(connection) as first:
        assert scraper.get("/metrics").status_code == 200
    with CaptureQueriesContext(connection) as later:
        for _ in range(5):
            text = scraper.get("/metrics").content.decode()
    assert len(first) > 0
    assert len(later) == 0
    assert sample(text, 'musicgateway_generations{status="succeeded"}') == 1
