import dramatiq
import pytest

from generations.upstream import UpstreamTransient
from workers import actors


def test_retry_after_becomes_an_exact_retry_delay():
    with pytest.raises(dramatiq.Retry) as caught, actors._honour_retry_after():
        raise UpstreamTransient("slow down", retry_after_s=7)
    assert caught.value.delay == 7000


def test_without_retry_after_dramatiq_backs_off_exponentially():
    with pytest.raises(UpstreamTransient), actors._honour_retry_after():
        raise UpstreamTransient("502")


def test_actors_are_registered_with_bounded_retries(settings):
    for actor in (actors.submit_generation, actors.poll_generation):
        assert actor.options["max_retries"] == settings.RETRY_MAX_RETRIES
        assert actor.options["max_backoff"] == settings.RETRY_MAX_BACKOFF_MS
        assert actor.options["on_retry_exhausted"] == actors.give_up_generation.actor_name
    assert "periodic" in actors.reconcile_generations.options
