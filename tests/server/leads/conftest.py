"""Fixtures for leads: the patients' browser (``web``) and real Chromium."""

from __future__ import annotations

from tests.server.web.conftest import web

__all__ = ["web"]
