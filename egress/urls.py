"""One strict URL parser: what it accepts is exactly what the clients connect to and send.

HTTP clients disagree about odd URLs (requests/urllib3 end the host at a backslash, browsers
turn it into a slash, `urlsplit` keeps it in the userinfo), so anything two parsers could read
differently is refused rather than interpreted: userinfo, backslashes, whitespace and control
characters, percent signs or brackets in a host, IPv6 zone ids, and every IPv4 spelling other
than canonical dotted decimal (decimal "2130706433", octal "0177.0.0.1", hex "0x7f.1", short
"127.1"). Hosts are lower-cased; a non-ASCII host is converted to its IDNA (UTS #46) form and
compared as such; one trailing dot of a name is dropped (it names the same DNS node).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import quote, urljoin

import idna

from egress.errors import EgressRefused

DEFAULT_PORTS = {"http": 80, "https": 443}
# Printable ASCII minus space and backslash; everything else in a URL is refused, except
# non-ASCII text in the path or query, which is percent-encoded as UTF-8 as browsers do.
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f\\]")
_URL = re.compile(
    r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)(?P<rest>.*)$", re.S
)
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")
_CANONICAL_OCTET = re.compile(r"^(?:0|[1-9][0-9]{0,2})$")
_PORT = re.compile(r"^[0-9]{1,5}$")
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


@dataclass(frozen=True)
class URL:
    """A checked http(s) URL. `host` is canonical: lower-case ASCII name, dotted IPv4, or an
    IPv6 address without brackets; `ip` is set when the host is an address literal."""

    scheme: str
    host: str
    port: int
    target: str  # path and query, what goes on the request line
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if isinstance(self.ip, ipaddress.IPv6Address) else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)

    def __str__(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.target}"

    def redacted(self) -> str:
        """Without the query (signed CDN links carry tokens): safe for logs and operators."""
        return f"{self.scheme}://{self.netloc}{self.target.split('?', 1)[0]}"[:200]


def parse_url(url: str) -> URL:
    """Parse an absolute http(s) URL strictly; raise EgressRefused for anything ambiguous."""
    if not isinstance(url, str) or not url:
        raise EgressRefused("not a URL")
    if len(url) > 8192:
        raise EgressRefused("URL longer than 8192 characters")
    if _FORBIDDEN.search(url):
        raise EgressRefused("URL contains whitespace, a control character or a backslash")
    match = _URL.match(url)
    if not match:
        raise EgressRefused("not an absolute http(s) URL")
    scheme = match["scheme"].lower()
    if scheme not in DEFAULT_PORTS:
        raise EgressRefused(f"scheme {scheme!r} is not http or https")
    host, port = _split_authority(match["authority"], scheme)
    canonical_host, ip = parse_host(host)
    rest = match["rest"].split("#", 1)[0]
    path, _, query = rest.partition("?")
    target = quote(path, safe=_PATH_SAFE) or "/"
    if "?" in rest:
        target += "?" + quote(query, safe=_QUERY_SAFE)
    return URL(scheme=scheme, host=canonical_host, port=port, target=target, ip=ip)


def resolve_reference(base: URL, reference: str) -> URL:
    """A redirect's Location against the URL that answered, parsed strictly.

    Checked before joining: `urljoin` silently drops tabs and newlines (WHATWG rules), which
    would let a Location mean one thing to us and another to a log reader.
    """
    if not reference or _FORBIDDEN.search(reference):
        raise EgressRefused("redirect Location is empty or contains forbidden characters")
    return parse_url(urljoin(str(base), reference))


def _split_authority(authority: str, scheme: str) -> tuple[str, int]:
    if "@" in authority:
        raise EgressRefused("URL carries userinfo (user@host)")
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise EgressRefused("unterminated IPv6 literal")
        host, after = authority[: end + 1], authority[end + 1 :]
        if after and not after.startswith(":"):
            raise EgressRefused("junk after an IPv6 literal")
        port_text = after[1:] if after else None
    else:
        host, sep, port_text = authority.partition(":")
        port_text = port_text if sep else None
    if port_text is None:
        return host, DEFAULT_PORTS[scheme]
    if not _PORT.match(port_text) or not 0 < int(port_text) < 65536:
        raise EgressRefused("invalid port")
    return host, int(port_text)


def parse_host(host: str) -> tuple[str, ipaddress.IPv4Address | ipaddress.IPv6Address | None]:
    """Canonical form of a URL host (brackets around IPv6), and its address if it is one."""
    if not host:
        raise EgressRefused("URL has no host")
    if host.startswith("["):
        inner = host[1:-1]
        if "%" in inner:
            raise EgressRefused("IPv6 zone ids are not allowed")
        try:
            ip6 = ipaddress.IPv6Address(inner)
        except ValueError:
            raise EgressRefused("invalid IPv6 literal") from None
        return ip6.compressed, ip6
    if any(ch in host for ch in "%[]"):
        raise EgressRefused("invalid character in host")
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError:
            raise EgressRefused("host is not a valid internationalised domain name") from None
    host = host.lower()
    labels = host.split(".")
    if _NUMERIC_LABEL.match(labels[-1] if labels[-1] else (labels[-2] if len(labels) > 1 else "")):
        return _canonical_ipv4(host)
    if host.endswith("."):
        host, labels = host[:-1], labels[:-1]
    if not host or len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise EgressRefused("invalid host name")
    if any(label.startswith("xn--") for label in labels):
        try:
            idna.decode(host)  # a hand-written A-label must be valid punycode too
        except idna.IDNAError:
            raise EgressRefused("host is not a valid internationalised domain name") from None
    return host, None


def _canonical_ipv4(host: str) -> tuple[str, ipaddress.IPv4Address]:
    # A host whose last label is numeric is an IPv4 address to a browser (WHATWG URL): only the
    # one spelling every parser reads the same way is accepted.
    octets = host.split(".")
    if len(octets) != 4 or not all(_CANONICAL_OCTET.match(o) and int(o) < 256 for o in octets):
        raise EgressRefused("IPv4 address not in canonical dotted-decimal form")
    return host, ipaddress.IPv4Address(host)
