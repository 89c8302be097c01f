"""The domain's view of the music vendor: what it can be asked and how it can fail.

`workers.upstream` implements this port with the MusicAPI client; the domain never sees the
vendor's URLs or field names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from generations.models import Generation, Job


@dataclass(frozen=True)
class UpstreamClip:
    vendor_clip_id: str
    state: str  # a ClipState value
    title: str = ""
    tags: str = ""
    lyrics: str = ""
    duration: float | None = None
    model: str = ""
    audio_url: str = ""
    image_url: str = ""
    error: str = ""


@dataclass(frozen=True)
class UpstreamStatus:
    finished: bool
    clips: tuple[UpstreamClip, ...] = ()


@dataclass(frozen=True)
class UpstreamFile:
    """A file a job made: `name` is ours to store it under ("wav", "vocals", ...)."""

    name: str
    url: str


@dataclass(frozen=True)
class UpstreamJob:
    """Where a job stands at the vendor.

    Working: `task_id` set (poll it), `finished` False. Finished: `failed` holds the vendor's
    reason, or the result is in `files` (WAV, stems) or `data` (JSON-safe: timeline segments,
    lyrics drafts). The vendor's synchronous calls answer finished at once, with no task.
    """

    task_id: str = ""
    finished: bool = False
    failed: str = ""
    files: tuple[UpstreamFile, ...] = ()
    data: Any = None


@dataclass(frozen=True)
class UpstreamBalance:
    """The vendor account's credits: `extra_credits` never expire and are spent first."""

    credits: int
    extra_credits: int = 0


class UpstreamError(Exception):
    """`detail` is the vendor's cleaned text, kept for the operator."""

    def __init__(self, detail: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after_s = retry_after_s


class UpstreamTransient(UpstreamError):
    """Try again later (after `retry_after_s` when the vendor said so)."""


class UpstreamRejected(UpstreamError):
    """The vendor refused this generation's content; `detail` is safe to show the user."""


class UpstreamUnavailable(UpstreamError):
    """Key, credits or subscription: an operator problem."""


class UpstreamUnconfirmed(UpstreamError):
    """No answer to a request that spends credits: the vendor may or may not have acted."""


class UpstreamBroken(UpstreamError):
    """The vendor answered outside its contract, or lost the task."""


class Upstream(Protocol):
    def create(
        self, generation: Generation, *, webhook_url: str = "", webhook_secret: str = ""
    ) -> str:
        """Submit the generation; return the vendor's task id."""

    def upload(self, generation: Generation) -> str:
        """Make a vendor clip of an upload's audio (costs credits); return its clip id."""

    def status(self, task_id: str) -> UpstreamStatus:
        """Ask once about a task."""

    def job_submit(self, job: Job) -> UpstreamJob:
        """Start `job` at the vendor (costs credits): working with a task id, or finished."""

    def job_status(self, job: Job) -> UpstreamJob:
        """Ask once about a job's vendor task."""

    def balance(self) -> UpstreamBalance:
        """The operator's credits at the vendor (a free call)."""
