"""Personas through the vendor: a persona job made at the simulator over loopback HTTP (its
synchronous `POST /sonic/persona`), settled at 1 credit; a persona_music generation sung by it;
a persona outliving the song it was made from."""

from __future__ import annotations

import time

import pytest

from generations import job_lifecycle, lifecycle, personas, services
from generations.models import (
    Account,
    ErrorCode,
    Event,
    EventType,
    Generation,
    Job,
    JobKind,
    LedgerEntry,
    Mode,
    Operation,
    Persona,
    Status,
)
from generations.quotas import usage_recompute

pytestmark = pytest.mark.django_db


@pytest.fixture
def song(alice, generation_factory, upstream, simulator, django_capture_on_commit_callbacks):
    """A finished clip of alice's made at the simulator (by the factory: it holds no credits)."""
    generation = generation_factory(owner=alice, description="warm soul vocals")
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.generation_submit(generation_id=generation.pk, upstream=upstream)
    time.sleep(simulator.ready_after_s + 0.05)
    lifecycle.generation_poll(generation_id=generation.pk, seq=1, upstream=upstream)
    return generation.clips.order_by("vendor_clip_id").first()


@pytest.fixture
def make_persona(alice, upstream, broker, django_capture_on_commit_callbacks):
    def _make(clip, name="Velvet", **fields) -> Persona:
        with django_capture_on_commit_callbacks(execute=True):
            created = personas.persona_create(owner=alice, clip=clip, name=name, **fields)
            job_lifecycle.job_submit(job_id=created.persona.job_id, upstream=upstream)
        return Persona.objects.select_related("job").get(pk=created.persona.pk)

    return _make


def persona_calls(simulator) -> list[dict]:
    return [c for c in simulator.calls if c["path"].endswith("/sonic/persona")]


def test_a_persona_is_made_at_once_from_the_clip_and_costs_one_credit(
    alice, song, make_persona, simulator
):
    before = simulator.credits
    persona = make_persona(song, description="a warm alto", styles="soul")
    assert persona.job.status == Status.SUCCEEDED
    assert persona.job.kind == JobKind.PERSONA
    assert persona.vendor_persona_id.startswith("persona-")
    assert simulator.credits == before - 1
    assert len(persona_calls(simulator)) == 1
    assert simulator.sync_charges[-1] == {
        "call": "persona",
        "clip_id": song.vendor_clip_id,
        "credits": 1,
    }
    assert Account.objects.get(user=alice).used == 1
    kinds = sorted(LedgerEntry.objects.filter(operation="persona").values_list("kind", "units"))
    assert kinds == [("charge", 0), ("reserve", 1)]
    assert usage_recompute(user=alice) == (1, 0)
    # Its changes are events on the song's stream naming the clip (which carries the job).
    announced = Event.objects.filter(generation=song.generation, type=EventType.CLIP_JOB_UPDATED)
    assert announced.count() == 2  # submitting, succeeded
    assert set(announced.values_list("clip_id", flat=True)) == {song.pk}


def test_a_persona_the_vendor_refuses_fails_with_its_reason_and_costs_nothing(
    alice, song, make_persona
):
    song.vendor_clip_id = "not-a-clip-of-the-vendors"
    song.save()
    persona = make_persona(song)
    assert persona.job.status == Status.FAILED
    assert persona.job.error_code == ErrorCode.REJECTED
    assert persona.job.error_detail
    assert persona.vendor_persona_id == ""
    assert Account.objects.get(user=alice).used == 0


def test_one_clip_can_give_two_personas(song, make_persona, simulator):
    first = make_persona(song, name="Velvet")
    second = make_persona(song, name="Smoke")
    assert first.job_id != second.job_id
    assert first.vendor_persona_id != second.vendor_persona_id
    assert len(persona_calls(simulator)) == 2


def test_a_persona_music_generation_sends_the_vendors_persona_id_and_costs_a_song(
    alice, song, make_persona, upstream, simulator, django_capture_on_commit_callbacks
):
    persona = make_persona(song)
    used = Account.objects.get(user=alice).used
    created = services.generation_create(
        owner=alice,
        request={
            "operation": Operation.PERSONA_MUSIC,
            "mode": Mode.CUSTOM,
            "persona": persona,
            "lyrics": "[Verse]\nla la",
            "tags": "soul",
            "model": "sonic-v5",
        },
    )
    generation = created.generation
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.generation_submit(generation_id=generation.pk, upstream=upstream)
    time.sleep(simulator.ready_after_s + 0.05)
    lifecycle.generation_poll(generation_id=generation.pk, seq=1, upstream=upstream)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    sent = simulator._tasks[generation.vendor_task_id].payload
    assert sent["task_type"] == "persona_music"
    assert sent["persona_id"] == persona.vendor_persona_id
    assert sent["custom_mode"] is True
    assert Account.objects.get(user=alice).used == used + 15


def test_a_persona_outlives_the_song_it_was_made_from(song, make_persona):
    persona = make_persona(song)
    services.generation_delete(generation=song.generation)
    assert not Generation.objects.filter(pk=song.generation_id).exists()
    persona.refresh_from_db()
    assert persona.clip is None
    assert Job.objects.get(pk=persona.job_id).status == Status.SUCCEEDED
    assert persona.vendor_persona_id
