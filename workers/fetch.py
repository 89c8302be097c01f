"""Fetching media the vendor names, without letting a vendor body point us anywhere (SSRF).

What may be reached is `egress`'s business (MUSICAPI_MEDIA_HOSTS as an `EgressPolicy`: strict
URL parsing, one DNS answer checked and pinned, the peer verified, every redirect re-checked);
this module adds what media needs on top: a size cap, the expected Content-Type, the body
streamed to a temporary file, and its SHA-256.
"""

from __future__ import annotations

import functools
import hashlib
import os
import ssl
import tempfile

from django.conf import settings

from egress import EgressClient, EgressPolicy, EgressRefused, EgressUnavailable, Resolver
from egress.policy import system_resolver
from generations.media import ALLOWED_TYPES, FetchedFile, MediaRefused, MediaUnavailable

CHUNK_BYTES = 64 * 1024
# Set by `runworkers` for the processes it starts: how many threads each runs (dramatiq's own
# default outside it).
WORKER_THREADS_ENV = "MUSIC_GATEWAY_WORKER_THREADS"
DEFAULT_WORKER_THREADS = 8


def worker_threads() -> int:
    """The threads of this worker process: one kept connection per origin for each of them."""
    raw = os.environ.get(WORKER_THREADS_ENV, "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_WORKER_THREADS


class SafeFetcher:
    """:param hosts: MUSICAPI_MEDIA_HOSTS entries. :param timeout_s: (connect, read) seconds.
    :param resolver: DNS for the policy (tests control it). :param ssl_context: https trust.
    :param threads: threads sharing it (one kept connection per origin each)."""

    def __init__(
        self,
        hosts: list[str],
        *,
        timeout_s=(5.0, 30.0),
        max_redirects: int = 3,
        resolver: Resolver = system_resolver,
        ssl_context: ssl.SSLContext | None = None,
        threads: int = 1,
    ):
        self.client = EgressClient(
            EgressPolicy(hosts, resolver=resolver, list_name="MUSICAPI_MEDIA_HOSTS"),
            timeout_s=timeout_s,
            max_redirects=max_redirects,
            ssl_context=ssl_context,
            pool_maxsize=threads,
        )

    def __call__(self, url: str, *, max_bytes: int, kind: str) -> FetchedFile:
        """Fetch `url` into a temporary file; `kind` ("audio", "image") picks the allowed types."""
        try:
            with self.client.stream("GET", url) as response:
                return self._read(response, max_bytes=max_bytes, kind=kind)
        except EgressRefused as exc:
            raise MediaRefused(exc.reason) from None
        except EgressUnavailable as exc:
            raise MediaUnavailable(exc.reason) from None

    @staticmethod
    def _read(response, *, max_bytes: int, kind: str) -> FetchedFile:
        where = response.url.redacted()
        if response.status != 200:
            if response.status >= 500 or response.status == 429:
                raise MediaUnavailable(f"HTTP {response.status} from {where}")
            raise MediaRefused(f"HTTP {response.status} from {where}")
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type not in ALLOWED_TYPES[kind]:
            raise MediaRefused(f"expected {kind}, got {content_type or 'no Content-Type'}")
        digest = hashlib.sha256()
        size = 0
        out = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the caller, who closes it
        try:
            for chunk in response.iter_bytes(max_bytes=max_bytes, chunk_bytes=CHUNK_BYTES):
                size += len(chunk)
                digest.update(chunk)
                out.write(chunk)
        except BaseException:
            out.close()
            raise
        if size == 0:
            out.close()
            raise MediaRefused("empty body")
        out.seek(0)
        return FetchedFile(
            file=out, content_type=content_type, sha256=digest.hexdigest(), size=size
        )


@functools.cache
def get_fetcher() -> SafeFetcher:
    """One fetcher (and connection pool) per worker process, configured from settings."""
    return SafeFetcher(
        settings.MUSICAPI_MEDIA_HOSTS,
        timeout_s=settings.MEDIA_FETCH_TIMEOUT_S,
        max_redirects=settings.MEDIA_MAX_REDIRECTS,
        threads=worker_threads(),
    )
