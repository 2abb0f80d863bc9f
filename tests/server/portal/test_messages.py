"""The portal's Messages, and a family member's messages reaching the account holder:
a child with no phone or e-mail of their own is written to through their parent, and
the parent reads it in the portal; nobody else's messages, and not the desk's own
notes, are shown."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from common.messaging import Channel, Purpose
from common.portal import Relation
from server.booking_links.patient import note_for_desk
from server.db import transaction, utcnow
from server.messaging import service as messaging
from server.patients.models import Patient
from server.portal import accounts
from tests.server.conftest import Factory
from tests.server.portal import portalmaker
from tests.server.web import linkmaker


@pytest.fixture
def where(factory: Factory, db: sessionmaker[Session]) -> linkmaker.Practice:
    clinic = factory.clinic("north")
    with transaction(db) as session:
        return linkmaker.practice(session, clinic.id)


def write(db: sessionmaker[Session], patient_id, subject: str, text: str) -> None:  # type: ignore[no-untyped-def]
    with transaction(db) as session:
        patient = session.get(Patient, patient_id)
        assert patient is not None
        messaging.compose(
            session,
            patient.clinic_id,
            patient=patient,
            purpose=Purpose.REMINDER,
            kind="reminder",
            drafts=[
                messaging.Draft(Channel.EMAIL, text, subject=subject),
                messaging.Draft(Channel.SMS, text),
            ],
        )


def test_a_childs_messages_reach_the_parent_and_show_in_their_portal(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    base = portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    with transaction(db) as session:
        child = Patient(clinic_id=where.clinic_id, first_name="Leo", last_name="Lind")
        stranger = Patient(
            clinic_id=where.clinic_id, first_name="Sam", last_name="Other", email="sam@x.org"
        )
        session.add_all([child, stranger])
        session.flush()
        account = accounts.account_by_email(session, "rosa@example.org")
        assert account is not None
        accounts.link_record(session, account, where.clinic_id, child.id, Relation.DEPENDANT)
        child_id, stranger_id = child.id, stranger.id
        note_for_desk(
            session, where.clinic_id, where.patient_id, kind="note", body="DESK ONLY", now=utcnow()
        )

    write(db, child_id, "Leo's check-up", "Leo is due for his check-up on Friday.")
    write(db, stranger_id, "Sam's", "SAM'S PRIVATE TEXT")
    sent = portalmaker.last_email_to(db, "rosa@example.org")
    assert sent.patient_id == child_id
    assert "Leo is due" in sent.text

    page = web.get(f"{base}/messages")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "Leo is due for his check-up" in page.text
    assert "about Leo Lind" in page.text
    assert "Your patient portal" in page.text  # her invitation, link masked
    assert "SAM'S PRIVATE TEXT" not in page.text
    assert "DESK ONLY" not in page.text


def test_a_family_member_with_an_address_of_their_own_keeps_it(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    with transaction(db) as session:
        mother = Patient(
            clinic_id=where.clinic_id, first_name="Ada", last_name="Lind", email="ada@x.org"
        )
        session.add(mother)
        session.flush()
        account = accounts.account_by_email(session, "rosa@example.org")
        assert account is not None
        accounts.link_record(session, account, where.clinic_id, mother.id, Relation.DEPENDANT)
        mother_id = mother.id
    write(db, mother_id, "Hello", "For Ada herself.")
    assert portalmaker.last_email_to(db, "ada@x.org").text == "For Ada herself."
