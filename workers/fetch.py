"""Fetching media the vendor names, without letting a vendor body point us anywhere (SSRF).

Rules: the URL's host must be listed in MUSICAPI_MEDIA_HOSTS. A plain listed name ("cdn1.x.ai")
allows https only, and only to public addresses; an entry written with a scheme
("http://127.0.0.1:8765") is an explicit listing that also allows plain http and private
addresses for that host and port. Every redirect is checked by the same rules, the address
actually connected to is checked again (no DNS rebinding), the body is capped and streamed to a
temporary file, and its Content-Type must be the expected kind.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import socket
import tempfile
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings

from generations.media import FetchedFile, MediaRefused, MediaUnavailable

CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class HostRule:
    host: str
    port: int | None
    explicit: bool  # allows http and private addresses

    @classmethod
    def parse(cls, entry: str) -> HostRule:
        entry = entry.strip().lower()
        explicit = "://" in entry
        parts = urlsplit(entry if explicit else f"//{entry}")
        return cls(host=parts.hostname or "", port=parts.port, explicit=explicit)

    def matches(self, host: str, port: int) -> bool:
        return host == self.host and (self.port is None or self.port == port)


class SafeFetcher:
    """:param hosts: MUSICAPI_MEDIA_HOSTS entries. :param timeout_s: (connect, read) seconds."""

    def __init__(self, hosts: list[str], *, timeout_s=(5.0, 30.0), max_redirects: int = 3):
        self.rules = [HostRule.parse(h) for h in hosts if h.strip()]
        self.timeout_s = timeout_s
        self.max_redirects = max_redirects
        self.session = requests.Session()
        self.session.trust_env = False  # never route through a proxy from the environment

    def __call__(self, url: str, *, max_bytes: int, kind: str) -> FetchedFile:
        """Fetch `url` into a temporary file; `kind` is the Content-Type prefix, e.g. "audio/"."""
        for _ in range(self.max_redirects + 1):
            rule = self._check_url(url)
            try:
                response = self.session.get(
                    url, stream=True, timeout=self.timeout_s, allow_redirects=False
                )
            except requests.RequestException as exc:
                raise MediaUnavailable(f"{type(exc).__name__} fetching {_safe(url)}") from None
            with response:
                self._check_peer(response, rule)
                if response.is_redirect:
                    url = urljoin(url, response.headers.get("Location", ""))
                    continue
                return self._read(response, url, max_bytes=max_bytes, kind=kind)
        raise MediaRefused(f"more than {self.max_redirects} redirects")

    # --- checks ------------------------------------------------------------------------------

    def _check_url(self, url: str) -> HostRule:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host:
            raise MediaRefused(f"not an http(s) URL: {_safe(url)}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        rule = next((r for r in self.rules if r.matches(host, port)), None)
        if rule is None:
            raise MediaRefused(f"host {host} is not in MUSICAPI_MEDIA_HOSTS")
        if parts.scheme == "http" and not rule.explicit:
            raise MediaRefused(f"plain http to {host} is not allowed")
        if not rule.explicit:
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except socket.gaierror as exc:
                raise MediaUnavailable(f"cannot resolve {host}") from exc
            for info in infos:
                _require_public(info[4][0], host)
        return rule

    @staticmethod
    def _check_peer(response: requests.Response, rule: HostRule) -> None:
        """The address we actually talked to must pass too (DNS can change between checks)."""
        if rule.explicit:
            return
        sock = getattr(getattr(response.raw, "_connection", None), "sock", None)
        if sock is not None:
            _require_public(sock.getpeername()[0], rule.host)

    def _read(self, response: requests.Response, url: str, *, max_bytes: int, kind: str):
        if response.status_code != 200:
            if response.status_code >= 500 or response.status_code == 429:
                raise MediaUnavailable(f"HTTP {response.status_code} from {_safe(url)}")
            raise MediaRefused(f"HTTP {response.status_code} from {_safe(url)}")
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if not content_type.startswith(kind):
            raise MediaRefused(f"expected {kind}*, got {content_type or 'no Content-Type'}")
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise MediaRefused(f"{declared} bytes is over the {max_bytes}-byte limit")
        digest = hashlib.sha256()
        size = 0
        out = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the caller, who closes it
        try:
            for chunk in response.iter_content(CHUNK_BYTES):
                size += len(chunk)
                if size > max_bytes:
                    raise MediaRefused(f"body is over the {max_bytes}-byte limit")
                digest.update(chunk)
                out.write(chunk)
        except requests.RequestException as exc:
            out.close()
            raise MediaUnavailable(f"{type(exc).__name__} reading {_safe(url)}") from None
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


def _require_public(address: str, host: str) -> None:
    ip = ipaddress.ip_address(address.split("%")[0])
    if not ip.is_global or ip.is_multicast:
        raise MediaRefused(f"{host} resolves to a non-public address ({ip})")


def _safe(url: str) -> str:
    """The URL without its query (signed CDN links carry tokens)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"[:200]


@functools.cache
def get_fetcher() -> SafeFetcher:
    """One fetcher (and connection pool) per worker process, configured from settings."""
    return SafeFetcher(
        settings.MUSICAPI_MEDIA_HOSTS,
        timeout_s=settings.MEDIA_FETCH_TIMEOUT_S,
        max_redirects=settings.MEDIA_MAX_REDIRECTS,
    )
