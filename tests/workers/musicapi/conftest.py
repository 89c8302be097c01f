import pytest

from workers.musicapi.client import MusicApiClient
from workers.musicapi.simulator import Simulator
from workers.musicapi.simulator.server import start_in_thread

KEY = "test-key-0123456789"


@pytest.fixture
def simulator():
    """The simulator on a free loopback port, tasks ready after 0.4 s."""
    sim = Simulator(key=KEY, ready_after_s=0.4, clip_duration_s=3.0)
    server = start_in_thread(sim)
    yield sim
    server.shutdown()
    server.server_close()


@pytest.fixture
def client(simulator):
    return MusicApiClient(base_url=f"{simulator.public_url}/api/v1", key=KEY, timeout_s=(2, 5))
