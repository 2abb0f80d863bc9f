"""The API's documentation pages load everything from the server itself: on a clinic's
LAN without internet a page whose scripts come from a CDN is blank."""

from __future__ import annotations

import re

import pytest

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_documentation_pages_name_no_outside_host_and_their_assets_are_served(client, page):
    response = client.get(page)
    assert response.status_code == 200
    html = response.text
    outside = re.findall(r"https?://[^\s\"'<>)]+", html)
    assert outside == [], f"{page} loads from outside the server: {outside}"

    assets = {a or b for a, b in ASSET.findall(html)}
    assert any(a.endswith(".js") for a in assets), f"{page} names its script: {assets}"
    for asset in assets:
        assert asset.startswith("/"), asset
        answer = client.get(asset)
        assert answer.status_code == 200, asset
        assert answer.content, asset
