"""Outbound HTTP that cannot be pointed at us (SSRF-safe egress), for workers and async views.

Who uses it: `workers/fetch.py` (copying vendor media), the audio stream-through view (async),
outbound webhooks to user-registered URLs. It imports nothing from the project, so `api/` and
`workers/` may both use it without crossing the arrows.

Policy — what may be reached (`EgressPolicy`):

    policy = EgressPolicy(settings.MUSICAPI_MEDIA_HOSTS)              # allow-list (media)
    policy = EgressPolicy(operator_entries, any_public_https=True)    # webhooks
    target = policy.check(url)   # -> Target(url: URL, addresses, explicit); raises below

  Entries: a plain name ("cdn1.suno.ai", optional ":port") = https only, every resolved address
  public; "scheme://host[:port]" = an explicit listing: http too and private addresses, for
  exactly that host and port. `any_public_https=True` also allows any https URL whose addresses
  are all public. `resolver=` replaces DNS (`(host, port) -> [address, ...]`), e.g. in tests.
  `HostRule.parse(entry)` raises ValueError for a bad entry (use it to fail at start-up).

URLs (`parse_url(url) -> URL`): strict. Refused outright: userinfo (`@`), backslashes,
whitespace and control characters, `%`/brackets in a host, IPv6 zone ids, IPv4 other than
canonical dotted decimal (decimal, octal, hex, short forms), invalid or non-IDNA hosts, schemes
other than http/https. Normalised: lower-case hosts, IDNA (UTS #46) A-labels for non-ASCII hosts,
one trailing dot of a name dropped, non-ASCII in path/query percent-encoded, fragment dropped.
`URL.redacted()` is the URL without its query, for logs.

Clients — same guarantees, sync and async:

    client = EgressClient(policy, timeout_s=(5, 30), max_redirects=3)         # urllib3, blocking
    with client.stream("GET", url, headers={"Range": "bytes=0-"}) as response:
        response.status, response.headers, response.url
        for chunk in response.iter_bytes(max_bytes=50 * 2**20): ...
    status, headers, body = client.request("POST", url, body=b"...", max_bytes=64 * 1024)

    async with AsyncEgressClient(policy, timeout_s=(5, 30)) as client:         # httpx, asyncio
        async with client.stream("GET", url, headers={"Range": "bytes=0-"}) as response:
            response.status_code, response.headers
            async for chunk in response.aiter_bytes(max_bytes=...): ...
    EgressAsyncTransport(policy) is the same checks as a plain httpx transport.

  Every request and every redirect hop (at most `max_redirects`) is parsed and checked; DNS is
  asked once per hop and every answer must pass; the socket is opened to one of exactly those
  addresses (never a second lookup), and its peer is verified right after the TCP handshake,
  before a byte is sent (fail closed). TLS SNI and certificate checks use the host name.
  Credentials (Authorization, Cookie) are dropped when a redirect leaves the origin. Bodies are
  raw (no decompression; `Accept-Encoding: identity` is sent) and capped by `max_bytes`
  (`Content-Length` checked first). No environment proxies.

Errors (both carry `.reason`, safe to show an operator — no query strings, no userinfo):
  `EgressRefused`     permanent — not allowed, non-public address, bad URL, too big, too many
                      redirects, unverifiable peer. Do not retry.
  `EgressUnavailable` transient — DNS failure, connection refused or timed out, TLS failure,
                      the peer broke off. Retry with backoff.
"""

from egress.aio import AsyncEgressClient, AsyncEgressResponse, EgressAsyncTransport
from egress.errors import EgressError, EgressRefused, EgressUnavailable
from egress.policy import EgressPolicy, HostRule, Resolver, Target, system_resolver
from egress.sync import EgressClient, EgressResponse
from egress.urls import URL, parse_url

__all__ = [
    "URL",
    "AsyncEgressClient",
    "AsyncEgressResponse",
    "EgressAsyncTransport",
    "EgressClient",
    "EgressError",
    "EgressPolicy",
    "EgressRefused",
    "EgressResponse",
    "EgressUnavailable",
    "HostRule",
    "Resolver",
    "Target",
    "parse_url",
    "system_resolver",
]
