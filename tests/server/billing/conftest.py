"""The billing tests use the patients' pages' fixtures (an https TestClient) and hash
patients' passwords at argon2's lowest cost, as the portal's tests do."""

from tests.server.portal.conftest import cheap_patient_passwords
from tests.server.web.conftest import web

__all__ = ["cheap_patient_passwords", "web"]
