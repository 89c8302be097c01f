"""Short-lived signed URLs, for what browsers fetch without an Authorization header:
`<audio src>`, `<img src>` and `EventSource`."""

from __future__ import annotations

import time

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "signed-url"
# Signatures are stamped to the start of a 5-minute bucket, so the same resource read twice in
# that window is byte-identical and its ETag holds (URLs then live MAX_AGE minus up to 5 min).
BUCKET_S = 300


class _Signer(signing.TimestampSigner):
    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time()) // BUCKET_S * BUCKET_S)


ROUTES = {"audio": "clip-audio", "image": "clip-image", "events": "generation-events"}


class SignatureInvalid(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def signed_url(request, object_id, kind: str) -> str:
    """An absolute URL for `kind` of the object, valid for MEDIA_URL_MAX_AGE_S."""
    token = _Signer(salt=SALT).sign(f"{object_id}:{kind}")
    path = reverse(ROUTES[kind], kwargs={"pk": object_id})
    return request.build_absolute_uri(f"{path}?sig={token}")


def signature_verify(token: str, object_id, kind: str) -> None:
    try:
        value = _Signer(salt=SALT).unsign(token, max_age=settings.MEDIA_URL_MAX_AGE_S)
    except signing.SignatureExpired:
        raise SignatureInvalid("This link has expired; fetch the resource again.") from None
    except signing.BadSignature:
        raise SignatureInvalid("This link is not valid.") from None
    if value != f"{object_id}:{kind}":
        raise SignatureInvalid("This link is not valid.")
