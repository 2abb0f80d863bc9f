"""The portal's tests use the patients' pages' fixtures (an https TestClient), and hash
the passwords patients choose at argon2's lowest cost: what these tests check is the
portal's handling of passwords, not argon2's price (``tests.support.passwords`` says
why the suite's own logins are cheap too). Hashes stay argon2id."""

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
