"""Every vendor task created is charged to exactly one generation's user, whatever cancel, delete,
retry, crash or reconcile happens around the create; a generation canceled before its create
started is free. Against the simulator over loopback HTTP; a cancel or delete "lands mid-call"
by running inside the vendor call, as another request would."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from generations import dispatch, lifecycle, services
from generations.models import (
    Account,
    ErrorCode,
    Generation,
    LedgerEntry,
    PendingCreate,
    Status,
)
from generations.upstream import UpstreamTransient
from tests.conftest import SIMULATOR_KEY
from workers.musicapi.client import MusicApiClient
from workers.upstream import MusicApiUpstream

pytestmark = pytest.mark.django_db


class WorkerDied(Exception):
    """Stands for a worker killed after the vendor accepted the create."""


class During:
    """The real upstream, with `action` run while the vendor is handling the create."""

    def __init__(self, upstream, action, *, after: bool = False, die: bool = False) -> None:
        self.upstream, self.action, self.after, self.die = upstream, action, after, die

    def create(self, generation, **kwargs):
        if not self.after:
            self.action(generation)
        try:
            return self.upstream.create(generation, **kwargs)
        finally:
            if self.after:
                self.action(generation)
            if self.die:
                raise WorkerDied


def cancel(generation):
    assert services.generation_cancel(generation=generation).status == Status.CANCELED


def delete(generation):
    services.generation_delete(generation=generation)


def queued(user, description="calm piano"):
    request = {"description": description, "model": "sonic-v5"}
    return services.generation_create(owner=user, request=request).generation


def submit(generation, upstream):
    lifecycle.generation_submit(generation_id=generation.pk, upstream=upstream)


def creates(simulator) -> int:
    return simulator.creates()


def billed(user) -> tuple[int, int, list[str]]:
    """(used in reservations, in flight, ledger kinds): stored counters and the audit trail."""
    account = Account.objects.get(user=user)
    entries = LedgerEntry.objects.filter(user=user).order_by("pk")
    kinds = list(entries.values_list("kind", flat=True))
    unit = entries.filter(kind="reserve").values_list("units", flat=True).first() or 1
    return account.used // unit, account.in_flight, kinds


CHARGED = (1, 0, ["reserve", "charge"])
FREE = (0, 0, ["reserve", "release"])


@pytest.fixture(autouse=True)
def _broker(broker):
    """generation_create and the first poll send real messages."""


# --- a cancel or delete landing while the vendor creates -----------------------------------------


@pytest.mark.parametrize("action", [cancel, delete])
@pytest.mark.parametrize("after", [False, True], ids=["before-answer", "after-task-made"])
def test_a_cancel_or_delete_during_the_create_charges_the_task(
    alice, upstream, simulator, action, after
):
    generation = queued(alice)
    submit(generation, During(upstream, action, after=after))
    assert creates(simulator) == 1
    assert billed(alice) == CHARGED
    assert not PendingCreate.objects.exists()
    row = Generation.objects.filter(pk=generation.pk).first()
    if action is cancel:
        assert (row.status, bool(row.vendor_task_id)) == (Status.CANCELED, True)
    else:
        assert row is None


@pytest.mark.parametrize("action", [cancel, delete])
def test_a_cancel_or_delete_during_a_refused_create_is_free(alice, upstream, simulator, action):
    generation = queued(alice, "[sim:moderation] sad song")
    submit(generation, During(upstream, action))
    assert creates(simulator) == 0
    assert billed(alice) == FREE


@pytest.mark.parametrize("action", [cancel, delete])
def test_a_cancel_or_delete_during_a_transient_create_error_is_free_and_not_retried(
    alice, upstream, simulator, action
):
    generation = queued(alice, "[sim:create-500] jazz")
    with pytest.raises(UpstreamTransient):
        submit(generation, During(upstream, action))
    submit(generation, upstream)  # the retry finds it canceled or gone
    assert creates(simulator) == 0
    assert billed(alice) == FREE


def test_a_cancel_before_the_create_started_is_free(alice, upstream, simulator):
    generation = queued(alice)
    cancel(generation)
    submit(generation, upstream)
    assert creates(simulator) == 0
    assert billed(alice) == FREE


def test_a_cancel_after_the_create_is_charged_once(alice, upstream, simulator):
    generation = queued(alice)
    submit(generation, upstream)
    cancel(generation)
    assert creates(simulator) == 1
    assert billed(alice) == CHARGED


# --- no answer: the vendor may have created the task ---------------------------------------------


@pytest.fixture
def impatient(simulator):
    """An upstream that gives up reading after 0.3 s, against a vendor that answers in 1 s."""
    simulator.configure(faults={"slow": 1.0, "slow_s": 1.0})
    client = MusicApiClient(
        base_url=f"{simulator.public_url}/api/v1", key=SIMULATOR_KEY, timeout_s=(2, 0.3)
    )
    return MusicApiUpstream(client)


def resubmissions(messages) -> int:
    return sum(1 for m in messages if m.actor_name == dispatch.SUBMIT_GENERATION)


def wait_for_creates(simulator, count):
    deadline = time.monotonic() + 10
    while creates(simulator) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def test_an_unanswered_create_is_charged_as_unconfirmed_and_never_resent(
    alice, impatient, simulator, sent_messages
):
    generation = queued(alice)
    submit(generation, impatient)
    generation.refresh_from_db()
    assert (generation.status, generation.error_code) == (Status.FAILED, ErrorCode.UNCONFIRMED)
    assert billed(alice) == CHARGED
    submit(generation, impatient)
    lifecycle.generations_reconcile(grace_s=0)
    wait_for_creates(simulator, 1)
    assert creates(simulator) == 1  # the vendor did make it, once
    assert resubmissions(sent_messages) == 0


@pytest.mark.parametrize("action", [cancel, delete])
def test_a_cancel_or_delete_during_an_unanswered_create_is_charged(
    alice, impatient, simulator, action
):
    generation = queued(alice)
    submit(generation, During(impatient, action))
    assert billed(alice) == CHARGED


# --- a worker that died inside the create --------------------------------------------------------


def _expire_leases():
    PendingCreate.objects.update(started_at=timezone.now() - timedelta(hours=1))


@pytest.mark.parametrize("action", [None, cancel, delete])
def test_reconcile_charges_a_create_whose_worker_died_and_sends_nothing(
    alice, upstream, simulator, sent_messages, action
):
    generation = queued(alice)
    with pytest.raises(WorkerDied):
        submit(generation, During(upstream, action or (lambda g: None), after=True, die=True))
    assert billed(alice)[1] == 1  # still in flight: nothing knows the outcome yet
    assert lifecycle.generations_reconcile(grace_s=0).unconfirmed == 0  # lease not over
    _expire_leases()
    assert lifecycle.generations_reconcile(grace_s=0).unconfirmed == 1
    assert billed(alice) == CHARGED
    assert creates(simulator) == 1
    assert resubmissions(sent_messages) == 0
    row = Generation.objects.filter(pk=generation.pk).first()
    if action is None:
        assert (row.status, row.error_code) == (Status.FAILED, ErrorCode.UNCONFIRMED)
    assert lifecycle.generations_reconcile(grace_s=0).unconfirmed == 0
    assert billed(alice) == CHARGED


def test_a_late_answer_after_reconcile_gave_up_charges_nothing_more(alice, upstream, simulator):
    generation = queued(alice)

    def reconcile_first(generation):
        _expire_leases()
        lifecycle.generations_reconcile(grace_s=0)

    submit(generation, During(upstream, reconcile_first, after=True))
    generation.refresh_from_db()
    assert (generation.status, bool(generation.vendor_task_id)) == (Status.FAILED, True)
    assert billed(alice) == CHARGED
