"""Fixtures for the patients' pages: a TestClient over https (so the ``__Host-`` CSRF
cookie travels, as in a browser), form posting that reads the page's CSRF token first,
and real Chromium for the flows (``tests.support.browser``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f.]+)"')


@pytest.fixture
def web(app: FastAPI) -> Iterator[TestClient]:
    """A patient's browser, roughly: https, cookies kept, pages asked for as HTML."""
    with TestClient(
        app, base_url="https://testserver", headers={"accept": "text/html"}
    ) as test_client:
        yield test_client


def csrf_of(page: httpx.Response) -> str:
    found = TOKEN.search(page.text)
    assert found, f"no CSRF token on {page.url}"
    return found.group(1)


def submit(
    web: TestClient, page_url: str, action: str | None = None, **fields: Any
) -> httpx.Response:
    """Open ``page_url`` (as a patient would) and send its form to ``action`` (default
    the same address) with ``fields``, the page's CSRF token and a same-origin fetch."""
    page = web.get(page_url)
    assert page.status_code == 200, page.text
    data = {"csrf_token": csrf_of(page), **fields}
    return web.post(
        action or page_url,
        data=data,
        headers={"sec-fetch-site": "same-origin", "origin": "https://testserver"},
        follow_redirects=False,
    )
