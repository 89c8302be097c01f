from datetime import timedelta

import pytest
from django.utils import timezone

from generations.models import Generation, Status

pytestmark = pytest.mark.django_db

URL = "/api/v1/generations"


def test_it_lists_your_generations_newest_first(alice, bob, alice_client, generation_factory):
    old = generation_factory(owner=alice)
    Generation.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=1))
    new = generation_factory(owner=alice)
    generation_factory(owner=bob)
    body = alice_client.get(URL).json()
    assert [g["id"] for g in body["results"]] == [str(new.pk), str(old.pk)]


def test_it_pages_with_a_cursor(alice, alice_client, generation_factory):
    created = [generation_factory(owner=alice) for _ in range(5)]
    first = alice_client.get(URL, {"page_size": 2}).json()
    assert len(first["results"]) == 2
    second = alice_client.get(first["next"]).json()
    third = alice_client.get(second["next"]).json()
    seen = [g["id"] for page in (first, second, third) for g in page["results"]]
    assert sorted(seen) == sorted(str(g.pk) for g in created)
    assert third["next"] is None


def test_it_filters_by_status(alice, alice_client, generation_factory):
    queued = generation_factory(owner=alice)
    submitting = generation_factory(owner=alice, status=Status.SUBMITTING)
    failed = generation_factory(owner=alice, status=Status.FAILED)
    ids = {g["id"] for g in alice_client.get(URL, {"status": "queued"}).json()["results"]}
    assert ids == {str(queued.pk), str(submitting.pk)}
    ids = {g["id"] for g in alice_client.get(URL, {"status": "failed"}).json()["results"]}
    assert ids == {str(failed.pk)}


def test_it_filters_by_creation_time(alice, alice_client, generation_factory):
    old = generation_factory(owner=alice)
    Generation.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    new = generation_factory(owner=alice)
    since = (timezone.now() - timedelta(days=1)).isoformat()
    after = alice_client.get(URL, {"created_after": since}).json()["results"]
    before = alice_client.get(URL, {"created_before": since}).json()["results"]
    assert [g["id"] for g in after] == [str(new.pk)]
    assert [g["id"] for g in before] == [str(old.pk)]


@pytest.mark.parametrize(
    "params", [{"status": "nonsense"}, {"created_after": "yesterday"}, {"status": "submitting"}]
)
def test_a_bad_filter_is_a_400_problem(alice_client, params):
    response = alice_client.get(URL, params)
    assert response.status_code == 400
    assert next(iter(params)) in response.json()["errors"]


def test_it_shows_one_of_yours_with_clips(alice, alice_client, clip_factory):
    clip = clip_factory(generation__owner=alice, generation__status=Status.SUCCEEDED)
    body = alice_client.get(f"{URL}/{clip.generation.pk}").json()
    assert body["status"] == "succeeded"
    assert [c["id"] for c in body["clips"]] == [str(clip.pk)]
    assert "vendor_audio_url" not in body["clips"][0]
    assert "vendor_task_id" not in body


def test_submitting_is_shown_as_queued(alice, alice_client, generation_factory):
    generation = generation_factory(owner=alice, status=Status.SUBMITTING)
    assert alice_client.get(f"{URL}/{generation.pk}").json()["status"] == "queued"


def test_a_failed_generation_shows_its_error(alice, alice_client, generation_factory):
    generation = generation_factory(
        owner=alice, status=Status.FAILED, error_code="rejected", error_detail="Copyrighted."
    )
    body = alice_client.get(f"{URL}/{generation.pk}").json()
    assert body["error"] == {"code": "rejected", "detail": "Copyrighted."}


@pytest.mark.parametrize(("method", "suffix"), [("get", ""), ("post", "/cancel"), ("delete", "")])
def test_someone_elses_generation_is_404_on_every_route(
    alice_client, bob, generation_factory, method, suffix
):
    generation = generation_factory(owner=bob)
    response = getattr(alice_client, method)(f"{URL}/{generation.pk}{suffix}")
    assert response.status_code == 404
    assert response.json()["status"] == 404
    generation.refresh_from_db()
    assert generation.status == Status.QUEUED


@pytest.mark.parametrize("generation_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_a_missing_generation_is_404(alice_client, generation_id):
    assert alice_client.get(f"{URL}/{generation_id}").status_code == 404


def test_it_cancels_one_in_flight(alice, alice_client, generation_factory):
    generation = generation_factory(owner=alice, status=Status.RUNNING)
    response = alice_client.post(f"{URL}/{generation.pk}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    assert response.json()["finished_at"] is not None


def test_cancelling_a_finished_generation_is_409(alice, alice_client, generation_factory):
    generation = generation_factory(owner=alice, status=Status.SUCCEEDED)
    response = alice_client.post(f"{URL}/{generation.pk}/cancel")
    assert response.status_code == 409
    assert response.json()["detail"] == "The generation is already succeeded."


def test_it_deletes_one_of_yours_with_its_clips(alice, alice_client, clip_factory):
    clip = clip_factory(generation__owner=alice)
    assert alice_client.delete(f"{URL}/{clip.generation.pk}").status_code == 204
    assert not Generation.objects.filter(pk=clip.generation.pk).exists()
    assert alice_client.get(f"{URL}/{clip.generation.pk}").status_code == 404
