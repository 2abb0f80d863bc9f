"""A clinic set up for care tests the way the product sets it up: a practice with a
portal (``linkmaker``), staff signed in on a desk, and plans, notes, photos and library
items made through the desk's API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from common.roles import Role
from server.db import transaction
from server.demo import demo_pdf, demo_png
from server.patients.models import Patient
from sync.protocol import API_PREFIX, PROTOCOL_HEADER, PROTOCOL_VERSION
from tests.server.conftest import Factory, MadeClinic
from tests.server.web import linkmaker

PHASES = ["Assessment", "Fitting", "Adjustment", "Retention"]
ROLES = (Role.CLINIC_ADMIN, Role.FRONT_DESK, Role.READ_ONLY)


@dataclass
class Clinic:
    made: MadeClinic
    at: linkmaker.Practice
    admin: dict[str, str]
    desk: dict[str, str]  # front desk: patients:write, not content:manage
    reader: dict[str, str]  # read only

    @property
    def id(self) -> uuid.UUID:
        return self.made.id

    @property
    def rosa(self) -> uuid.UUID:
        return self.at.patient_id


def clinic(factory: Factory, db: sessionmaker[Session], slug: str) -> Clinic:
    made = factory.clinic(slug, roles=ROLES)
    with transaction(db) as session:
        at = linkmaker.practice(session, made.id, name=f"{slug.title()} Orthodontics", slug=slug)

    def headers(role: Role) -> dict[str, str]:
        return {PROTOCOL_HEADER: str(PROTOCOL_VERSION), **factory.staff_headers(made.staff[role])}

    return Clinic(
        made, at, headers(Role.CLINIC_ADMIN), headers(Role.FRONT_DESK), headers(Role.READ_ONLY)
    )


def patient(db: sessionmaker[Session], clinic_id: uuid.UUID, first: str, email: str) -> uuid.UUID:
    with transaction(db) as session:
        row = Patient(clinic_id=clinic_id, first_name=first, last_name="Reed", email=email)
        session.add(row)
        session.flush()
        return row.id


def start_plan(
    client: TestClient,
    headers: dict[str, str],
    patient_id: uuid.UUID,
    phases: list[str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    body = {"title": "Braces, upper and lower", "phases": phases or PHASES, **fields}
    answer = client.post(
        f"{API_PREFIX}/patients/{patient_id}/treatment/plans", json=body, headers=headers
    )
    assert answer.status_code == 201, answer.text
    moved: dict[str, Any] = answer.json()
    return moved


def phase_id(plan: dict[str, Any], name: str) -> str:
    return next(p["id"] for p in plan["phases"] if p["name"] == name)


def move(
    client: TestClient,
    headers: dict[str, str],
    patient_id: uuid.UUID,
    plan: dict[str, Any],
    name: str,
) -> Any:
    return client.put(
        f"{API_PREFIX}/patients/{patient_id}/treatment/plans/{plan['id']}/current-phase",
        json={"phase_id": phase_id(plan, name)},
        headers=headers,
    )


def upload(
    client: TestClient,
    headers: dict[str, str],
    patient_id: uuid.UUID,
    phase: str,
    data: bytes,
    content_type: str = "image/png",
) -> Any:
    return client.post(
        f"{API_PREFIX}/patients/{patient_id}/treatment/phases/{phase}/photos",
        content=data,
        headers={**headers, "content-type": content_type},
    )


def photo_url(patient_id: uuid.UUID | str, photo_id: uuid.UUID | str) -> str:
    return f"{API_PREFIX}/patients/{patient_id}/treatment/photos/{photo_id}"


def treatment(client: TestClient, headers: dict[str, str], patient_id: uuid.UUID) -> Any:
    answer = client.get(f"{API_PREFIX}/patients/{patient_id}/treatment", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def add_item(client: TestClient, headers: dict[str, str], **fields: Any) -> Any:
    body = {"kind": "article", "title": "An article", "body": "Some text.", **fields}
    return client.post(f"{API_PREFIX}/content", json=body, headers=headers)


def article(
    client: TestClient, headers: dict[str, str], title: str, phases: list[str], **more: Any
) -> str:
    answer = add_item(client, headers, title=title, phases=phases, **more)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def put_file(client: TestClient, headers: dict[str, str], item_id: str, data: bytes) -> Any:
    """A PDF item's file, as the desk sends it: the body itself."""
    return client.put(
        f"{API_PREFIX}/content/{item_id}/file",
        content=data,
        headers={**headers, "content-type": "application/pdf"},
    )


def pdf_item(
    client: TestClient,
    headers: dict[str, str],
    title: str,
    phases: list[str],
    data: bytes | None = None,
) -> str:
    """A PDF item with its file, added as the desk adds one: its fields, then the file."""
    made = add_item(client, headers, kind="pdf", title=title, body="", phases=phases)
    assert made.status_code == 201, made.text
    item_id = str(made.json()["id"])
    sent = put_file(client, headers, item_id, data or demo_pdf(title, ["Toffee.", "Nuts."]))
    assert sent.status_code == 200, sent.text
    return item_id


PNG = demo_png(24, 16)
