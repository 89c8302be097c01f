"""Settings of the benchmark's web processes: the service's, plus the floor endpoint's URL."""

from config.settings import *  # noqa: F403 - the service's settings, unchanged

ROOT_URLCONF = "bench.urls"
