"""Contact details and message choices in the portal, over TestClient on both databases:
the clinic's record changes only when something did, with the checks the desk applies;
a clinic's change in the meantime is not overwritten; choices are recorded as made in
the portal."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from common.messaging import Channel, ConsentSource, Purpose
from server.audit.models import AuditEvent
from server.db import transaction
from server.messaging.models import ConsentDecision
from server.patients.models import Patient
from tests.server.conftest import Factory
from tests.server.portal import portalmaker
from tests.server.portal.portalmaker import post
from tests.server.web import linkmaker

DEFAULT_TICKS = {
    f"consent-{c.value}-{p.value}": "yes" for c in Channel for p in (Purpose.CARE, Purpose.REMINDER)
}


@pytest.fixture
def where(factory: Factory, db: sessionmaker[Session]) -> linkmaker.Practice:
    clinic = factory.clinic("north")
    with transaction(db) as session:
        return linkmaker.practice(session, clinic.id)


def patient(db: sessionmaker[Session], patient_id: uuid.UUID) -> Patient:
    with db() as session:
        row = session.get(Patient, patient_id)
        assert row is not None
        session.expunge(row)
        return row


def version_on(page_text: str, patient_id: uuid.UUID) -> str:
    found = re.search(
        rf'action="[^"]*/contact/{patient_id}"[^>]*>\s*<input[^>]*>\s*'
        r'<input type="hidden" name="version" value="(\d+)">',
        page_text,
    )
    assert found, "the form carries the record's version"
    return found.group(1)


def save(web: TestClient, base: str, patient_id: uuid.UUID, **fields: str) -> httpx.Response:
    page = web.get(f"{base}/contact")
    form = {"version": version_on(page.text, patient_id), **fields}
    return post(web, f"{base}/contact", f"{base}/contact/{patient_id}", **form)


def test_saving_unchanged_changes_nothing_and_a_change_is_the_clinics_record(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    base = portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    page = web.get(f"{base}/contact")
    assert page.status_code == 200
    assert "07400 900123" in page.text
    assert 'value="rosa@example.org"' in page.text
    assert "it is not the address you sign in with (rosa@example.org)" in page.text
    before = patient(db, where.patient_id).version

    same = save(
        web,
        base,
        where.patient_id,
        phone="07400 900123",
        email="rosa@example.org",
        **DEFAULT_TICKS,
    )
    assert same.headers["location"] == f"{base}/contact?done=unchanged"
    assert patient(db, where.patient_id).version == before
    with db() as session:
        assert session.scalars(select(ConsentDecision)).all() == []

    ticks = {**DEFAULT_TICKS, "consent-email-marketing": "yes"}
    del ticks["consent-sms-care"]
    changed = save(
        web, base, where.patient_id, phone="07400 900456", email="Rosa.Lind@Example.org", **ticks
    )
    assert changed.headers["location"] == f"{base}/contact?done=saved"
    now = patient(db, where.patient_id)
    assert now.phone == "+447400900456"
    assert now.email == "Rosa.Lind@example.org"
    assert now.version > before
    assert now.changed_by_device_id is None
    with db() as session:
        decisions = {
            (d.channel, d.purpose): (d.granted, d.source)
            for d in session.scalars(select(ConsentDecision))
        }
        assert decisions == {
            (Channel.EMAIL, Purpose.MARKETING): (True, ConsentSource.PORTAL),
            (Channel.SMS, Purpose.CARE): (False, ConsentSource.PORTAL),
        }
        audited = session.scalars(
            select(AuditEvent).where(
                AuditEvent.entity == "patients",
                AuditEvent.action.in_(("update", "consent_given", "consent_withdrawn")),
            )
        ).all()
        assert sorted(a.action for a in audited) == [
            "consent_given",
            "consent_withdrawn",
            "update",
        ]
        assert {a.acting_patient_id for a in audited} == {where.patient_id}
    shown = web.get(f"{base}/contact")
    assert 'name="consent-email-marketing" value="yes" checked' in shown.text
    assert 'name="consent-sms-care" value="yes">' in shown.text


def test_a_phone_that_cannot_be_dialled_is_said_on_the_form(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    base = portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    before = patient(db, where.patient_id)
    refused = save(web, base, where.patient_id, phone="12", email="not an address", **DEFAULT_TICKS)
    assert refused.status_code == 422
    assert "not a valid UK number" in refused.text
    assert "That e-mail address is not valid" in refused.text
    assert 'value="12"' in refused.text  # what was typed stays in the form
    after = patient(db, where.patient_id)
    assert (after.phone, after.email, after.version) == (before.phone, before.email, before.version)


def test_a_change_the_clinic_made_meanwhile_is_not_overwritten(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    base = portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    page = web.get(f"{base}/contact")
    old_version = version_on(page.text, where.patient_id)
    with transaction(db) as session:  # the desk saves a new number
        session.execute(
            update(Patient).where(Patient.id == where.patient_id).values(email="desk@example.org")
        )
        row = session.get(Patient, where.patient_id)
        assert row is not None
        row.phone = "+447400900777"
    late = post(
        web,
        f"{base}/contact",
        f"{base}/contact/{where.patient_id}",
        version=old_version,
        phone="07400 900999",
        email="rosa@example.org",
        **DEFAULT_TICKS,
    )
    assert late.status_code == 409
    assert "The clinic changed these details" in late.text
    assert patient(db, where.patient_id).phone == "+447400900777"


def test_a_family_members_details_are_theirs_and_strangers_are_not_found(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    base = portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    added = post(
        web,
        f"{base}/family/add",
        f"{base}/family/add",
        first_name="Tom",
        last_name="Lind",
        date_of_birth="03/02/2015",
    )
    assert added.status_code == 303
    with db() as session:
        tom = session.scalars(select(Patient).where(Patient.first_name == "Tom")).one()
        stranger = Patient(clinic_id=where.clinic_id, first_name="Sam", last_name="Other")
        session.add(stranger)
        session.commit()
        tom_id, stranger_id = tom.id, stranger.id
    assert "Tom Lind" in web.get(f"{base}/contact").text
    saved = save(web, base, tom_id, phone="07400 900321", email="", **DEFAULT_TICKS)
    assert saved.status_code == 303
    assert patient(db, tom_id).phone == "+447400900321"
    assert patient(db, where.patient_id).phone == "+447400900123"
    with db() as session:
        row = session.scalars(
            select(AuditEvent).where(AuditEvent.entity_id == tom_id, AuditEvent.action == "update")
        ).one()
        assert row.acting_patient_id == where.patient_id  # the holder acted, for Tom

    page = web.get(f"{base}/contact")
    for who in (stranger_id, "nonsense"):
        refused = post(
            web,
            f"{base}/contact",
            f"{base}/contact/{who}",
            version=version_on(page.text, where.patient_id),
            phone="07400 900111",
            email="",
        )
        assert refused.status_code == 404
    assert patient(db, stranger_id).phone is None
