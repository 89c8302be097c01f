"""Swagger UI and Redoc that work offline, and the site's favicon.

Their scripts come from drf-spectacular-sidecar (served by us). What would still go out: Redoc's
template links Google Fonts (our copy does not: system fonts instead) and Redoc's side menu shows
a logo from cdn.redoc.ly, which a Content-Security-Policy of `img-src 'self' data:` keeps from
loading (Redoc hides it when it fails).
"""

from __future__ import annotations

from django.templatetags.static import static
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

OFFLINE_POLICY = "img-src 'self' data:; font-src 'self' data:"


class _Offline:
    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response.headers.setdefault("Content-Security-Policy", OFFLINE_POLICY)
        return response


class SwaggerView(_Offline, SpectacularSwaggerView):
    pass


class RedocView(_Offline, SpectacularRedocView):
    template_name = "api_docs/redoc.html"


class FaviconView(RedirectView):
    """Browsers ask for /favicon.ico on every page; the file itself is a static file."""

    permanent = True

    def get_redirect_url(self, *args, **kwargs):
        return static("favicon.ico")
