"""Runs inside the service's Django (`manage.py shell`): prints, as one JSON line, what the
database and the media storage say after the chaos run, for the invariant checks."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Sum

from generations.models import Account, Clip, Generation, LedgerEntry
from generations.quotas import price, usage_recompute


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dump(usernames: list[str]) -> None:
    users = get_user_model().objects.filter(username__in=usernames)
    generations = [
        {
            "id": str(g["id"]),
            "user": g["owner__username"],
            "description": g["description"],
            "status": g["status"],
            "error_code": g["error_code"],
            "vendor_task_id": g["vendor_task_id"],
            "submit_attempts": g["submit_attempts"],
            "finished_at": g["finished_at"].timestamp() if g["finished_at"] else None,
        }
        for g in Generation.objects.filter(owner__in=users).values(
            "id",
            "owner__username",
            "description",
            "status",
            "error_code",
            "vendor_task_id",
            "submit_attempts",
            "finished_at",
        )
    ]
    media_root = Path(settings.MEDIA_ROOT)
    clips = []
    for clip in Clip.objects.filter(generation__owner__in=users):
        audio = media_root / clip.audio_file.name if clip.audio_file else None
        clips.append(
            {
                "id": str(clip.pk),
                "generation": str(clip.generation_id),
                "state": clip.state,
                "media_state": clip.media_state,
                "audio_file": clip.audio_file.name or "",
                "image_file": clip.image_file.name or "",
                "audio_ok": bool(audio and audio.exists() and _sha256(audio) == clip.audio_sha256),
            }
        )
    # Chaos traffic is songs only, all at one price: the ledger's credits, counted in songs, are
    # comparable with the vendor's tasks.
    song = price("create") or 1
    ledger = {}
    for user in users:
        rows = (
            LedgerEntry.objects.filter(user=user)
            .values("kind")
            .annotate(n=Count("id"), units=Sum("units"))
        )
        account = Account.objects.filter(user=user).first()
        used, in_flight = usage_recompute(user=user)
        ledger[user.username] = {
            "kinds": {r["kind"]: r["n"] for r in rows},
            "units": sum(r["units"] for r in rows) // song,
            "account_used": account.used if account else 0,
            "account_in_flight": account.in_flight if account else 0,
            "recomputed_used": used,
            "recomputed_in_flight": in_flight,
        }
    charged = {
        str(row["generation_id"]): row["units"] // song
        for row in LedgerEntry.objects.filter(user__in=users, generation__isnull=False)
        .values("generation_id")
        .annotate(units=Sum("units"))
    }
    files = sorted(
        str(path.relative_to(media_root)) for path in media_root.rglob("*") if path.is_file()
    )
    print(
        json.dumps(
            {
                "generations": generations,
                "clips": clips,
                "ledger": ledger,
                "charged": charged,
                "files": files,
            },
        )
    )


def redeliver(usernames: list[str]) -> None:
    """Every step of the users' generations delivered once more, as an at-least-once broker may:
    the submit of each generation, the live poll of each running one, the copy of each succeeded
    clip (without a claim: it runs only if no other copy holds the clip). Each must be a no-op
    or the step itself, never a second vendor task, charge or file. Prints the counts as one
    JSON line."""
    from generations import dispatch
    from generations.models import ClipState, Status

    generations = Generation.objects.filter(owner__username__in=usernames)
    sent = {"submits": 0, "polls": 0, "copies": 0}
    for g in generations.values("id", "status", "poll_seq"):
        dispatch.send(dispatch.SUBMIT_GENERATION, str(g["id"]))
        sent["submits"] += 1
        if g["status"] == Status.RUNNING:
            dispatch.send(dispatch.POLL_GENERATION, str(g["id"]), g["poll_seq"])
            sent["polls"] += 1
    clips = Clip.objects.filter(generation__in=generations, state=ClipState.SUCCEEDED)
    for clip_id in clips.values_list("id", flat=True):
        dispatch.send(dispatch.COPY_CLIP_MEDIA, str(clip_id))
        sent["copies"] += 1
    print(json.dumps(sent))
