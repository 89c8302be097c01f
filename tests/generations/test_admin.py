"""Finding 10: the admin shows generations and clips read-only, never the webhook secret, and
changes state only through actions that call the services."""

from __future__ import annotations

import pytest

from generations.models import Clip, Generation, Job, Persona, Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "pw"))
    return client


@pytest.fixture
def running(alice, generation_factory):
    return generation_factory(
        owner=alice, status=Status.RUNNING, webhook_secret="whsec-do-not-show", poll_seq=4
    )


def test_the_webhook_secret_is_never_shown(operator, running):
    page = operator.get(f"/admin/generations/generation/{running.pk}/change/")
    assert page.status_code == 200
    assert b"whsec-do-not-show" not in page.content
    assert b"webhook_secret" not in page.content


def test_generation_state_cannot_be_edited(operator, running):
    url = f"/admin/generations/generation/{running.pk}/change/"
    response = operator.post(url, {"status": "succeeded", "poll_seq": 99, "submit_attempts": 0})
    assert response.status_code == 403
    running.refresh_from_db()
    assert (running.status, running.poll_seq) == (Status.RUNNING, 4)
    assert operator.get("/admin/generations/generation/add/").status_code == 403


def test_clip_state_and_vendor_urls_cannot_be_edited(operator, clip_factory, alice):
    clip = clip_factory(generation__owner=alice)
    url = f"/admin/generations/clip/{clip.pk}/change/"
    response = operator.post(url, {"state": "failed", "vendor_audio_url": "http://10.0.0.1/"})
    assert response.status_code == 403
    clip.refresh_from_db()
    assert clip.vendor_audio_url != "http://10.0.0.1/"


def test_cancel_and_delete_are_actions_through_the_services(operator, running, generation_factory):
    done = generation_factory(owner=running.owner, status=Status.SUCCEEDED)
    changelist = "/admin/generations/generation/"
    operator.post(
        changelist, {"action": "cancel", "_selected_action": [str(running.pk), str(done.pk)]}
    )
    running.refresh_from_db()
    done.refresh_from_db()
    assert (running.status, done.status) == (Status.CANCELED, Status.SUCCEEDED)
    operator.post(changelist, {"action": "delete_with_media", "_selected_action": [str(done.pk)]})
    assert not Generation.objects.filter(pk=done.pk).exists()
    assert not Clip.objects.filter(generation_id=done.pk).exists()


def test_jobs_are_shown_but_cannot_be_edited(operator, alice):
    job = Job.objects.create(owner=alice, kind="wav", status=Status.RUNNING, vendor_task_id="t9")
    url = f"/admin/generations/job/{job.pk}/change/"
    assert b"t9" in operator.get(url).content
    assert operator.post(url, {"status": "succeeded", "settled": "on"}).status_code == 403
    job.refresh_from_db()
    assert (job.status, job.settled) == (Status.RUNNING, False)
    assert operator.get("/admin/generations/job/").status_code == 200


def test_personas_are_listed_with_their_jobs_status_and_cannot_be_edited(operator, alice):
    job = Job.objects.create(owner=alice, kind="persona", status=Status.SUCCEEDED)
    persona = Persona.objects.create(owner=alice, job=job, name="Velvet")
    listing = operator.get("/admin/generations/persona/")
    assert listing.status_code == 200
    assert b"Velvet" in listing.content and b"succeeded" in listing.content
    url = f"/admin/generations/persona/{persona.pk}/change/"
    assert operator.post(url, {"name": "Smoke"}).status_code == 403
    persona.refresh_from_db()
    assert persona.name == "Velvet"
