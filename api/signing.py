"""Short-lived signed media URLs, so `<audio src>` works without an Authorization header."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "clip-media"


class MediaSignatureInvalid(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def media_url(request, clip_id, kind: str) -> str:
    """An absolute URL for the clip's `kind` ("audio" or "image"), valid MEDIA_URL_MAX_AGE_S."""
    token = signing.TimestampSigner(salt=SALT).sign(f"{clip_id}:{kind}")
    path = reverse(f"clip-{kind}", kwargs={"pk": clip_id})
    return request.build_absolute_uri(f"{path}?sig={token}")


def media_verify(token: str, clip_id, kind: str) -> None:
    try:
        value = signing.TimestampSigner(salt=SALT).unsign(
            token, max_age=settings.MEDIA_URL_MAX_AGE_S
        )
    except signing.SignatureExpired:
        raise MediaSignatureInvalid("This media link has expired; fetch the clip again.") from None
    except signing.BadSignature:
        raise MediaSignatureInvalid("This media link is not valid.") from None
    if value != f"{clip_id}:{kind}":
        raise MediaSignatureInvalid("This media link is not valid.")
