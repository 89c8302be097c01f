"""The ports `make run` listens on, chosen so that two checkouts can run side by side.

- The web app: `PORT` when set (and then it must be free); otherwise 8000, or the next free port
  after it when another `make run` already holds 8000.
- The sandbox simulator: `SIMULATOR_PORT` when set (and free); otherwise derived from the web
  port (8000 -> 8765, 8001 -> 8766, ...), or any free port when that one is taken.

A port that was asked for by name and is taken is a `PortError` naming the variable; nothing is
moved silently behind an explicit setting.

Choosing a port means listening on it at once: the launcher hands the listening sockets to
uvicorn (`--fd`) and the simulator, so a second `make run` started a second later already sees
them taken (a port merely found free would still look free until the servers got round to it).
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_WEB_PORT = 8000
WEB_PORT_TRIES = 20
# The simulator's historical default (8765) stays what PORT=8000 gives.
SIMULATOR_OFFSET = 765


class PortError(Exception):
    """A one-line message for the operator, naming the variable to change."""


@dataclass(frozen=True)
class Ports:
    web: socket.socket
    simulator: socket.socket | None
    web_moved_from: int | None = None  # the default we could not use, for the banner

    @property
    def web_port(self) -> int:
        return self.web.getsockname()[1]

    @property
    def simulator_port(self) -> int | None:
        return self.simulator.getsockname()[1] if self.simulator else None

    def close(self) -> None:
        for sock in (self.web, self.simulator):
            if sock is not None:
                sock.close()


def listen(host: str, port: int) -> socket.socket | None:
    """A listening socket on host:port (0 = any free port), or None when the port is taken."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    # As servers bind (SO_REUSEADDR): a port in TIME_WAIT is free, one with a listener is not.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError:
        sock.close()
        return None
    sock.set_inheritable(True)
    return sock


def is_free(host: str, port: int) -> bool:
    sock = listen(host, port)
    if sock is None:
        return False
    sock.close()
    return True


def any_free(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host.strip("[]"), 0))
        return sock.getsockname()[1]


def _parse(environ: Mapping[str, str], name: str) -> int | None:
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    try:
        port = int(raw)
    except ValueError:
        raise PortError(f"{name}={raw!r} is not a port number.") from None
    if not 0 < port < 65536:
        raise PortError(f"{name}={port} is not a port number (1-65535).")
    return port


def _taken(name: str, host: str, port: int) -> PortError:
    return PortError(
        f"{name}={port}: {host}:{port} is already in use (another make run?); "
        f"set {name} to a free port or stop what holds it."
    )


def _web(environ: Mapping[str, str], host: str) -> tuple[socket.socket, int | None]:
    asked = _parse(environ, "PORT")
    if asked is not None:
        sock = listen(host, asked)
        if sock is None:
            raise _taken("PORT", host, asked)
        return sock, None
    for port in range(DEFAULT_WEB_PORT, DEFAULT_WEB_PORT + WEB_PORT_TRIES):
        if sock := listen(host, port):
            return sock, (DEFAULT_WEB_PORT if port != DEFAULT_WEB_PORT else None)
    return listen(host, 0), DEFAULT_WEB_PORT


def _simulator(environ: Mapping[str, str], host: str, web_port: int) -> socket.socket:
    asked = _parse(environ, "SIMULATOR_PORT")
    if asked is not None:
        sock = listen(host, asked)
        if sock is None:
            raise _taken("SIMULATOR_PORT", host, asked)
        return sock
    derived = web_port + SIMULATOR_OFFSET
    return (derived < 65536 and listen(host, derived)) or listen(host, 0)


def choose(environ: Mapping[str, str], *, host: str, simulator_host: str, sandbox: bool) -> Ports:
    """Listen on the web app's port and (sandbox) the simulator's; raises PortError."""
    web, moved_from = _web(environ, host)
    if not sandbox:
        return Ports(web=web, simulator=None, web_moved_from=moved_from)
    try:
        simulator = _simulator(environ, simulator_host, web.getsockname()[1])
    except PortError:
        web.close()
        raise
    return Ports(web=web, simulator=simulator, web_moved_from=moved_from)
