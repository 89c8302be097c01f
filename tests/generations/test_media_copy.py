"""Copying clip media into storage, from the simulator and from hostile CDNs."""

import time
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from generations import lifecycle, media, services
from generations.models import Clip, ClipState, Generation, MediaState
from tests.media_server import MediaServer
from workers.fetch import SafeFetcher

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def finished_clip(
    alice, generation_factory, upstream, simulator, django_capture_on_commit_callbacks
):
    generation = generation_factory(owner=alice)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.generation_submit(generation_id=generation.pk, upstream=upstream)
    time.sleep(simulator.ready_after_s + 0.05)
    lifecycle.generation_poll(generation_id=generation.pk, seq=1, upstream=upstream)
    return generation.clips.first()


@pytest.fixture
def fetch(simulator):
    return SafeFetcher([simulator.public_url], timeout_s=(2, 5))


def test_finishing_a_generation_queues_one_copy_per_succeeded_clip(
    alice,
    generation_factory,
    upstream,
    simulator,
    sent_messages,
    django_capture_on_commit_callbacks,
):
    generation = generation_factory(owner=alice, description="[sim:clip-failed] x")
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.generation_submit(generation_id=generation.pk, upstream=upstream)
    time.sleep(simulator.ready_after_s + 0.05)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.generation_poll(generation_id=generation.pk, seq=1, upstream=upstream)
    succeeded = generation.clips.get(state=ClipState.SUCCEEDED)
    copies = [(m.queue_name, m.args[0]) for m in sent_messages if m.actor_name == "copy_clip_media"]
    assert copies == [("media", str(succeeded.pk))]  # not behind (or in front of) the polls
    polls = {m.queue_name for m in sent_messages if m.actor_name == "poll_generation"}
    assert polls == {"polls.DQ"}  # the delayed poll, on the polls queue


def test_the_audio_and_cover_are_copied_once(finished_clip, fetch):
    media.clip_copy_media(clip_id=finished_clip.pk, fetch=fetch)
    clip = Clip.objects.get(pk=finished_clip.pk)
    assert clip.media_state == MediaState.READY
    assert clip.audio_type == "audio/wav" and clip.image_type == "image/png"
    with default_storage.open(clip.audio_file.name) as stored:
        assert stored.read(4) == b"RIFF"
    assert len(clip.audio_sha256) == 64
    copied_at = clip.media_copied_at
    media.clip_copy_media(clip_id=finished_clip.pk, fetch=fetch)
    assert Clip.objects.get(pk=clip.pk).media_copied_at == copied_at


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        ({"Content-Type": "text/html"}, b"<html>login</html>", "expected audio"),
        ({"Content-Type": "image/svg+xml"}, b"<svg><script>alert(1)</script></svg>", "expected"),
        ({"Content-Type": "audio/x-unknown"}, b"RIFF", "expected audio"),
        (
            {"Content-Type": "audio/wav", "Content-Length": str(2 * 1024**3)},
            b"",
            "over the",
        ),
        ({"Location": "http://169.254.169.254/latest/meta-data/"}, b"", "not in MUSICAPI"),
    ],
)
def test_a_refused_copy_marks_the_clip_and_writes_nothing(
    finished_clip, caplog, headers, body, reason
):
    cdn = MediaServer()
    try:
        status = 302 if "Location" in headers else 200
        url = cdn.route("/a.wav", status=status, headers=headers, body=body)
        Clip.objects.filter(pk=finished_clip.pk).update(vendor_audio_url=url)
        fetch = SafeFetcher([f"http://127.0.0.1:{cdn.port}"], timeout_s=(2, 5))
        media.clip_copy_media(clip_id=finished_clip.pk, fetch=fetch)
    finally:
        cdn.close()
    clip = Clip.objects.get(pk=finished_clip.pk)
    assert clip.media_state == MediaState.FAILED
    assert reason in clip.media_error
    assert not clip.audio_file
    assert not default_storage.exists(f"clips/{clip.generation_id}")
    assert any("OPERATOR" in r.message for r in caplog.records)


def test_an_unlisted_vendor_host_is_never_fetched(finished_clip):
    Clip.objects.filter(pk=finished_clip.pk).update(vendor_audio_url="https://evil.example/a.wav")
    media.clip_copy_media(clip_id=finished_clip.pk, fetch=SafeFetcher(["cdn1.suno.ai"]))
    assert "not in MUSICAPI_MEDIA_HOSTS" in Clip.objects.get(pk=finished_clip.pk).media_error


