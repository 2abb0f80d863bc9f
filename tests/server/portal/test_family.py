"""The portal's family page over TestClient on both databases: a family member added
becomes a patient of the clinic linked to the account as a dependant, the same person
twice is refused in words, bad input is a page not a 500, and taking someone off the
account keeps the clinic's record."""

from __future__ import annotations

import uuid
from datetime import date

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from common.portal import Relation
from server.audit.models import AuditEvent
from server.db import transaction
from server.patients.models import Patient
from server.portal.models import PortalMember
from tests.server.conftest import Factory
from tests.server.portal import portalmaker
from tests.server.portal.portalmaker import post
from tests.server.web import linkmaker


@pytest.fixture
def where(factory: Factory, db: sessionmaker[Session]) -> linkmaker.Practice:
    clinic = factory.clinic("north")
    with transaction(db) as session:
        return linkmaker.practice(session, clinic.id)


def add(web: TestClient, base: str, **fields: str) -> httpx.Response:
    typed = {"first_name": "", "last_name": "", "date_of_birth": "", "relationship": ""}
    typed.update(fields)
    return post(web, f"{base}/family/add", f"{base}/family/add", **typed)


def dependants(db: sessionmaker[Session], clinic_id: uuid.UUID) -> list[Patient]:
    with db() as session:
        return list(
            session.scalars(
                select(Patient)
                .join(PortalMember, PortalMember.patient_id == Patient.id)
                .where(
                    PortalMember.clinic_id == clinic_id,
                    PortalMember.relation == Relation.DEPENDANT,
                )
            )
        )


def test_a_family_member_is_registered_at_the_clinic_and_linked_as_a_dependant(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    base = portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    empty = web.get(f"{base}/family")
    assert empty.status_code == 200
    assert "No family members" in empty.text

    done = add(
        web,
        base,
        first_name=" Tom ",
        last_name="Lind",
        date_of_birth="03/02/2015",
        relationship="son",
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"{base}/family?done=added"

    [tom] = dependants(db, where.clinic_id)
    assert (tom.first_name, tom.last_name, tom.date_of_birth) == ("Tom", "Lind", date(2015, 2, 3))
    assert tom.email is None
    assert tom.phone is None
    assert tom.clinic_id == where.clinic_id
    page = web.get(f"{base}/family")
    assert "Tom Lind" in page.text
    assert "03/02/2015" in page.text
    # The family member is one of the viewer's people now: the home page knows them too.
    with db() as session:
        row = session.scalars(
            select(AuditEvent).where(AuditEvent.entity_id == tom.id, AuditEvent.action == "create")
        ).one()
        assert row.acting_patient_id == where.patient_id
        assert "son" in row.reason

    # The same person again (another spelling of case): refused in words, nothing made.
    again = add(web, base, first_name="tom", last_name="LIND", date_of_birth="3/2/2015")
    assert again.status_code == 422
    assert "is on your account already" in again.text
    assert len(dependants(db, where.clinic_id)) == 1


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        (
            {"first_name": "<b>Tom", "last_name": "Lind", "date_of_birth": "03/02/2015"},
            "&lt; or &gt;",
        ),
        ({"first_name": "", "last_name": "Lind", "date_of_birth": "03/02/2015"}, "first name"),
        ({"first_name": "Tom", "last_name": "Lind", "date_of_birth": "31/02/2015"}, "17/05/1980"),
        ({"first_name": "Tom", "last_name": "Lind", "date_of_birth": ""}, "date of birth"),
        ({"first_name": "Tom", "last_name": "Lind", "date_of_birth": "01/01/2999"}, "future"),
        (
            {
                "first_name": "Tom",
                "last_name": "Lind",
                "date_of_birth": "01/01/2015",
                "relationship": "x" * 41,
            },
            "40 characters",
        ),
    ],
)
def test_what_cannot_be_registered_is_said_on_the_form(
    web: TestClient,
    db: sessionmaker[Session],
    where: linkmaker.Practice,
    fields: dict[str, str],
    words: str,
) -> None:
    base = portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    refused = add(web, base, **fields)
    assert refused.status_code == 422
    assert words in refused.text
    assert 'class="problems"' in refused.text
    assert dependants(db, where.clinic_id) == []


def test_taking_a_family_member_off_the_account_keeps_the_clinics_record(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    base = portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    assert (
        add(web, base, first_name="Ida", last_name="Lind", date_of_birth="2016-07-01").status_code
        == 303
    )
    [ida] = dependants(db, where.clinic_id)
    confirm = web.get(f"{base}/family/{ida.id}/remove")
    assert confirm.status_code == 200
    assert "keeps Ida's record" in confirm.text
    assert len(dependants(db, where.clinic_id)) == 1  # GET changes nothing

    gone = post(web, f"{base}/family/{ida.id}/remove", f"{base}/family/{ida.id}/remove")
    assert gone.status_code == 303
    assert dependants(db, where.clinic_id) == []
    with db() as session:
        kept = session.get(Patient, ida.id)
        assert kept is not None
        assert kept.deleted_at is None
    assert "Ida Lind" not in web.get(f"{base}/family").text
    # Neither a stranger's record nor the holder's own can be "taken off".
    assert web.get(f"{base}/family/{ida.id}/remove").status_code == 404
    assert web.get(f"{base}/family/{where.patient_id}/remove").status_code == 404
    assert web.get(f"{base}/family/not-an-id/remove").status_code == 404
