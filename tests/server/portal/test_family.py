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
from playwright.sync_api import BrowserContext
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from common.portal import Relation
from server.audit.models import AuditEvent
from server.clinics.models import Clinic
from server.db import transaction, utcnow
from server.demo import DEMO_SLUG
from server.patients.models import Patient
from server.portal import accounts, sharing
from server.portal.models import PortalMember
from tests.server.conftest import Factory
from tests.server.portal import portalmaker
from tests.server.portal.portalmaker import post
from tests.server.web import linkmaker
from tests.support.browser import RequestLog, check_accessible
from tests.support.live_server import LiveServer

ALLERGY_TEXT = "Penicillin"


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
        ({"first_name": "Tom", "last_name": "Lind", "date_of_birth": "31/02/2015"}, "no such day"),
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


@pytest.mark.browser
def test_the_account_pages_in_chromium_on_a_phone(
    phone: BrowserContext, live_server: LiveServer
) -> None:
    """Family, profile, sharing and contact pages filled in as a patient does, with
    axe-core on each and nothing fetched from another origin."""
    now = utcnow()
    with transaction(live_server.sessionmaker) as session:
        clinic = session.scalar(select(Clinic).where(Clinic.slug == DEMO_SLUG))
        assert clinic is not None
        rosa = Patient(
            clinic_id=clinic.id,
            first_name="Rosa",
            last_name="Lind",
            date_of_birth=date(1984, 5, 17),
        )
        session.add(rosa)
        session.flush()
        account = accounts.create_account(session, "rosa.chromium@example.org", now)
        accounts.link_record(session, account, clinic.id, rosa.id, Relation.SELF)
        token = accounts.issue_link(session, account, clinic.id, now)
        clinic_id = clinic.id
    page = phone.new_page()
    log = RequestLog(page, live_server.url)
    base = f"{live_server.url}/portal/{DEMO_SLUG}"
    page.goto(f"{live_server.url}/portal/link/{token}")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/home")

    page.goto(f"{base}/family")
    check_accessible(page)
    page.get_by_role("link", name="Add a family member").click()
    check_accessible(page)
    page.get_by_label("First name").fill("Tom")
    page.get_by_label("Last name").fill("Lind")
    page.get_by_label("Date of birth").fill("31/02/2015")
    page.get_by_role("button", name="Add to my account").click()
    page.get_by_role("alert").wait_for()
    check_accessible(page)  # the refusal, beside its field
    page.get_by_label("Date of birth").fill("03/02/2015")
    page.get_by_role("button", name="Add to my account").click()
    page.get_by_text("The family member is on your account").wait_for()
    assert page.get_by_text("Tom Lind").is_visible()

    page.goto(f"{base}/profile")
    check_accessible(page)
    page.get_by_label("Allergies").fill(ALLERGY_TEXT)
    page.get_by_label("Blood type").select_option("A+")
    page.get_by_role("button", name="Save my profile").click()
    page.get_by_text("Your profile is saved.").wait_for()

    page.goto(f"{base}/sharing")
    check_accessible(page)
    page.get_by_role("link", name="Allow").click()
    check_accessible(page)
    page.get_by_label("Type your full name to sign").fill("rosa lind")
    page.get_by_role("button", name="Sign the consent").click()
    page.get_by_text("Signed: the clinic can now see your profile.").wait_for()

    page.goto(f"{base}/contact")
    check_accessible(page)
    page.get_by_label("Mobile phone").first.fill("07400 900123")
    page.get_by_role("button", name="Save for Rosa Lind").click()
    page.get_by_text("Saved.").wait_for()
    assert log.elsewhere() == []
    with live_server.sessionmaker() as session:
        assert session.get(Patient, rosa.id).phone == "+447400900123"  # type: ignore[union-attr]
        assert sharing.current_consent(session, account.id, clinic_id) is not None
