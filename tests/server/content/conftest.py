"""The care tests use the patients' pages' fixtures (an https TestClient), and hash the
passwords patients choose at argon2's lowest cost, as the portal's tests do."""

import pytest
from argon2 import PasswordHasher

from server.auth import security
from tests.server.web.conftest import web

__all__ = ["web"]


@pytest.fixture(autouse=True)
def cheap_patient_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        security, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )
