"""Registering a patient and editing their details from a desk: the rules of
``common.patients`` checked on the server, in words; scoped by clinic; at most once; based
on the version the desk saw."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from common.roles import Role
from server.audit.models import AuditEvent
from server.clinics.models import Clinic
from server.patients.models import Patient
from server.scheduling.models import Appointment
from tests.server.test_mutations import a_week_from_today_at, book, mutation, push


@pytest.fixture
def desk(factory):
    clinic = factory.clinic(
        "alder", roles=(Role.FRONT_DESK, Role.READ_ONLY), providers=1, patients=2
    )
    return clinic, factory.signed_desk(clinic.front_desk, clinic.staff[Role.READ_ONLY])


def register(patient_id=None, **fields):
    return {
        "kind": "register_patient",
        "patient_id": str(patient_id or uuid.uuid4()),
        "first_name": "Ada",
        "last_name": "Lovelace",
        "date_of_birth": "1980-05-17",
        "sex": "female",
        "address_line1": "12 St James's Square",
        "city": "London",
        "postcode": "sw1y 4jh",
        "phone": "020 7946 0123",
        "email": "Ada@Example.org",
        "alerts": ["Needs wheelchair access"],
    } | fields


def details(patient: Patient) -> dict:
    return {
        name: getattr(patient, name)
        for name in (
            "first_name",
            "last_name",
            "date_of_birth",
            "sex",
            "address_line1",
            "address_line2",
            "city",
            "postcode",
            "phone",
            "email",
            "alerts",
            "version",
        )
    }


def test_the_clinic_knows_its_country_from_its_time_zone(db, desk):
    clinic, _headers = desk
    with db() as session:
        assert session.get(Clinic, clinic.id).country == "GB"


def test_a_patient_is_registered_with_the_desks_id_and_the_rules_applied(client, db, desk):
    clinic, headers = desk
    patient_id = uuid.uuid4()
    [result] = push(client, headers, mutation(clinic.front_desk.staff_id, register(patient_id)))
    assert result["status"] == "applied", result
    record = result["patient"]
    assert record["id"] == str(patient_id)
    assert record["phone"] == "+442079460123"  # E.164, read as a UK number
    assert record["email"] == "Ada@example.org"
    assert record["postcode"] == "SW1Y 4JH"
    assert record["alerts"] == ["Needs wheelchair access"]
    assert record["sex"] == "female"
    with db() as session:
        patient = session.get(Patient, patient_id)
        assert patient.clinic_id == clinic.id
        assert patient.date_of_birth.isoformat() == "1980-05-17"
        audited = session.scalars(
            select(AuditEvent.action).where(AuditEvent.entity_id == patient_id)
        ).all()
    assert audited == ["create"]


def test_a_registration_and_a_booking_for_the_new_patient_arrive_in_order(client, db, desk):
    clinic, headers = desk
    patient_id = uuid.uuid4()
    booking = book(clinic, a_week_from_today_at(10)) | {"patient_id": str(patient_id)}
    staff = clinic.front_desk.staff_id
    results = push(
        client,
        headers,
        mutation(staff, register(patient_id), seq=1),
        mutation(staff, booking, seq=2),
    )
    assert [r["status"] for r in results] == ["applied", "applied"]
    with db() as session:
        assert (
            session.get(Appointment, uuid.UUID(booking["appointment_id"])).patient_id == patient_id
        )


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"phone": "0770 090"}, "That phone number is not a valid UK number: 0770 090."),
        ({"email": "ada@"}, "That e-mail address is not valid: ada@."),
        ({"first_name": "  "}, "Type the patient's first name."),
        ({"date_of_birth": "2190-01-01"}, "is in the future"),
        ({"date_of_birth": "1850-01-01"}, "before 1900"),
    ],
)
def test_a_bad_registration_is_rejected_in_words_and_nothing_is_written(
    client, db, desk, fields, words
):
    clinic, headers = desk
    patient_id = uuid.uuid4()
    [result] = push(
        client, headers, mutation(clinic.front_desk.staff_id, register(patient_id, **fields))
    )
    assert result["status"] == "rejected"
    assert result["code"] == "invalid"
    assert words in result["message"]
    assert result["patient"] is None
    with db() as session:
        assert session.get(Patient, patient_id) is None


def test_a_replayed_registration_is_applied_once(client, db, desk):
    clinic, headers = desk
    patient_id, mutation_id = uuid.uuid4(), uuid.uuid4()
    again = mutation(clinic.front_desk.staff_id, register(patient_id), mutation_id=mutation_id)
    first = push(client, headers, again)
    second = push(client, headers, again)
    assert first[0]["status"] == second[0]["status"] == "applied"
    assert second[0]["patient"]["id"] == str(patient_id)
    with db() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(Patient).where(Patient.id == patient_id)
            )
            == 1
        )


def test_an_id_taken_by_another_clinics_patient_tells_nothing_about_it(client, db, factory, desk):
    clinic, headers = desk
    other = factory.clinic("birch", patients=1)
    foreign = other.records.patient_ids[0]
    [result] = push(client, headers, mutation(clinic.front_desk.staff_id, register(foreign)))
    assert result["status"] == "rejected"
    assert result["code"] == "invalid"
    assert "cannot be used for a new patient" in result["message"]
    assert result["patient"] is None
    with db() as session:
        assert session.get(Patient, foreign).clinic_id == other.id
        assert session.get(Patient, foreign).first_name != "Ada"


def update(patient_id, version, **fields):
    return register(patient_id, **fields) | {
        "kind": "update_patient",
        "base_version": version,
    }


def test_a_patients_details_are_updated_on_the_version_seen(client, db, desk):
    clinic, headers = desk
    patient_id = clinic.records.patient_ids[0]
    with db() as session:
        version = session.get(Patient, patient_id).version
    [result] = push(
        client,
        headers,
        mutation(clinic.front_desk.staff_id, update(patient_id, version, city="Bath")),
    )
    assert result["status"] == "applied", result
    assert result["patient"]["city"] == "Bath"
    assert result["patient"]["version"] > version
    with db() as session:
        assert session.get(Patient, patient_id).alerts == ["Needs wheelchair access"]
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.entity_id == patient_id)
        ).all()
    assert actions == ["update"]


def test_an_edit_based_on_an_old_version_is_stale(client, db, factory, desk):
    clinic, headers = desk
    patient_id = clinic.records.patient_ids[0]
    with db() as session:
        version = session.get(Patient, patient_id).version
    other_desk = factory.signed_desk(clinic.front_desk, device_name="Other desk")
    [first] = push(
        client,
        other_desk,
        mutation(clinic.front_desk.staff_id, update(patient_id, version, city="York")),
    )
    assert first["status"] == "applied"
    [late] = push(
        client,
        headers,
        mutation(clinic.front_desk.staff_id, update(patient_id, version, city="Bath")),
    )
    assert late["status"] == "rejected"
    assert late["code"] == "stale_version"
    assert late["patient"]["city"] == "York"


def test_another_clinics_patient_cannot_be_edited(client, db, factory, desk):
    clinic, headers = desk
    other = factory.clinic("birch", patients=1)
    foreign = other.records.patient_ids[0]
    with db() as session:
        before = details(session.get(Patient, foreign))
    [result] = push(
        client,
        headers,
        mutation(clinic.front_desk.staff_id, update(foreign, before["version"], city="Bath")),
    )
    assert result["code"] == "not_found"
    assert result["patient"] is None
    with db() as session:
        assert details(session.get(Patient, foreign)) == before


def test_saving_the_details_unchanged_makes_no_new_version(client, db, desk):
    clinic, headers = desk
    patient_id = uuid.uuid4()
    staff = clinic.front_desk.staff_id
    [made] = push(client, headers, mutation(staff, register(patient_id), seq=1))
    record = made["patient"]
    same = {k: v for k, v in record.items() if k not in ("id", "version")}
    same |= {
        "kind": "update_patient",
        "patient_id": str(patient_id),
        "base_version": record["version"],
    }
    with db() as session:
        before = details(session.get(Patient, patient_id))
    [result] = push(client, headers, mutation(staff, same, seq=2))
    assert result["status"] == "applied"
    with db() as session:
        assert details(session.get(Patient, patient_id)) == before


def test_read_only_staff_cannot_register_patients(client, db, desk):
    clinic, headers = desk
    patient_id = uuid.uuid4()
    [result] = push(
        client, headers, mutation(clinic.staff[Role.READ_ONLY].staff_id, register(patient_id))
    )
    assert result["code"] == "forbidden"
    with db() as session:
        assert session.get(Patient, patient_id) is None


def test_the_older_contact_update_still_works(client, db, desk):
    clinic, headers = desk
    patient_id = clinic.records.patient_ids[0]
    with db() as session:
        version = session.get(Patient, patient_id).version
    [result] = push(
        client,
        headers,
        mutation(
            clinic.front_desk.staff_id,
            {
                "kind": "update_patient_contact",
                "patient_id": str(patient_id),
                "base_version": version,
                "phone": "020 7946 0000",
                "email": None,
            },
        ),
    )
    assert result["status"] == "applied"
    assert result["patient"]["sex"] == "unknown"
    assert result["patient"]["alerts"] == []


def test_a_registration_is_pulled_by_other_desks(client, db, desk):
    clinic, headers = desk
    patient_id = uuid.uuid4()
    push(client, headers, mutation(clinic.front_desk.staff_id, register(patient_id)))
    page = client.get("/api/v1/sync/changes", headers=headers).json()
    [pulled] = [p for p in page["patients"] if p["id"] == str(patient_id)]
    assert pulled["alerts"] == ["Needs wheelchair access"]
    assert pulled["address_line1"] == "12 St James's Square"
    assert datetime.now(UTC) - timedelta(minutes=5) < datetime.fromisoformat(page["server_time"])
