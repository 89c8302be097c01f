"""The asyncio client (httpx): for async views that stream a vendor URL through to a client."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio.to_thread
import httpcore
import httpx

from egress.errors import EgressError, EgressRefused, EgressUnavailable
from egress.pinning import pinned, pinned_addresses, verify_peer
from egress.policy import EgressPolicy
from egress.sync import CHUNK_BYTES, CROSS_ORIGIN_DROPPED, REDIRECT_STATUSES
from egress.urls import URL, parse_url, resolve_reference


class _PinnedNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore's own backend, dialling only pinned addresses and verifying the peer."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        addresses = pinned_addresses(host, port)
        last_error: Exception | None = None
        for address in addresses:
            try:
                stream = await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
                continue
            try:
                verify_peer(stream.get_extra_info("socket"), address)
            except EgressRefused:
                await stream.aclose()
                raise
            return stream
        raise last_error or httpcore.ConnectError("no address to connect to")

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise EgressRefused("unix sockets are not an egress target")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class EgressAsyncTransport(httpx.AsyncHTTPTransport):
    """An httpx transport that checks every request (redirects included) against `policy`,
    resolves once (in a thread) and connects only to the checked addresses. No proxies.

    :param ssl_context: trust store for https (default: certifi's CAs, hostname checked).
    """

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        ssl_context: ssl.SSLContext | None = None,
        limits: httpx.Limits | None = None,
    ) -> None:
        super().__init__(trust_env=False)
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        self.policy = policy
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            retries=0,
            network_backend=_PinnedNetworkBackend(),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = parse_url(str(request.url))
        target = await anyio.to_thread.run_sync(self.policy.check, url)
        with pinned(target):
            return await super().handle_async_request(request)


@dataclass
class AsyncEgressResponse:
    """A streaming answer. `url` is the final (checked) URL after redirects."""

    url: URL
    status_code: int
    headers: httpx.Headers
    _raw: httpx.Response

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("Content-Length", "")
        return int(value) if value.isdigit() else None

    async def aiter_bytes(
        self, *, max_bytes: int, chunk_bytes: int = CHUNK_BYTES
    ) -> AsyncIterator[bytes]:
        """The raw body (no decompression); EgressRefused as soon as it passes `max_bytes`."""
        declared = self.content_length
        if declared is not None and declared > max_bytes:
            raise EgressRefused(f"{declared} bytes is over the {max_bytes}-byte limit")
        size = 0
        try:
            async for chunk in self._raw.aiter_raw(chunk_bytes):
                size += len(chunk)
                if size > max_bytes:
                    raise EgressRefused(f"body is over the {max_bytes}-byte limit")
                yield chunk
        except httpx.HTTPError as exc:
            raise EgressUnavailable(f"{type(exc).__name__} reading {self.url.redacted()}") from None


class AsyncEgressClient:
    """Async HTTP under an EgressPolicy, same rules as `EgressClient`. One per event loop.

    :param policy: what may be reached.
    :param timeout_s: (connect, read) seconds.
    :param max_redirects: redirects followed (each one checked like the first URL).
    :param ssl_context: trust store for https (default: certifi's CAs, hostname checked).
    """

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        timeout_s: tuple[float, float] = (5.0, 30.0),
        max_redirects: int = 3,
        ssl_context: ssl.SSLContext | None = None,
        limits: httpx.Limits | None = None,
        user_agent: str = "music-gateway",
    ) -> None:
        self.max_redirects = max_redirects
        self._transport = EgressAsyncTransport(policy, ssl_context=ssl_context, limits=limits)
        # The client only builds requests (headers, timeouts); they are sent straight to the
        # transport, because httpx parses every Location header its own way even when it does
        # not follow redirects.
        self._client = httpx.AsyncClient(
            transport=self._transport,
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(timeout_s[1], connect=timeout_s[0]),
            headers={"User-Agent": user_agent, "Accept-Encoding": "identity"},
        )

    async def __aenter__(self) -> AsyncEgressClient:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        follow_redirects: bool = True,
    ) -> AsyncIterator[AsyncEgressResponse]:
        """Send one request (following checked redirects); the body is read by the caller.

        Raises EgressRefused (permanent) or EgressUnavailable (transient).
        """
        current = parse_url(url)
        sent_headers = dict(headers or {})
        for _ in range(self.max_redirects + 1):
            request = self._client.build_request(
                method, str(current), headers=sent_headers, content=content
            )
            try:
                raw = await self._transport.handle_async_request(request)
                raw.request = request
            except EgressError:
                raise
            except httpx.HTTPError as exc:
                raise EgressUnavailable(f"{_describe(exc)} fetching {current.redacted()}") from None
            location = raw.headers.get("Location")
            if not (follow_redirects and raw.status_code in REDIRECT_STATUSES and location):
                try:
                    yield AsyncEgressResponse(
                        url=current, status_code=raw.status_code, headers=raw.headers, _raw=raw
                    )
                finally:
                    await raw.aclose()
                return
            await raw.aclose()
            following = resolve_reference(current, location)
            if following.origin != current.origin:
                sent_headers = {
                    k: v for k, v in sent_headers.items() if k.lower() not in CROSS_ORIGIN_DROPPED
                }
            if raw.status_code == 303 or (raw.status_code in (301, 302) and method == "POST"):
                method, content = "GET", None
            current = following
        raise EgressRefused(f"more than {self.max_redirects} redirects")


def _describe(exc: Exception) -> str:
    cause = exc.__context__ or exc.__cause__
    if isinstance(cause, ssl.SSLError) or "SSL" in type(exc).__name__ or "CERTIFICATE" in str(exc):
        return "TLS failure"
    return type(exc).__name__
