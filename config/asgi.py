"""ASGI entry point (uvicorn): streaming responses such as SSE and audio do not hold a thread."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_asgi_application()
