"""Fixtures for leads: the patients' browser (``web``) and real Chromium."""

from __future__ import annotations

from tests.server.web.conftest import browser, phone, phone_without_js, playwright, web

__all__ = ["browser", "phone", "phone_without_js", "playwright", "web"]
