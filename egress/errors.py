"""The two ways an outbound request can fail: refused for good, or unavailable for now."""

from __future__ import annotations


class EgressError(Exception):
    """Base class. `reason` is safe to show an operator (never a URL's query or userinfo)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EgressRefused(EgressError):
    """Permanent: the URL, its host, an address it resolves to, or the peer is not allowed."""


class EgressUnavailable(EgressError):
    """Transient: DNS failed, the connection failed or timed out, TLS or the peer broke off."""
