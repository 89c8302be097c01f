"""The vendor's balance for operators: read from `GET /get-credits` (the client's credits call,
against the simulator over loopback) by a periodic worker job, kept for the admin and `/readyz`,
and an operator alert below VENDOR_CREDITS_LOW_THRESHOLD."""

import logging

import pytest
from django.contrib.admin.sites import site

from generations import vendor_balance
from generations.models import VendorBalance
from workers import actors

pytestmark = pytest.mark.django_db


def test_the_balance_is_read_from_the_vendor_and_kept(upstream, simulator):
    simulator.credits = 1234
    reading = vendor_balance.vendor_balance_check(upstream=upstream)
    assert (reading.credits, reading.extra_credits, reading.error) == (1234, 0, "")
    assert VendorBalance.objects.get().credits == 1234
    simulator.credits = 1200  # a second reading replaces the first: one row
    vendor_balance.vendor_balance_check(upstream=upstream)
    assert list(VendorBalance.objects.values_list("credits", flat=True)) == [1200]


def test_a_balance_below_the_threshold_alerts_the_operator(upstream, simulator, settings, caplog):
    settings.VENDOR_CREDITS_LOW_THRESHOLD = 100
    simulator.credits = 99
    with caplog.at_level(logging.ERROR):
        vendor_balance.vendor_balance_check(upstream=upstream)
    assert any("OPERATOR" in r.message and "99" in r.message for r in caplog.records)
    assert vendor_balance.vendor_balance_state()["state"] == "low"
    simulator.credits = 100
    vendor_balance.vendor_balance_check(upstream=upstream)
    assert vendor_balance.vendor_balance_state()["state"] == "ok"


def test_a_failed_reading_keeps_the_last_balance_and_says_why(upstream, simulator, caplog):
    simulator.credits = 500
    vendor_balance.vendor_balance_check(upstream=upstream)
    upstream.client._key = "wrong-key"
    with caplog.at_level(logging.ERROR):
        reading = vendor_balance.vendor_balance_check(upstream=upstream)
    assert reading.credits == 500 and reading.error
    assert any("OPERATOR" in r.message for r in caplog.records)
    state = vendor_balance.vendor_balance_state()
    assert (state["state"], state["credits"], state["error"]) == ("ok", 500, reading.error)


def test_never_read_is_unknown():
    assert vendor_balance.vendor_balance_state() == {
        "state": "unknown",
        "credits": None,
        "extra_credits": None,
        "threshold": vendor_balance.threshold(),
        "checked_at": None,
        "error": "",
    }


def test_a_periodic_worker_job_reads_it_every_minute():
    assert actors.check_vendor_balance.options["periodic"].minute == list(range(60))


def test_the_admin_shows_the_balance_read_only(admin_client, upstream, simulator):
    simulator.credits = 4321
    vendor_balance.vendor_balance_check(upstream=upstream)
    page = admin_client.get("/admin/generations/vendorbalance/")
    assert page.status_code == 200 and b"4321" in page.content
    admin = site._registry[VendorBalance]
    assert not admin.has_add_permission(None) and not admin.has_delete_permission(None)
