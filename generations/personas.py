"""Personas: a voice and style the vendor makes from one of the user's clips, to sing songs in.

A persona is made by a job of kind `persona` (the vendor answers at once, but nothing on a web
request calls the vendor: docs/upstream.md), priced `CREDIT_COSTS["persona"]`, submitted and
settled like every job; the `Persona` row holds its name and is created in the job's
transaction. A generation of operation `persona_music` names a persona whose job succeeded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from generations.errors import DomainError
from generations.jobs import job_create
from generations.models import Clip, JobKind, Persona, Plan, Status
from generations.quotas import Usage

logger = logging.getLogger(__name__)


class PersonaNotReady(DomainError):
    """The persona cannot sing yet: its job has not succeeded."""

    code = "persona_not_ready"


@dataclass(frozen=True)
class PersonaCreated:
    persona: Persona
    usage: Usage | None  # None when replayed
    replayed: bool = False


def persona_create(
    *,
    owner: Any,
    clip: Clip,
    name: str,
    description: str = "",
    styles: str = "",
    idempotency_key: str = "",
    request_hash: str = "",
    plan: Plan | None = None,
) -> PersonaCreated:
    """Reserve a persona's price and queue the job that makes it from the owner's finished
    `clip`. Raises QuotaExceeded, ClipNotReady or an idempotency error, with nothing stored;
    a replayed `idempotency_key` returns the original persona."""
    with transaction.atomic():
        created = job_create(
            owner=owner,
            kind=JobKind.PERSONA,
            clip=clip,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            plan=plan,
        )
        if created.replayed:
            return PersonaCreated(persona=created.job.persona, usage=None, replayed=True)
        persona = Persona.objects.create(
            owner=owner,
            job=created.job,
            clip=clip,
            name=name,
            description=description,
            styles=styles,
        )
    logger.info("persona %s queued for user %s", persona.pk, owner.pk)
    return PersonaCreated(persona=persona, usage=created.usage)


def persona_for_generation(persona: Persona) -> Persona:
    """`persona` if it can sing a generation now (its job succeeded), else PersonaNotReady."""
    if persona.job.status != Status.SUCCEEDED or not persona.vendor_persona_id:
        raise PersonaNotReady("The persona is not ready yet: its status must be succeeded.")
    return persona
