"""What the published schema says about errors, credentials and times."""

from __future__ import annotations

import re

from sqlalchemy import select

from server.db import transaction
from server.scheduling.models import Provider
from sync.protocol import API_PREFIX, PROTOCOL_HEADER, PROTOCOL_VERSION

ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}


def operations(spec):
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def test_every_refusal_is_documented_with_the_shared_error_body(client):
    spec = client.get("/openapi.json").json()
    for method, path, operation in operations(spec):
        for status, answer in operation["responses"].items():
            if status.startswith(("4", "5")) and status != "409":
                assert answer["content"]["application/json"]["schema"] == ERROR_REF, (
                    method,
                    path,
                    status,
                )
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_statuses_follow_what_each_route_depends_on(client):
    spec = client.get("/openapi.json").json()
    found = {(m, p): set(op["responses"]) for m, p, op in operations(spec)}
    # Signed-in staff, acting on a record named in the path.
    assert {"401", "403", "404", "422", "500"} <= found[
        ("GET", f"{API_PREFIX}/patients/{{patient_id}}")
    ]
    # A sync route: protocol header and a body.
    assert {"401", "403", "413", "422", "426"} <= found[("POST", f"{API_PREFIX}/sync/mutations")]
    # A route that sends nothing but credentials cannot answer 422.
    assert "422" not in found[("GET", f"{API_PREFIX}/providers")]
    assert "409" in found[("POST", f"{API_PREFIX}/booking-requests/{{request_id}}/reject")]
    # Enrolling needs no credentials but can refuse the password given.
    assert "401" in found[("POST", f"{API_PREFIX}/devices")]
    assert "security" not in spec["paths"][f"{API_PREFIX}/devices"]["post"]


def test_credentials_are_security_schemes_not_loose_headers(client):
    spec = client.get("/openapi.json").json()
    assert set(spec["components"]["securitySchemes"]) == {"staffSession", "workstation"}
    for method, path, operation in operations(spec):
        names = {p["name"].lower() for p in operation.get("parameters", [])}
        assert not names & {"authorization", "x-clinicdesk-device"}, (method, path)
    changes = spec["paths"][f"{API_PREFIX}/sync/changes"]["get"]
    assert changes["security"] == [{"staffSession": []}, {"workstation": []}]
    protocol = next(p for p in changes["parameters"] if p["name"] == PROTOCOL_HEADER)
    assert protocol["schema"]["enum"] == [str(PROTOCOL_VERSION - 1), str(PROTOCOL_VERSION)]


def test_times_of_day_are_patterns_and_go_out_as_before(client, db, factory):
    clinic = factory.clinic("alder", providers=1)
    with transaction(db) as session:
        provider = session.scalar(select(Provider).where(Provider.clinic_id == clinic.id))
        provider.working_hours = [
            {"weekday": 0, "start": "09:00", "end": "17:30", "location_id": None}
        ]
    spec = client.get("/openapi.json").json()
    start = spec["components"]["schemas"]["WorkingHoursEntry"]["properties"]["start"]
    assert "format" not in start  # JSON Schema's "time" demands an offset

    response = client.get(
        f"{API_PREFIX}/providers", headers=factory.staff_headers(clinic.front_desk)
    )

    assert response.status_code == 200, response.text
    [entry] = response.json()[0]["working_hours"]
    assert (entry["start"], entry["end"]) == ("09:00:00", "17:30:00")
    assert re.fullmatch(start["pattern"], entry["start"])
