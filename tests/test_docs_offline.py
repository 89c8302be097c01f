"""Swagger UI and Redoc load nothing from other hosts; /favicon.ico is an icon, not a 404."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders

EXTERNAL = re.compile(r"""(?:src|href)=["']?(?:https?:)?//""")


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_the_docs_pages_reference_no_other_host(client, path):
    response = client.get(path)
    assert response.status_code == 200
    page = response.content.decode()
    assert not EXTERNAL.search(page), EXTERNAL.search(page)
    assert "googleapis" not in page and "gstatic" not in page
    # Redoc's menu shows a logo from cdn.redoc.ly: the policy keeps the browser from asking.
    assert "img-src 'self' data:" in response.headers["Content-Security-Policy"]


def test_favicon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response.headers["Location"].endswith("favicon.ico")
    with open(finders.find("favicon.ico"), "rb") as icon:
        assert icon.read(4) == b"\x00\x00\x01\x00"  # the ICO signature
