"""ASGI entry point (uvicorn): streaming responses such as SSE and audio do not hold a thread
(config/streams.py: nor do live event streams, whose middleware would hold one each)."""

import gc
import os

import django

from config.bodylimit import BodyLimit
from config.streams import StreamSharingASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)  # as get_asgi_application()

application = BodyLimit(StreamSharingASGIHandler())

# A full garbage collection walks every object of the process, and nothing else runs meanwhile:
# with 10,000 open streams (1.8 million objects) each took 1.2-1.6 s here (docs/benchmarks.md).
# What start-up made lives as long as the process: frozen out of every collection. The young
# generation is collected every 50,000 allocations instead of 700, so most objects die before
# and far fewer reach the oldest generation, whose collections then come rarely.
GC_THRESHOLDS = (50_000, 20, 100)
gc.freeze()
gc.set_threshold(*GC_THRESHOLDS)
