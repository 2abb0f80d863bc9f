"""The published OpenAPI schema is the truth: schemathesis sends generated requests (valid
and invalid) to every operation, signed in as a clinic's staff on an enrolled
workstation, and checks each answer with all of its checks: no server errors, no status
the schema does not list, every body as its schema says, valid requests accepted and
invalid ones refused, authentication enforced.

One deliberate setting: a schema cannot say "the end comes after the start", so a 422
for such a rule is documented and accepted for generated valid data; the added check
``validation_never_refuses_valid_data`` makes sure a 422 for valid data is such a rule,
never the request validation disagreeing with the schema.
"""

from __future__ import annotations

from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig

from common.roles import Role
from server.app import create_app
from server.config import Settings
from server.db import transaction
from server.scheduling.models import Provider
from sync.protocol import DEVICE_TOKEN_HEADER, PROTOCOL_HEADER, PROTOCOL_VERSION

# What the server's request validation says (server.app); a rule a service checks says
# something else.
VALIDATION_REFUSALS = ("Some of what was sent is not valid", "The request body is not valid JSON")


@schemathesis.check
def validation_never_refuses_valid_data(ctx: Any, response: Any, case: Any) -> None:
    """Data the schema calls valid passes request validation: any refusal of it is a rule
    the schema cannot express (documented as a 422), not a shape it gets wrong."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    if response.status_code == 422 and response.json()["message"].startswith(VALIDATION_REFUSALS):
        raise AssertionError(
            f"Schema-valid data refused by request validation: {response.json()['message']}"
        )


def _published_schema() -> dict[str, Any]:
    """The schema as the server publishes it (building it touches no database)."""
    app = create_app(Settings(database_url="sqlite://", environment="test"), run_migrations=False)
    try:
        published: dict[str, Any] = app.openapi()
        return published
    finally:
        app.state.engine.dispose()


CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 20261129,  # the same requests every run: a failure can be replayed
        "generation": {"mode": "all", "max-examples": 12},
        "phases": {"stateful": {"enabled": False}},
        "max-stream-events": 1,  # the change notifications stream is endless
        "headers": {PROTOCOL_HEADER: str(PROTOCOL_VERSION)},
        "checks": {
            "positive_data_acceptance": {
                # The defaults, plus a rule the schema cannot express (422) and a body
                # larger than the server reads (413): both documented where they occur.
                "expected-statuses": ["2xx", "3xx", 401, 403, 404, 409, 413, 422, 429],
            },
            "negative_data_rejection": {
                "expected-statuses": [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 426],
            },
        },
    }
)
schema = schemathesis.openapi.from_dict(_published_schema(), config=CONFIG)
# The credentials of the clinic the current test made (see ``signed_in``).
CREDENTIALS: dict[str, str] = {}


@schema.auth()
class SignedIn:
    """Every request carries the workstation's token and the staff member's session."""

    def get(self, case: Any, ctx: Any) -> dict[str, str]:
        return dict(CREDENTIALS)

    def set(self, case: Any, data: dict[str, str], ctx: Any) -> None:
        case.headers = {**(case.headers or {}), **data}


@pytest.fixture(autouse=True)
def signed_in(app, db, factory) -> Any:
    clinic = factory.clinic(
        "alder", roles=(Role.FRONT_DESK,), providers=2, patients=3, appointments=4
    )
    with transaction(db) as session:  # times of day in answers: "09:00:00" on the wire
        provider = session.get(Provider, clinic.records.provider_ids[0])
        provider.working_hours = [
            {"weekday": 0, "start": "09:00", "end": "12:30", "location_id": None}
        ]
    login = clinic.front_desk
    device_token = factory.enroll(login)
    staff_token = factory.sign_in(device_token, login)
    CREDENTIALS.clear()
    CREDENTIALS.update(
        {DEVICE_TOKEN_HEADER: device_token, "Authorization": f"Bearer {staff_token}"}
    )
    schema.app = app
    yield
    CREDENTIALS.clear()
    schema.app = None


@schema.parametrize()
@hypothesis.settings(deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
def test_every_operation_answers_as_its_schema_says(case: Any, app: Any) -> None:
    # The schema was loaded before this test's app existed: send to it, probes as well.
    case.operation.app = case.operation.schema.app = app
    case.call_and_validate(additional_checks=[validation_never_refuses_valid_data])
