"""Run the simulator as a real HTTP server (threaded WSGI from the standard library)."""

from __future__ import annotations

import logging
import socket
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from workers.musicapi.simulator.app import Simulator

logger = logging.getLogger(__name__)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        logger.debug("simulator: " + format, *args)


def build_server(
    simulator: Simulator, host: str = "127.0.0.1", port: int = 0, sock: socket.socket | None = None
) -> WSGIServer:
    """Bind (port 0 = any free port), or serve on `sock`, a socket already listening (`make run`
    hands one over); point the simulator's media URLs at the bound address."""
    if sock is None:
        server = make_server(host, port, simulator, _ThreadingServer, _QuietHandler)
    else:
        server = _ThreadingServer(sock.getsockname()[:2], _QuietHandler, bind_and_activate=False)
        server.socket.close()
        server.socket = sock
        server.server_name, server.server_port = host, sock.getsockname()[1]
        server.setup_environ()
        server.set_app(simulator)
    simulator.public_url = f"http://{host}:{server.server_port}"
    return server


def start_in_thread(simulator: Simulator, host: str = "127.0.0.1", port: int = 0):
    """For tests: serve in a daemon thread; returns the server (call .shutdown() to stop)."""
    server = build_server(simulator, host, port)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name="simulator"
    ).start()
    return server
