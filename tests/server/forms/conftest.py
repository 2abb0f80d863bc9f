"""The forms tests use the patients' pages' fixtures (an https TestClient)."""

from tests.server.web.conftest import web

__all__ = ["web"]
