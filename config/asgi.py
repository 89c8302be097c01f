"""ASGI entry point (uvicorn): streaming responses such as SSE and audio do not hold a thread
(config/streams.py: nor do live event streams, whose middleware would hold one each)."""

import os

import django

from config.bodylimit import BodyLimit
from config.streams import StreamSharingASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)  # as get_asgi_application()

application = BodyLimit(StreamSharingASGIHandler())
