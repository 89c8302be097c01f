"""What may be reached: an allow-list of hosts, or any public https host, plus explicit targets.

Entries (the `MUSICAPI_MEDIA_HOSTS` syntax):
- a plain name, optionally with a port ("cdn1.suno.ai", "cdn1.suno.ai:8443"): https only, and
  every address the name resolves to must be public;
- an explicit listing with a scheme ("http://127.0.0.1:8765", "https://hooks.internal"): allows
  plain http and private addresses, for exactly that host and port (the scheme's default port
  when none is written).
With `any_public_https=True` (outbound webhooks) every https URL whose addresses are all public
is allowed as well; explicit listings are how an operator allows more.

DNS is asked once per check, through a resolver you can replace (tests control the answers),
and every answer must pass; the clients then connect only to the addresses this returns.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from egress.addresses import IPAddress, is_public, parse_address
from egress.errors import EgressRefused, EgressUnavailable
from egress.urls import URL, parse_url

Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's answers for a TCP connection to `host`, in its preferred order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise EgressUnavailable(f"cannot resolve {host}: {exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class HostRule:
    host: str
    port: int | None  # None: any port
    explicit: bool  # allows plain http and private addresses

    @classmethod
    def parse(cls, entry: str) -> HostRule:
        """Parse one allow-list entry; ValueError (with the entry) when it is not valid."""
        text = entry.strip()
        try:
            if "://" in text:
                url = parse_url(text)
                if url.target != "/":
                    raise EgressRefused("an explicit listing has no path")
                return cls(host=url.host, port=url.port, explicit=True)
            url = parse_url(f"https://{text}")
            port = None if ":" not in text.rsplit("]", 1)[-1] else url.port
            return cls(host=url.host, port=port, explicit=False)
        except EgressRefused as exc:
            raise ValueError(f"invalid egress host entry {entry!r}: {exc.reason}") from None

    def matches(self, url: URL) -> bool:
        return url.host == self.host and (self.port is None or self.port == url.port)


@dataclass(frozen=True)
class Target:
    """A checked URL and the addresses it may be reached at (in the resolver's order)."""

    url: URL
    addresses: tuple[str, ...]
    explicit: bool


class EgressPolicy:
    """:param hosts: allow-list entries (see the module docstring).
    :param any_public_https: also allow any https URL whose addresses are all public.
    :param resolver: `(host, port) -> [address, ...]`; defaults to the system's resolver.
    :param list_name: how refusals name the allow-list (e.g. the setting operators edit)."""

    def __init__(
        self,
        hosts: Iterable[str] = (),
        *,
        any_public_https: bool = False,
        resolver: Resolver = system_resolver,
        list_name: str = "the egress allow-list",
    ) -> None:
        self.rules = tuple(HostRule.parse(h) for h in hosts if h.strip())
        self.any_public_https = any_public_https
        self.resolver = resolver
        self.list_name = list_name

    def check(self, url: str | URL) -> Target:
        """Parse, match, resolve once and check every answer. EgressRefused / EgressUnavailable."""
        parsed = url if isinstance(url, URL) else parse_url(url)
        rule = next((r for r in self.rules if r.matches(parsed)), None)
        explicit = rule is not None and rule.explicit
        if rule is None and not self.any_public_https:
            raise EgressRefused(f"host {parsed.host} port {parsed.port} is not in {self.list_name}")
        if parsed.scheme != "https" and not explicit:
            raise EgressRefused(f"plain http to {parsed.host} is not allowed")
        addresses = self._resolve(parsed)
        if not explicit:
            for address in addresses:
                if not is_public(parse_address(address)):
                    raise EgressRefused(
                        f"{parsed.host} resolves to a non-public address ({address})"
                    )
        return Target(url=parsed, addresses=tuple(addresses), explicit=explicit)

    def _resolve(self, url: URL) -> list[str]:
        if url.ip is not None:
            return [url.ip.compressed]
        answers = self.resolver(url.host, url.port)
        if not answers:
            raise EgressUnavailable(f"no address for {url.host}")
        checked: list[str] = []
        for answer in answers:
            try:
                checked.append(_address(answer))
            except ValueError:
                raise EgressRefused(f"{url.host} resolves to a non-address ({answer!r})") from None
        return checked


def _address(answer: str) -> str:
    ip: IPAddress = parse_address(answer)
    return str(ip)


__all__ = ["EgressPolicy", "HostRule", "Resolver", "Target", "system_resolver"]
