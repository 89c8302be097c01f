"""Dramatiq actors: each takes an id, and calls one service."""

from __future__ import annotations

import logging

import dramatiq

from generations import dispatch

logger = logging.getLogger(__name__)


@dramatiq.actor(actor_name=dispatch.SUBMIT_GENERATION, queue_name=dispatch.QUEUE)
def submit_generation(generation_id: str) -> None:
    """Take a queued generation to the vendor."""
    logger.info("generation %s received; the vendor client is not wired yet", generation_id)
