"""Fixtures for leads: the patients' browser (``web``) and a clinic taking enquiries."""

from __future__ import annotations

from tests.server.web.conftest import web

__all__ = ["web"]
