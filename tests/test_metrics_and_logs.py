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


def test_metrics_have_request_latency_by_route_and_status(scraper, alice_client):
    """Issue 17: HTTP request metrics (django-prometheus) beside the domain gauges."""
    name = "django_http_requests_latency_seconds_by_view_method_status_count"
    labels = '{method="GET",status="404",view="generation-detail"}'

    def count() -> float:
        text = scraper.get("/metrics").content.decode()
        return sample(text, name + labels) if name + labels in text else 0.0

    before = count()
    missing = alice_client.get("/api/v1/generations/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert count() == before + 1


@pytest.fixture
def json_logs(settings, capsys):
    """Call it first in the test: the service's log config in JSON mode, writing to the captured
    stderr (a handler made in a fixture's setup writes to a stream closed by the call phase)."""
    from config import logs

    def start():
        logging.config.dictConfig(logs.config("json", "INFO"))
        capsys.readouterr()

        def records() -> list[dict]:
            err = capsys.readouterr().err
            return [json.loads(line) for line in err.splitlines() if line]

        return records

    yield start
    logging.config.dictConfig(settings.LOGGING)


GONE = "00000000-0000-0000-0000-000000000001"


def test_a_4xx_is_logged_once_with_its_request_user_and_generation(alice_client, alice, json_logs):
    records = json_logs()
    """Issue 17: each 4xx was logged twice (Django's console handler and the root's)."""
    response = alice_client.get(f"/api/v1/generations/{GONE}", HTTP_X_REQUEST_ID="trace-17")
    assert response.status_code == 404
    assert response["X-Request-ID"] == "trace-17"
    lines = [r for r in records() if GONE in json.dumps(r)]
    assert len(lines) == 1, lines
    (line,) = lines
    assert (line["logger"], line["status"], line["method"]) == ("api.request", 404, "GET")
    assert line["request_id"] == "trace-17"
    assert line["user_id"] == str(alice.pk)
    assert line["generation_id"] == GONE


def test_every_line_of_a_request_carries_its_ids(alice_client, alice, json_logs, broker):
    records = json_logs()
    response = alice_client.post(
        "/api/v1/generations", {"description": "ids in the logs"}, format="json"
    )
    assert response.status_code == 202
    generation_id = response.json()["id"]
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32  # none sent: one made
    lines = [r for r in records() if r.get("request_id") == request_id]
    assert [r["logger"] for r in lines] == ["generations.services", "api.request"]
    for line in lines:
        assert (line["user_id"], line["generation_id"]) == (str(alice.pk), generation_id)


def test_a_request_id_that_could_forge_log_lines_is_replaced(client, json_logs):
    records = json_logs()
    response = client.get("/healthz", HTTP_X_REQUEST_ID="a\nb=1 " + "x" * 80)
    assert response["X-Request-ID"].isalnum() and len(response["X-Request-ID"]) == 32
    (line,) = [r for r in records() if r["logger"] == "api.request"]
    assert line["request_id"] == response["X-Request-ID"]


def test_plain_lines_end_with_the_ids(settings, capsys):
    from config import logs

    logging.config.dictConfig(logs.config("plain", "INFO"))
    try:
        logs.bind(request_id="r1", generation_id="g1")
        logging.getLogger("generations.test").info("hello")
        line = capsys.readouterr().err.strip().splitlines()[-1]
        assert line.endswith(" INFO generations.test hello request_id=r1 generation_id=g1"), line
    finally:
        logs.clear()
        logging.config.dictConfig(settings.LOGGING)


def test_worker_lines_name_the_actor_and_the_generation(json_logs):
    from dramatiq import Message

    from workers.logcontext import LogContext, ids_of

    records = json_logs()

    message = Message(
        queue_name="polls", actor_name="poll_generation", args=("g-1", 3), kwargs={}, options={}
    )
    middleware = LogContext()
    middleware.before_process_message(None, message)
    logging.getLogger("generations.lifecycle").info("polled")
    middleware.after_process_message(None, message)
    logging.getLogger("generations.lifecycle").info("between messages")
    first, second = records()
    assert (first["actor"], first["generation_id"]) == ("poll_generation", "g-1")
    assert "generation_id" not in second
    give_up = {"args": ["c-9"], "actor_name": "copy_clip_media"}
    assert ids_of("give_up_clip_media", (give_up, {})) == {"clip_id": "c-9"}


def test_every_actor_names_what_it_works_on():
    from generations import dispatch
    from workers.logcontext import FIRST_ARGUMENT, GIVE_UPS

    assert set(FIRST_ARGUMENT) | set(GIVE_UPS) == set(dispatch.QUEUES)


def test_a_session_user_nobody_loaded_is_not_loaded_for_the_log_line():
    """The demo page's session cookie made every async view (GET /events) a 500: the log line
    evaluated the lazy session user, a database query in the event loop."""
    from django.http import HttpRequest
    from django.utils.functional import SimpleLazyObject

    from config.logs import _user_id

    def load():
        raise AssertionError("the session user was loaded for the log")

    request = HttpRequest()
    request.user = SimpleLazyObject(load)
    assert _user_id(request) is None


def test_a_bad_host_is_one_warning_line_without_a_traceback(client, json_logs, settings):
    """A `Host: evil.example` answered 400 but logged an ERROR with ~50 lines of traceback."""
    settings.ALLOWED_HOSTS = ["testserver"]
    records = json_logs()
    response = client.get("/demo/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    (line,) = [r for r in records() if r["logger"] == "django.security.DisallowedHost"]
    assert line["level"] == "WARNING"
    assert "evil.example" in line["message"]
    assert "exc_info" not in line and "Traceback" not in json.dumps(line)


def test_a_bad_host_in_plain_logs_is_one_line(client, settings, capsys):
    from config import logs

    settings.ALLOWED_HOSTS = ["testserver"]
    logging.config.dictConfig(logs.config("plain", "INFO"))
    try:
        capsys.readouterr()
        assert client.get("/demo/", HTTP_HOST="evil.example").status_code == 400
        lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        (line,) = [line for line in lines if "DisallowedHost" in line]
        assert " WARNING django.security.DisallowedHost " in line
        assert not any("Traceback" in line for line in lines), lines
    finally:
        logging.config.dictConfig(settings.LOGGING)
