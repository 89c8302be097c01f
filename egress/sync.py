"""The blocking client (urllib3): for workers copying media and sending webhooks."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import certifi
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as urllib3_connection

from egress.errors import EgressError, EgressRefused, EgressUnavailable
from egress.pinning import peer_is_one_of, pinned, pinned_addresses, verify_peer
from egress.policy import EgressPolicy
from egress.urls import URL, parse_url, resolve_reference

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Credentials meant for one origin are not handed to the next one in a redirect chain.
CROSS_ORIGIN_DROPPED = frozenset({"authorization", "cookie", "proxy-authorization"})
CHUNK_BYTES = 64 * 1024


class _PinnedConnectionMixin:
    """Dial only the addresses the policy check pinned for this origin, then verify the peer."""

    def _new_conn(self) -> socket.socket:
        addresses = pinned_addresses(self.host, self.port)
        last_error: Exception | None = None
        for address in addresses:
            try:
                sock = urllib3_connection.create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as exc:
                last_error = ConnectTimeoutError(self, f"connect to {address} timed out: {exc}")
                continue
            except OSError as exc:
                last_error = NewConnectionError(self, f"cannot connect to {address}: {exc}")
                continue
            try:
                verify_peer(sock, address)
            except EgressRefused:
                sock.close()
                raise
            return sock
        raise last_error or NewConnectionError(self, "no address to connect to")


class _PinnedHTTPConnection(_PinnedConnectionMixin, HTTPConnection):
    pass


class _PinnedHTTPSConnection(_PinnedConnectionMixin, HTTPSConnection):
    pass


class _PinnedPoolMixin:
    """A kept connection serves a request only while its peer is among the addresses checked
    for this request (DNS may have moved since it was dialled); otherwise it is closed, and the
    request dials a pinned address anew (`_new_conn`)."""

    def _get_conn(self, timeout=None):
        conn = super()._get_conn(timeout)
        sock = getattr(conn, "sock", None)
        if sock is not None and not peer_is_one_of(sock, pinned_addresses(self.host, self.port)):
            conn.close()
        return conn


class _PinnedHTTPPool(_PinnedPoolMixin, HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSPool(_PinnedPoolMixin, HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


@dataclass
class EgressResponse:
    """A streaming answer. `url` is the final (checked) URL after redirects."""

    url: URL
    status: int
    headers: Mapping[str, str]
    _raw: urllib3.BaseHTTPResponse

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("Content-Length", "")
        return int(value) if value.isdigit() else None

    def iter_bytes(self, *, max_bytes: int, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
        """The raw body (no decompression); EgressRefused as soon as it passes `max_bytes`."""
        declared = self.content_length
        if declared is not None and declared > max_bytes:
            raise EgressRefused(f"{declared} bytes is over the {max_bytes}-byte limit")
        size = 0
        try:
            for chunk in self._raw.stream(chunk_bytes, decode_content=False):
                size += len(chunk)
                if size > max_bytes:
                    raise EgressRefused(f"body is over the {max_bytes}-byte limit")
                yield chunk
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise EgressUnavailable(f"{type(exc).__name__} reading {self.url.redacted()}") from None

    def read(self, *, max_bytes: int) -> bytes:
        return b"".join(self.iter_bytes(max_bytes=max_bytes))


class EgressClient:
    """Blocking HTTP under an EgressPolicy. Thread-safe; keep one per process.

    :param policy: what may be reached.
    :param timeout_s: (connect, read) seconds.
    :param max_redirects: redirects followed (each one checked like the first URL).
    :param ssl_context: trust store for https (default: certifi's CAs, hostname checked).
    :param num_pools: origins kept with open connections.
    :param pool_maxsize: connections kept per origin: the number of threads sharing the client
        (fewer, and each release past it closes a connection: "Connection pool is full").
    """

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        timeout_s: tuple[float, float] = (5.0, 30.0),
        max_redirects: int = 3,
        ssl_context: ssl.SSLContext | None = None,
        num_pools: int = 16,
        pool_maxsize: int = 1,
        user_agent: str = "music-gateway",
    ) -> None:
        self.policy = policy
        self.max_redirects = max_redirects
        self.user_agent = user_agent
        self._manager = urllib3.PoolManager(
            num_pools=num_pools,
            maxsize=pool_maxsize,
            timeout=urllib3.Timeout(connect=timeout_s[0], read=timeout_s[1]),
            retries=False,
            ssl_context=ssl_context or ssl.create_default_context(cafile=certifi.where()),
        )
        self._manager.pool_classes_by_scheme = {"http": _PinnedHTTPPool, "https": _PinnedHTTPSPool}

    @contextmanager
    def stream(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        follow_redirects: bool = True,
    ) -> Iterator[EgressResponse]:
        """Send one request (following checked redirects); the body is read by the caller.

        Raises EgressRefused (permanent) or EgressUnavailable (transient).
        """
        current = parse_url(url)
        sent_headers = {"User-Agent": self.user_agent, "Accept-Encoding": "identity"}
        sent_headers |= dict(headers or {})
        for _ in range(self.max_redirects + 1):
            raw = self._send(method, current, sent_headers, body)
            location = raw.headers.get("Location")
            if not (follow_redirects and raw.status in REDIRECT_STATUSES and location):
                try:
                    yield EgressResponse(
                        url=current, status=raw.status, headers=raw.headers, _raw=raw
                    )
                finally:
                    raw.release_conn() if raw.isclosed() else raw.close()
                return
            raw.close()
            following = resolve_reference(current, location)
            if following.origin != current.origin:
                sent_headers = {
                    k: v for k, v in sent_headers.items() if k.lower() not in CROSS_ORIGIN_DROPPED
                }
            if raw.status == 303 or (raw.status in (301, 302) and method == "POST"):
                method, body = "GET", None
            current = following
        raise EgressRefused(f"more than {self.max_redirects} redirects")

    def request(
        self,
        method: str,
        url: str,
        *,
        max_bytes: int,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        follow_redirects: bool = False,
    ) -> tuple[int, Mapping[str, str], bytes]:
        """Send a request and read at most `max_bytes` of the answer: (status, headers, body)."""
        with self.stream(
            method, url, headers=headers, body=body, follow_redirects=follow_redirects
        ) as response:
            return response.status, response.headers, response.read(max_bytes=max_bytes)

    def close(self) -> None:
        self._manager.clear()

    def _send(self, method: str, url: URL, headers: dict, body: bytes | None):
        target = self.policy.check(url)
        pool = self._manager.connection_from_host(url.host, url.port, scheme=url.scheme)
        try:
            with pinned(target):
                return pool.urlopen(
                    method,
                    url.target,
                    body=body,
                    headers=headers,
                    redirect=False,
                    retries=False,
                    preload_content=False,
                    decode_content=False,
                    assert_same_host=False,
                )
        except EgressError:
            raise
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise EgressUnavailable(f"{_describe(exc)} fetching {url.redacted()}") from None


def _describe(exc: Exception) -> str:
    if isinstance(exc, urllib3.exceptions.SSLError):
        return "TLS failure"
    return type(exc).__name__