def test_a_transient_failure_is_raised_for_retry(finished_clip):
    Clip.objects.filter(pk=finished_clip.pk).update(vendor_audio_url="http://127.0.0.1:9/a.wav")
    with pytest.raises(media.MediaUnavailable):
        media.clip_copy_media(
            clip_id=finished_clip.pk, fetch=SafeFetcher(["http://127.0.0.1:9"], timeout_s=(1, 1))
        )
    assert Clip.objects.get(pk=finished_clip.pk).media_state == MediaState.PENDING


def test_deleting_the_generation_removes_its_files(
    finished_clip, fetch, django_capture_on_commit_callbacks
):
    media.clip_copy_media(clip_id=finished_clip.pk, fetch=fetch)
    clip = Clip.objects.get(pk=finished_clip.pk)
    names = [clip.audio_file.name, clip.image_file.name]
    assert all(default_storage.exists(n) for n in names)
    with django_capture_on_commit_callbacks(execute=True):
        services.generation_delete(generation=clip.generation)
    assert not any(default_storage.exists(n) for n in names)


def test_a_clip_whose_vendor_url_smuggles_another_port_is_not_copied_from_it(finished_clip):
    listed, unlisted = MediaServer(), MediaServer()
    try:
        unlisted.route("*", headers={"Content-Type": "audio/wav"}, body=b"RIFF" + b"\0" * 100)
        url = f"http://127.0.0.1:{unlisted.port}\\@127.0.0.1:{listed.port}/x"
        Clip.objects.filter(pk=finished_clip.pk).update(vendor_audio_url=url)
        fetch = SafeFetcher([f"http://127.0.0.1:{listed.port}"], timeout_s=(2, 5))
        media.clip_copy_media(clip_id=finished_clip.pk, fetch=fetch)
    finally:
        listed.close()
        unlisted.close()
    clip = Clip.objects.get(pk=finished_clip.pk)
    assert (clip.media_state, clip.audio_file.name or "") == (MediaState.FAILED, "")
    assert unlisted.hits == [] and listed.hits == []


def test_a_script_bearing_svg_cover_is_not_copied(finished_clip, simulator):
    cdn = MediaServer()
    try:
        svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
        url = cdn.route("/c.svg", headers={"Content-Type": "image/svg+xml"}, body=svg)
        Clip.objects.filter(pk=finished_clip.pk).update(vendor_image_url=url)
        media.clip_copy_media(
            clip_id=finished_clip.pk,
            fetch=SafeFetcher([simulator.public_url, f"http://127.0.0.1:{cdn.port}"]),
        )
    finally:
        cdn.close()
    clip = Clip.objects.get(pk=finished_clip.pk)
    assert clip.media_state == MediaState.READY  # the audio is fine; the cover is left out
    assert (clip.image_file.name or "", clip.image_type) == ("", "")


@pytest.mark.parametrize(
    "content_type", ["audio/mpeg", "audio/mp4", "audio/aac", "audio/ogg", "audio/flac"]
)
def test_every_allowed_audio_type_is_copied(finished_clip, content_type):
    cdn = MediaServer()
    try:
        url = cdn.route("/a", headers={"Content-Type": content_type}, body=b"\xff\xfb" * 50)
        Clip.objects.filter(pk=finished_clip.pk).update(vendor_audio_url=url, vendor_image_url="")
        fetch = SafeFetcher([f"http://127.0.0.1:{cdn.port}"], timeout_s=(2, 5))
        media.clip_copy_media(clip_id=finished_clip.pk, fetch=fetch)
    finally:
        cdn.close()
    clip = Clip.objects.get(pk=finished_clip.pk)
    assert (clip.media_state, clip.audio_type) == (MediaState.READY, content_type)


def test_a_copy_that_ran_out_of_retries_ends_failed_with_a_reason(finished_clip):
    media.clip_copy_give_up(clip_id=finished_clip.pk, attempts=8)
    clip = Clip.objects.get(pk=finished_clip.pk)
    assert clip.media_state == MediaState.FAILED
    assert "8 attempts" in clip.media_error


def test_the_copy_actor_gives_up_into_a_failed_copy():
    from workers import actors

    assert actors.copy_clip_media.queue_name == "media"
    assert actors.copy_clip_media.options["on_retry_exhausted"] == "give_up_clip_media"
    assert actors.give_up_clip_media.queue_name == "media"


# --- one copy at a time per clip ---------------------------------------------------------------

COPY = "copy_clip_media"


def _copies(messages) -> list[tuple]:
    return [m.args for m in messages if m.actor_name == COPY]


