"""A tiny HTTP server on loopback answering what each test scripts: the hostile CDN.

It records every request line it receives (`hits`) and every connection (`connections`), so a
test can prove that a server was never contacted (or how often it was dialled), and can speak
HTTP/1.0 or close after each answer (`Connection: close`).
"""

from __future__ import annotations

import contextlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socket import AF_INET6


class _Handler(BaseHTTPRequestHandler):
    def setup(self):
        super().setup()
        # One entry per TCP connection: (the client's address and port, the address it dialled).
        self.server.connections.append((self.client_address, self.connection.getsockname()[0]))

    def do_GET(self):
        self.server.hits.append((self.command, self.path, dict(self.headers)))
        if self.headers.get("Content-Length"):
            self.rfile.read(int(self.headers["Content-Length"]))
        routes = self.server.routes
        status, headers, body = routes.get(self.path) or routes.get("*", (404, {}, b"missing"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if "Content-Length" not in headers and self.protocol_version != "HTTP/1.0":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


class MediaServer:
    """:param host: loopback address to bind. :param http10: answer as HTTP/1.0 and close."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, http10: bool = False, tls=None
    ) -> None:
        protocol = "HTTP/1.0" if http10 else "HTTP/1.1"
        handler = type("Handler", (_Handler,), {"protocol_version": protocol})
        server_class = ThreadingHTTPServer
        if ":" in host:
            server_class = type("Server6", (ThreadingHTTPServer,), {"address_family": AF_INET6})
        self.server = server_class((host, port), handler)
        self.server.routes = {}
        self.server.hits = []
        self.server.connections = []
        self.server_names: list[str | None] = []  # TLS SNI seen, one per handshake
        if tls is not None:  # an ssl.SSLContext for the server side
            tls.sni_callback = lambda _sock, name, _ctx: self.server_names.append(name)
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.host = host
        self.port = self.server.server_port
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def hits(self) -> list:
        return self.server.hits

    @property
    def connections(self) -> list:
        return self.server.connections

    def route(self, path: str, status: int = 200, headers=None, body: bytes = b"") -> str:
        """Script the answer to `path` ("*" answers every path not scripted)."""
        self.server.routes[path] = (status, headers or {}, body)
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
