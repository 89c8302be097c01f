import pytest

from tests.conftest import SIMULATOR_KEY as KEY
from workers.musicapi.client import MusicApiClient


@pytest.fixture
def client(simulator):
    return MusicApiClient(base_url=f"{simulator.public_url}/api/v1", key=KEY, timeout_s=(2, 5))
