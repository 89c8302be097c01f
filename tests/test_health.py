import pytest


@pytest.mark.django_db
def test_healthz_and_readyz_answer_when_the_database_and_redis_do(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}


@pytest.mark.django_db
def test_readyz_is_503_when_redis_is_unreachable(client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == "unavailable"


@pytest.mark.django_db
def test_readyz_is_degraded_below_the_vendor_credits_threshold(client, settings):
    from django.utils import timezone

    from generations.models import VendorBalance

    settings.VENDOR_CREDITS_LOW_THRESHOLD = 300
    VendorBalance.objects.create(credits=250, extra_credits=50, checked_at=timezone.now())
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ok" and body["checks"] == {"database": "ok", "redis": "ok"}
    assert body["vendor_credits"]["state"] == "ok"  # 250 + 50 extra credits: at the threshold
    VendorBalance.objects.update(extra_credits=49)
    ready = client.get("/readyz")
    assert ready.status_code == 200  # still serving: users' songs go on while credits last
    body = ready.json()
    assert body["status"] == "degraded"
    assert body["vendor_credits"] | {"checked_at": None} == {
        "state": "low",
        "credits": 250,
        "extra_credits": 49,
        "threshold": 300,
        "checked_at": None,
        "error": "",
    }


@pytest.mark.django_db
def test_readyz_without_a_balance_reading_is_not_degraded(client):
    body = client.get("/readyz").json()
    assert (body["status"], body["vendor_credits"]["state"]) == ("ok", "unknown")
