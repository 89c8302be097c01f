"""The connection layers of both clients connect only to addresses a policy check returned.

A client checks a URL, then runs the request inside `pinned(target)`; the connection code asks
`pinned_addresses(host, port)` and refuses to connect when nothing is pinned for that origin,
so no code path can open a socket to an unchecked address or ask DNS a second time. After the
TCP handshake the socket's peer must be the address dialled, or the connection is dropped
before a byte is sent (fail closed: a peer that cannot be read is not verified).
"""

from __future__ import annotations

import contextvars
import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from egress.errors import EgressRefused
from egress.policy import Target

_PINNED: contextvars.ContextVar[Target | None] = contextvars.ContextVar("egress_pin", default=None)


@contextmanager
def pinned(target: Target) -> Iterator[None]:
    token = _PINNED.set(target)
    try:
        yield
    finally:
        _PINNED.reset(token)


def pinned_addresses(host: str, port: int) -> tuple[str, ...]:
    """The checked addresses for `host:port`; EgressRefused when this origin was not checked."""
    target = _PINNED.get()
    if target is None or (target.url.host, target.url.port) != (_unbracket(host), port):
        raise EgressRefused(f"connection to {host}:{port} was not checked by the egress policy")
    return target.addresses


def verify_peer(sock: socket.socket | None, expected: str) -> None:
    """The socket must be connected to `expected`; EgressRefused otherwise (or if unreadable)."""
    try:
        peer = sock.getpeername()[0]
    except (OSError, IndexError, TypeError, AttributeError):
        raise EgressRefused("the connected peer could not be verified") from None
    if _same_address(peer, expected):
        return
    raise EgressRefused(f"connected to {peer}, not the checked address {expected}")


def peer_is_one_of(sock: socket.socket, addresses: tuple[str, ...]) -> bool:
    """Whether a connected socket's peer is one of `addresses` (False if it cannot be read)."""
    try:
        peer = sock.getpeername()[0]
    except (OSError, IndexError, TypeError, AttributeError):
        return False
    return any(_same_address(peer, address) for address in addresses)


def _same_address(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return False


def _unbracket(host: str) -> str:
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host.rstrip(".").lower()
