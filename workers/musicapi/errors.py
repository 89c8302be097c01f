"""What can go wrong talking to the vendor, in the few kinds the workers act on."""

from __future__ import annotations

VENDOR_TEXT_MAX = 500


def clean(text: object) -> str:
    """The vendor's text, trimmed and bounded, safe to store and show."""
    text = " ".join(str(text or "").split())
    return text if len(text) <= VENDOR_TEXT_MAX else text[: VENDOR_TEXT_MAX - 1] + "…"


class VendorError(Exception):
    """Base class: `message` is the vendor's cleaned text (never the key), `status` its code."""

    kind = "vendor_error"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.message = clean(message)
        self.status = status
        super().__init__(f"{self.kind} (HTTP {status}): {self.message}")


class TransientError(VendorError):
    """Timeouts, connection errors, 5xx, 429: try again later (after `retry_after_s` if given)."""

    kind = "transient"

    def __init__(
        self, message: str, *, status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after_s = retry_after_s


class OutcomeUnknownError(VendorError):
    """A request that spends credits may have reached the vendor, but no answer came back (read
    timeout, dropped connection): the vendor may have acted. Never send it again blindly."""

    kind = "unconfirmed"


class RejectedError(VendorError):
    """The vendor refused this request (validation, moderation): permanent for this generation."""

    kind = "rejected"


class UnavailableError(VendorError):
    """Key, credits or subscription trouble: an operator problem; stop and alert, never retry."""

    kind = "unavailable"


class ProtocolError(VendorError):
    """An answer outside the contract: permanent, kept for the operator."""

    kind = "protocol"


class TaskNotFoundError(ProtocolError):
    """The vendor no longer knows a task we created (`task not found.`, a 400)."""

    kind = "task_not_found"


class InvalidRequest(ValueError):
    """The client refused to send a request the contract's limits forbid."""
