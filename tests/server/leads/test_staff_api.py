"""The desk's side of leads over the API, on SQLite and PostgreSQL: listing (audited),
notes, the moves and their refusals in words, converting to a patient on file or a new
one (with possible duplicates first), clinic scoping and permissions."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from common.roles import Role
from server.audit.models import AuditEvent
from server.db import transaction
from server.leads.models import Lead
from server.patients.models import Patient
from tests.server.conftest import Factory, MadeClinic
from tests.server.leads.test_enquiry_form import GOOD, open_clinic, submit

API = "/api/v1"


@pytest.fixture
def north(factory: Factory, db: sessionmaker[Session]) -> MadeClinic:
    clinic = open_clinic(factory, db, "north")
    for role in (Role.READ_ONLY, Role.CLINIC_ADMIN):
        clinic.staff[role] = factory.staff(clinic, role)
    return clinic


def enquire(web: TestClient, **fields: str) -> None:
    sent = submit(web, "/enquire/north-web?ref=walk-in", **{**GOOD, "ref": "walk-in", **fields})
    assert sent.status_code == 303, sent.text


def only_lead(db: sessionmaker[Session], clinic: MadeClinic) -> uuid.UUID:
    with db() as session:
        return session.scalars(select(Lead.id).where(Lead.clinic_id == clinic.id)).one()


def test_list_is_newest_first_audited_and_counts_the_address(
    web: TestClient,
    client: TestClient,
    north: MadeClinic,
    factory: Factory,
    db: sessionmaker[Session],
) -> None:
    enquire(web, first_name="First")
    enquire(web, first_name="Second")
    headers = factory.staff_headers(north.staff[Role.READ_ONLY])
    answer = client.get(f"{API}/leads", params={"status": "new"}, headers=headers)
    assert answer.status_code == 200
    rows = answer.json()
    assert [r["first_name"] for r in rows] == ["Second", "First"]
    assert rows[0]["channel"] == "walk_in"
    assert rows[0]["same_address"] == 2
    assert rows[0]["phone"] == "+447400912345"
    assert rows[0]["user_agent_family"]
    with db() as session:
        audit = session.scalars(
            select(AuditEvent).where(AuditEvent.entity == "leads", AuditEvent.action == "read")
        ).all()
    assert [(a.record_count, a.staff_id) for a in audit] == [
        (2, north.staff[Role.READ_ONLY].staff_id)
    ]
    assert client.get(f"{API}/leads", params={"status": "converted"}, headers=headers).json() == []
    assert (
        client.get(f"{API}/leads", params={"status": "nonsense"}, headers=headers).status_code
        == 422
    )


def test_notes_and_moves_with_refusals_in_words(
    web: TestClient,
    client: TestClient,
    north: MadeClinic,
    factory: Factory,
    db: sessionmaker[Session],
) -> None:
    enquire(web)
    lead_id = only_lead(db, north)
    headers = factory.staff_headers(north.front_desk)
    noted = client.post(
        f"{API}/leads/{lead_id}/notes", json={"text": "Rang, no answer"}, headers=headers
    )
    assert noted.status_code == 200
    [note] = noted.json()["notes"]
    assert note["text"] == "Rang, no answer"
    assert note["staff_name"] == "Front desk of north"
    empty = client.post(f"{API}/leads/{lead_id}/notes", json={"text": "  "}, headers=headers)
    assert empty.status_code == 422
    assert "Type a note" in empty.json()["message"]
    contacted = client.post(
        f"{API}/leads/{lead_id}/contacted", json={"text": "Spoke to her"}, headers=headers
    )
    assert contacted.status_code == 200
    assert contacted.json()["status"] == "contacted"
    assert contacted.json()["decided_by_name"] == "Front desk of north"
    again = client.post(f"{API}/leads/{lead_id}/contacted", headers=headers)
    assert again.status_code == 409
    assert "already marked contacted by Front desk of north at" in again.json()["message"]
    no_reason = client.post(f"{API}/leads/{lead_id}/discard", json={"text": ""}, headers=headers)
    assert no_reason.status_code == 422
    discarded = client.post(
        f"{API}/leads/{lead_id}/discard", json={"text": "Went elsewhere"}, headers=headers
    )
    assert discarded.json()["status"] == "discarded"
    assert [n["text"] for n in discarded.json()["notes"]] == [
        "Rang, no answer",
        "Spoke to her",
        "Went elsewhere",
    ]
    late = client.post(f"{API}/leads/{lead_id}/convert", headers=headers)
    assert late.status_code == 409
    assert "already discarded by Front desk of north" in late.json()["message"]


def test_convert_to_a_new_patient_after_seeing_duplicates(
    web: TestClient,
    client: TestClient,
    north: MadeClinic,
    factory: Factory,
    db: sessionmaker[Session],
) -> None:
    with transaction(db) as session:
        twin = Patient(
            clinic_id=north.id,
            first_name="ada",
            last_name="LOVELACE",
            date_of_birth=date(1985, 12, 10),
            phone="+447400912345",
        )
        session.add(twin)
        session.flush()
        twin_id = twin.id
    enquire(web)
    lead_id = only_lead(db, north)
    headers = factory.staff_headers(north.front_desk)
    found = client.get(f"{API}/leads/{lead_id}/duplicates", headers=headers)
    assert found.status_code == 200
    [match] = found.json()
    assert match["patient_id"] == str(twin_id)
    assert match["reasons"] == ["same name and date of birth", "same phone"]
    converted = client.post(f"{API}/leads/{lead_id}/convert", json={}, headers=headers)
    assert converted.status_code == 200, converted.text
    body = converted.json()
    assert body["lead"]["status"] == "converted"
    new_id = uuid.UUID(body["patient"]["id"])
    assert new_id != twin_id
    assert body["lead"]["patient_id"] == str(new_id)
    assert body["lead"]["patient_name"] == "Ada Lovelace"
    with db() as session:
        patient = session.get(Patient, new_id)
        assert patient is not None
        assert (patient.phone, patient.email) == ("+447400912345", "ada@example.org")
        assert patient.date_of_birth == date(1985, 12, 10)
        actions = set(
            session.scalars(
                select(AuditEvent.action).where(AuditEvent.entity_id.in_([new_id, lead_id]))
            )
        )
    assert {"create", "convert"} <= actions
    twice = client.post(f"{API}/leads/{lead_id}/convert", json={}, headers=headers)
    assert twice.status_code == 409
    assert "already converted by Front desk of north at" in twice.json()["message"]


def test_convert_to_a_patient_on_file(
    web: TestClient,
    client: TestClient,
    north: MadeClinic,
    factory: Factory,
    db: sessionmaker[Session],
) -> None:
    patient_id = factory.records(north, providers=0, patients=1, appointments=0).patient_ids[0]
    enquire(web)
    lead_id = only_lead(db, north)
    headers = factory.staff_headers(north.front_desk)
    converted = client.post(
        f"{API}/leads/{lead_id}/convert", json={"patient_id": str(patient_id)}, headers=headers
    )
    assert converted.status_code == 200
    assert converted.json()["lead"]["patient_id"] == str(patient_id)
    assert "already on file" in converted.json()["lead"]["notes"][-1]["text"]
    with db() as session:
        assert session.query(Patient).filter(Patient.clinic_id == north.id).count() == 1


def test_another_clinics_lead_and_patient_are_not_found(
    web: TestClient,
    client: TestClient,
    north: MadeClinic,
    factory: Factory,
    db: sessionmaker[Session],
) -> None:
    south = factory.clinic("south", patients=1)
    enquire(web)
    lead_id = only_lead(db, north)
    theirs = factory.staff_headers(south.front_desk)
    for method, path in (
        ("GET", f"/leads/{lead_id}"),
        ("GET", f"/leads/{lead_id}/duplicates"),
        ("POST", f"/leads/{lead_id}/contacted"),
        ("POST", f"/leads/{lead_id}/convert"),
    ):
        answer = client.request(method, API + path, headers=theirs)
        assert answer.status_code == 404, path
        assert answer.json()["message"] == "There is no such lead in this clinic."
    assert client.get(f"{API}/leads", headers=theirs).json() == []
    ours = factory.staff_headers(north.front_desk)
    other_patient = client.post(
        f"{API}/leads/{lead_id}/convert",
        json={"patient_id": str(south.records.patient_ids[0])},
        headers=ours,
    )
    assert other_patient.status_code == 404
    with db() as session:
        assert session.get(Lead, lead_id).status.value == "new"  # type: ignore[union-attr]


def test_read_only_staff_may_look_but_not_change(
    web: TestClient,
    client: TestClient,
    north: MadeClinic,
    factory: Factory,
    db: sessionmaker[Session],
) -> None:
    enquire(web)
    lead_id = only_lead(db, north)
    headers = factory.staff_headers(north.staff[Role.READ_ONLY])
    assert client.get(f"{API}/leads/{lead_id}", headers=headers).status_code == 200
    for path, body in (
        ("notes", {"text": "x"}),
        ("contacted", {}),
        ("discard", {"text": "x"}),
        ("convert", {}),
    ):
        answer = client.post(f"{API}/leads/{lead_id}/{path}", json=body, headers=headers)
        assert answer.status_code == 403, path
    device_only = factory.device_headers(north.front_desk)
    assert client.get(f"{API}/leads", headers=device_only).status_code in (401, 403)
    assert client.get(f"{API}/leads").status_code == 401
