"""Prices and the default plan are settings: CREDIT_COSTS overrides the vendor's prices one by one,
DEFAULT_PLAN_CREDITS sizes the default plan, and a mistake stops start-up naming the variable."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

SETTINGS = str(Path(__file__).resolve().parent.parent / "config" / "settings.py")


def load(monkeypatch, **env: str) -> dict:
    for name in ("CREDIT_COSTS", "DEFAULT_PLAN_CREDITS", "DEFAULT_PLAN_GENERATIONS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(SETTINGS)


def test_credit_costs_override_the_vendors_prices_one_by_one(monkeypatch):
    loaded = load(monkeypatch, CREDIT_COSTS="wav=3, stems_full=80")
    costs = loaded["CREDIT_COSTS"]
    assert (costs["wav"], costs["stems_full"], costs["create"], costs["stems_basic"]) == (
        3,
        80,
        15,
        15,
    )


def test_the_default_plan_is_twenty_songs_of_credits(monkeypatch):
    assert load(monkeypatch)["DEFAULT_PLAN"]["credits_per_period"] == 300
    assert load(monkeypatch, DEFAULT_PLAN_CREDITS="45")["DEFAULT_PLAN"]["credits_per_period"] == 45


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"CREDIT_COSTS": "remix=3"}, r"CREDIT_COSTS: unknown operation 'remix'"),
        ({"CREDIT_COSTS": "wav=-1"}, r"CREDIT_COSTS: wav"),
        ({"CREDIT_COSTS": "wav=two"}, r"CREDIT_COSTS"),
        ({"DEFAULT_PLAN_CREDITS": "-5"}, r"DEFAULT_PLAN_CREDITS"),
        # The old variable counted generations: refusing it beats silently ignoring it.
        ({"DEFAULT_PLAN_GENERATIONS": "20"}, r"DEFAULT_PLAN_GENERATIONS.*DEFAULT_PLAN_CREDITS"),
    ],
)
def test_a_bad_price_or_plan_stops_start_up(monkeypatch, env, says):
    with pytest.raises(ImproperlyConfigured, match=says):
        load(monkeypatch, **env)
