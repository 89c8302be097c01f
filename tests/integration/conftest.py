import socket

import pytest


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(autouse=True)
def _integration_only_with_real_processes(request):
    if request.node.get_closest_marker("integration") is None:
        pytest.fail("tests under tests/integration must be marked integration")
