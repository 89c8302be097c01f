"""Under ASGI a request crosses from the event loop to the sync thread once, not three times.

Django runs a middleware that cannot run async on the sync thread and, past it, hops back to the
loop for the async ones and again to the thread for the view: WhiteNoise (sync only) in the
middle of the chain cost every API request two more thread hops. Our WhiteNoise subclass runs on
either path, and still serves the static files under ASGI.
"""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, iscoroutinefunction
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.test import AsyncClient
from django.utils.module_loading import import_string


def test_every_middleware_runs_on_the_async_path():
    sync_only = [
        name
        for name in settings.MIDDLEWARE
        if not getattr(import_string(name), "async_capable", False)
    ]
    assert sync_only == []


def test_the_asgi_chain_is_async_to_the_view():
    handler = ASGIHandler()
    assert iscoroutinefunction(handler._middleware_chain)
    # The chain is async end to end: no sync middleware wraps it in a thread adapter.
    assert "SyncToAsync" not in type(handler._middleware_chain).__name__


@pytest.mark.parametrize("autorefresh", [True, False], ids=["debug", "production"])
def test_static_files_are_served_under_asgi(settings, autorefresh):
    # DEBUG looks each path up on disk; production serves the files it listed at start.
    settings.WHITENOISE_AUTOREFRESH = autorefresh
    settings.WHITENOISE_USE_FINDERS = True

    @async_to_sync
    async def fetch(path):
        return await AsyncClient().get(path)

    css = fetch("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css")
    assert css.status_code == 200
    assert b"".join(css.streaming_content)[:100]
    assert fetch("/static/no-such-file.css").status_code == 404