def _finished_long_ago(clip) -> None:
    """Past any reconcile grace: a copy still pending now looks lost to the reconciler."""
    Generation.objects.filter(pk=clip.generation_id).update(
        finished_at=timezone.now() - timedelta(hours=1)
    )


@pytest.fixture
def copy_sent(
    alice,
    generation_factory,
    upstream,
    simulator,
    sent_messages,
    django_capture_on_commit_callbacks,
):
    """A clip whose generation finished, and the copy message that sent (still queued)."""
    generation = generation_factory(owner=alice)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.generation_submit(generation_id=generation.pk, upstream=upstream)
    time.sleep(simulator.ready_after_s + 0.05)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.generation_poll(generation_id=generation.pk, seq=1, upstream=upstream)
    clip = generation.clips.first()
    (message,) = [m for m in sent_messages if _copies([m]) and m.args[0] == str(clip.pk)]
    sent_messages.clear()
    return clip, message


def test_the_reconciler_sends_no_second_copy_while_the_first_is_queued(copy_sent, sent_messages):
    clip, _ = copy_sent
    _finished_long_ago(clip)
    assert lifecycle.generations_reconcile().recopied == 0
    assert _copies(sent_messages) == []


def test_the_reconciler_sends_no_second_copy_while_the_first_runs(copy_sent, fetch):
    clip, message = copy_sent
    _finished_long_ago(clip)
    recopied = []

    def fetch_while_the_reconciler_runs(url, **kwargs):
        recopied.append(lifecycle.generations_reconcile().recopied)
        return fetch(url, **kwargs)

    media.clip_copy_media(
        clip_id=clip.pk, fetch=fetch_while_the_reconciler_runs, claim=message.args[1]
    )
    assert recopied == [0, 0]  # during the audio's and the cover's download
    assert Clip.objects.get(pk=clip.pk).media_state == MediaState.READY


def test_a_second_copy_of_a_clip_being_copied_fetches_nothing(finished_clip, fetch):
    fetched = []

    def fetch_and_meet_a_duplicate(url, **kwargs):
        fetched.append(kwargs["kind"])
        if len(fetched) == 1:  # another message for the same clip runs meanwhile
            media.clip_copy_media(clip_id=finished_clip.pk, fetch=fetch_and_meet_a_duplicate)
        return fetch(url, **kwargs)

    media.clip_copy_media(clip_id=finished_clip.pk, fetch=fetch_and_meet_a_duplicate)
    assert fetched == ["audio", "image"]  # once each, by the first copy
    assert Clip.objects.get(pk=finished_clip.pk).media_state == MediaState.READY


def test_a_copy_waiting_to_retry_keeps_the_clip_and_its_retry_copies_it(copy_sent, fetch):
    clip, message = copy_sent
    claim = message.args[1]  # a retry is the same message: same arguments
    _finished_long_ago(clip)
    Clip.objects.filter(pk=clip.pk).update(vendor_audio_url="http://127.0.0.1:9/a.wav")
    with pytest.raises(media.MediaUnavailable):
        media.clip_copy_media(
            clip_id=clip.pk,
            fetch=SafeFetcher(["http://127.0.0.1:9"], timeout_s=(1, 1)),
            claim=claim,
        )
    assert lifecycle.generations_reconcile().recopied == 0  # the retry is on its way
    media.clip_copy_media(clip_id=clip.pk, fetch=lambda *a, **k: pytest.fail("a second copy"))
    Clip.objects.filter(pk=clip.pk).update(vendor_audio_url=clip.vendor_audio_url)
    media.clip_copy_media(clip_id=clip.pk, fetch=fetch, claim=claim)
    assert Clip.objects.get(pk=clip.pk).media_state == MediaState.READY


def test_a_lost_copy_is_sent_again_once(finished_clip, sent_messages):
    """No copy message is queued (lost in a Redis restart): one per clip, not one per run."""
    _finished_long_ago(finished_clip)
    clips = {str(pk) for pk in finished_clip.generation.clips.values_list("pk", flat=True)}
    assert lifecycle.generations_reconcile().recopied == len(clips) == 2
    assert lifecycle.generations_reconcile().recopied == 0
    assert sorted(args[0] for args in _copies(sent_messages)) == sorted(clips)


def test_a_copy_that_gave_up_leaves_the_clip_to_the_reconciler(copy_sent):
    clip, _ = copy_sent
    media.clip_copy_give_up(clip_id=clip.pk, attempts=8)
    Clip.objects.filter(pk=clip.pk).update(media_state=MediaState.PENDING)  # say, reset by hand
    _finished_long_ago(clip)
    assert lifecycle.generations_reconcile().recopied == 1
