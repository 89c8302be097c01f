"""What the simulator gets wrong on purpose: random rates for load and chaos runs, and markers in
the prompt (e.g. `[sim:moderation]`) that a human or a test uses to ask for one case exactly."""

from __future__ import annotations

import json
import random
import re
from dataclasses import asdict, dataclass, fields

MARKER = re.compile(r"\[sim:([a-z0-9-]+)\]")

# Each marker and what it does (also listed in docs/upstream.md).
MARKERS = {
    "moderation": "create answers 403 'The song description needs moderation review.'",
    "copyright": "create answers 403 'The lyrics contain copyrighted content: ...'",
    "no-credits": "create answers 403 'The remaining credits are not enough...'",
    "no-subscription": "create answers 403 'No active subscription...'",
    "create-500": "the first create with this prompt answers 500",
    "create-429": "the first create with this prompt answers 429 with Retry-After",
    "create-code-error": "create answers HTTP 200 with {'code': 400, 'message': ...}",
    "create-garbage": "create answers 200 with a body that is not JSON",
    "poll-500": "the first status poll of the task answers 500",
    "poll-429": "the first status poll of the task answers 429 with Retry-After",
    "poll-garbage": "status polls answer 200 with a body that is not JSON",
    "clip-failed": "the second clip fails, the first succeeds",
    "failed": "every clip fails",
    "never": "the task never finishes",
    "slow": "every response to this task waits `slow_s` seconds first",
    "slow-create": "the create waits `slow_s` seconds before making the task and answering",
    "hang-create": "the create makes the task, then answers only after `hang_s` (past the "
    "client's read timeout)",
    "lost-webhook": "no webhook is delivered for this task",
    "duplicate-webhook": "the webhook is delivered twice: the same event id, signed again",
    # In the prompt of the song a derived output (WAV, stems, timeline) is later made from:
    "derive-refused": "WAV, stems and timeline of its clips answer 403 (copyrighted content)",
    "derive-500": "the first WAV / stems / timeline call for each of its clips answers 500",
    "derive-429": "the first WAV / stems / timeline call for each of its clips answers 429",
    "derive-garbage": "WAV, stems and timeline calls answer 200 with a body that is not JSON",
    "derive-failed": "the WAV or stems task of its clips fails (the vendor refunds it)",
    "derive-sync": "the WAV call answers the file's URL at once instead of a task",
    # Inside an uploaded file (its bytes: a WAV INFO comment, an ID3 tag), since an upload has
    # no prompt. copyright, moderation, no-credits, slow-create and hang-create work there too.
    "upload-500": "the first upload of this file's URL answers 500",
    "upload-429": "the first upload of this file's URL answers 429 with Retry-After",
    "upload-garbage": "the upload answers 200 with a body that is not JSON",
    "upload-no-clip": "the upload answers 200 success without a clip_id",
}


@dataclass
class FaultProfile:
    """Rates are probabilities in [0, 1]; durations are seconds."""

    server_error: float = 0.0  # 500 on any vendor call
    rate_limit: float = 0.0  # 429 with Retry-After on any vendor call
    retry_after_s: float = 2.0
    slow: float = 0.0  # an answer delayed by slow_s
    slow_s: float = 3.0
    # A call accepted and left unanswered for hang_s, longer than the client's read timeout (30 s);
    # a create has made its task first. Answered, too late, when hang_s is up.
    hang: float = 0.0
    hang_s: float = 40.0
    moderation: float = 0.0  # 403 moderation on create
    failed_clip: float = 0.0  # one clip of a task fails
    lost_webhook: float = 0.0  # a webhook delivery never leaves
    duplicate_webhook: float = 0.0  # a delivery repeated (the same event id, signed again)
    duplicate_webhook_after_s: float = 1.5
    seed: int | None = None

    @classmethod
    def from_json(cls, text: str) -> FaultProfile:
        data = json.loads(text or "{}")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        profile = cls(**data)
        for name in (
            "server_error",
            "rate_limit",
            "slow",
            "hang",
            "moderation",
            "failed_clip",
            "lost_webhook",
            "duplicate_webhook",
        ):
            if not 0.0 <= getattr(profile, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        return profile

    def as_dict(self) -> dict:
        return asdict(self)

    def rng(self) -> random.Random:
        return random.Random(self.seed)


def markers(*texts: str) -> set[str]:
    found = set()
    for text in texts:
        found.update(MARKER.findall(text or ""))
    return found
