"""Short-lived signed URLs, for what browsers fetch without an Authorization header:
`<audio src>`, `<img src>` and `EventSource`.

A link is a *grant*: it names the API token that asked for it and when it was issued. It works
only while that token is live (not revoked or expired, its user active) and for
MEDIA_URL_MAX_AGE_S after issue. Links handed out to someone holding only a link (a stream
opened with `sig`) reuse that grant, so a leaked link can never renew itself.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.crypto import constant_time_compare

from api.tokens import token_live_ids

SALT = "signed-url"
# Grants are stamped to the start of a 5-minute bucket, so the same resource read twice in that
# window is byte-identical and its ETag holds (URLs then live MAX_AGE minus up to 5 min).
BUCKET_S = 300
# Grants are never issued ahead of the clock; one dated further ahead than the servers' clocks may
# disagree is refused (it would otherwise live MAX_AGE past that future date).
CLOCK_SKEW_S = 60

SIG = re.compile(r"(?P<token>[0-9a-f]{32}):(?P<issued>[0-9A-Za-z]{1,10}):(?P<mac>[\w-]{1,100})")
ROUTES = {
    "audio": "clip-audio",
    "image": "clip-image",
    "events": "generation-events",
    "file": "job-file",
}
# The user's own stream: the signed object is the user, who is not in the path.
USER_ROUTES = {"stream": "events"}


class SignatureInvalid(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Grant:
    """Who a signed link speaks for: the token that asked for it, and since when (unix s)."""

    token_id: str
    issued_at: int

    @property
    def expires_at(self) -> int:
        return self.issued_at + settings.MEDIA_URL_MAX_AGE_S


def grant_issue(token_id: str) -> Grant:
    """A fresh grant for a caller authenticated by the API token `token_id` (hex)."""
    return Grant(token_id=token_id, issued_at=int(time.time()) // BUCKET_S * BUCKET_S)


def context_grant(context: dict) -> Grant:
    """What the links in an answer speak for: the caller's token, or the link they came with
    (context["grant"]), so a link holder is never handed a renewed link."""
    if context.get("grant") is None:
        context["grant"] = grant_issue(context["request"].auth.pk.hex)
    return context["grant"]


def _mac(object_id: Any, kind: str, grant: Grant) -> str:
    value = f"{object_id}:{kind}:{grant.token_id}:{grant.issued_at}"
    return signing.Signer(salt=SALT, algorithm="sha256").signature(value)


def signed_url(request, object_id: Any, kind: str, grant: Grant) -> str:
    """An absolute URL for `kind` of the object, speaking for `grant`."""
    token = f"{grant.token_id}:{signing.b62_encode(grant.issued_at)}:{_mac(object_id, kind, grant)}"
    if kind in USER_ROUTES:
        path = reverse(USER_ROUTES[kind])
    else:
        path = reverse(ROUTES[kind], kwargs={"pk": object_id})
    return request.build_absolute_uri(f"{path}?sig={token}")


def signature_verify(token: str, object_id: Any, kind: str) -> Grant:
    """The grant a `sig` carries; SignatureInvalid when forged, expired or its token is gone."""
    parts = SIG.fullmatch(token)
    if parts is None:
        raise SignatureInvalid("This link is not valid.")
    grant = Grant(token_id=parts["token"], issued_at=signing.b62_decode(parts["issued"]))
    if not constant_time_compare(parts["mac"], _mac(object_id, kind, grant)):
        raise SignatureInvalid("This link is not valid.")
    now = time.time()
    if grant.issued_at > now + CLOCK_SKEW_S:
        raise SignatureInvalid("This link is not valid.")
    if now >= grant.expires_at:
        raise SignatureInvalid("This link has expired; fetch the resource again.")
    if not token_live_ids([grant.token_id]):
        raise SignatureInvalid("This link was revoked with the token that made it.")
    return grant
