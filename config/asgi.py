"""ASGI entry point (uvicorn): streaming responses such as SSE and audio do not hold a thread."""

import os

from django.core.asgi import get_asgi_application

from config.bodylimit import BodyLimit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = BodyLimit(get_asgi_application())
