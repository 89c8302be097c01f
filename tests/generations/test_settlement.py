"""A generation that ends with a vendor task is charged unless the vendor itself failed the task.

The vendor bills every task it creates and refunds only those it reports failed (every clip
failed; upstream contract: "Failed vendor tasks are refunded by the vendor automatically"). So a
generation that ends here while its task lives on at the vendor — timed out, polls out of
retries, a poll answer we could not use — spent the credits and is charged. Against the
simulator over loopback HTTP, whose own ledger says which tasks it billed.
"""

import time

import pytest

from generations import lifecycle, quotas, services
from generations.models import Account, ErrorCode, Generation, LedgerEntry, Status

pytestmark = pytest.mark.django_db

CHARGED = (1, 0, ["reserve", "charge"])
FREE = (0, 0, ["reserve", "release"])


@pytest.fixture(autouse=True)
def _broker(broker):
    """generation_create and the first poll send real messages."""


def running(user, upstream, description="calm piano"):
    """A generation the vendor has accepted (a real task in the simulator)."""
    request = {"description": description, "model": "sonic-v5"}
    generation = services.generation_create(owner=user, request=request).generation
    lifecycle.generation_submit(generation_id=generation.pk, upstream=upstream)
    generation.refresh_from_db()
    assert generation.status == Status.RUNNING and generation.vendor_task_id
    return generation


def billed(user) -> tuple[int, int, list[str]]:
    """(songs' credits used, in flight, ledger kinds)."""
    account = Account.objects.get(user=user)
    kinds = list(
        LedgerEntry.objects.filter(user=user).order_by("pk").values_list("kind", flat=True)
    )
    return account.used // quotas.price("create"), account.in_flight, kinds


def vendor_billed(simulator) -> int:
    return sum(1 for task in simulator.ledger()["tasks"] if not task["all_clips_failed"])


def poll(generation, upstream):
    generation.refresh_from_db()
    lifecycle.generation_poll(
        generation_id=generation.pk, seq=generation.poll_seq, upstream=upstream
    )
    generation.refresh_from_db()
    return generation


def test_a_generation_timed_out_here_is_charged_the_vendor_billed_its_task(
    alice, upstream, simulator, settings
):
    generation = running(alice, upstream, "[sim:never] slow song")
    settings.GENERATION_DEADLINE_S = 0
    generation = poll(generation, upstream)
    assert (generation.status, generation.error_code) == (Status.FAILED, ErrorCode.TIMED_OUT)
    assert vendor_billed(simulator) == 1
    assert billed(alice) == CHARGED


def test_a_generation_whose_polls_ran_out_of_retries_is_charged(alice, upstream, simulator):
    generation = running(alice, upstream)
    lifecycle.generation_give_up(generation_id=generation.pk)
    generation.refresh_from_db()
    assert (generation.status, generation.error_code) == (Status.FAILED, ErrorCode.UNAVAILABLE)
    assert vendor_billed(simulator) == 1
    assert billed(alice) == CHARGED


def test_a_task_the_vendor_lost_is_charged_it_was_created(alice, upstream, simulator):
    generation = running(alice, upstream)
    Generation.objects.filter(pk=generation.pk).update(vendor_task_id="gone")
    generation = poll(generation, upstream)
    assert (generation.status, generation.error_code) == (Status.FAILED, ErrorCode.INTERNAL)
    assert billed(alice) == CHARGED


def test_a_task_the_vendor_failed_is_free_the_vendor_refunded_it(alice, upstream, simulator):
    generation = running(alice, upstream, "[sim:failed] x")
    time.sleep(simulator.ready_after_s + 0.05)
    generation = poll(generation, upstream)
    assert generation.status == Status.FAILED
    assert sorted(c.state for c in generation.clips.all()) == ["failed", "failed"]
    assert vendor_billed(simulator) == 0
    assert billed(alice) == FREE


def test_a_generation_that_fails_before_the_vendor_has_a_task_is_free(alice, broker):
    request = {"description": "calm piano", "model": "sonic-v5"}
    generation = services.generation_create(owner=alice, request=request).generation
    lifecycle.generation_give_up(generation_id=generation.pk)
    assert billed(alice) == FREE


def test_usage_recomputed_from_the_ledger_agrees_after_a_time_out(
    alice, upstream, simulator, settings
):
    generation = running(alice, upstream, "[sim:never] x")
    settings.GENERATION_DEADLINE_S = 0
    poll(generation, upstream)
    assert quotas.usage_recompute(user=alice) == (quotas.price("create"), 0)


def test_a_cancel_landing_while_the_vendor_reports_the_task_failed_is_charged_once(
    alice, upstream, simulator
):
    generation = running(alice, upstream, "[sim:failed] x")
    time.sleep(simulator.ready_after_s + 0.05)

    class CancelDuringPoll:
        def status(self, task_id):
            answer = upstream.status(task_id)
            services.generation_cancel(generation=Generation.objects.get(pk=generation.pk))
            return answer

    generation = poll(generation, CancelDuringPoll())
    assert generation.status == Status.CANCELED
    assert not generation.clips.exists()  # the losing poll left nothing behind
    assert billed(alice) == CHARGED  # canceled after the vendor accepted it (README: Billing)
