"""What one clinic never sees of another through the portal, on both databases.

Two clinics, Bay and Cove, on one server; the same patient has a record at each, and
one portal account (invited by both at one address; the second invitation links the
account the first made). Bay's desk reads the portable profile only while the patient
shares it with Bay; Cove's desk never through Bay's consent; neither desk's sync feed
carries the profile, the consents, the account or the other clinic's rows; each
clinic's portal pages show that clinic's records only."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from common.portal import PROFILE_FIELDS, Relation
from common.roles import Role
from server.db import transaction, utcnow
from server.messaging.models import ConsentDecision
from server.patients.models import Patient
from server.portal import accounts
from server.portal.models import PortalAccount, PortalMember, SharingConsent
from server.portal.viewer import SECURE_COOKIE
from sync.protocol import API_PREFIX, PROTOCOL_HEADER, PROTOCOL_VERSION
from tests.server.conftest import Factory, MadeClinic
from tests.server.portal import portalmaker
from tests.server.portal.portalmaker import post
from tests.server.web import linkmaker

ALLERGY = "Sulfa-XQ7 anaphylaxis"
INSURANCE = "Policy ZK-4471-Q"
COVE_PHONE = "+447400900999"

Pull = Callable[..., list[dict[str, Any]]]


@dataclass(frozen=True)
class Two:
    bay: MadeClinic
    cove: MadeClinic
    at_bay: linkmaker.Practice
    at_cove: linkmaker.Practice
    bay_desk: dict[str, str]
    cove_desk: dict[str, str]


@pytest.fixture
def two(factory: Factory, db: sessionmaker[Session]) -> Two:
    bay = factory.clinic("bay")
    cove = factory.clinic("cove")
    with transaction(db) as session:
        at_bay = linkmaker.practice(session, bay.id, name="Bay Physio", slug="bay")
        at_cove = linkmaker.practice(session, cove.id, name="Cove Physio", slug="cove")
        rosa_at_cove = session.get(Patient, at_cove.patient_id)
        assert rosa_at_cove is not None
        rosa_at_cove.phone = COVE_PHONE
    return Two(
        bay,
        cove,
        at_bay,
        at_cove,
        {PROTOCOL_HEADER: str(PROTOCOL_VERSION), **factory.staff_headers(bay.front_desk)},
        {PROTOCOL_HEADER: str(PROTOCOL_VERSION), **factory.staff_headers(cove.front_desk)},
    )


def one_account_at_both(web: TestClient, db: sessionmaker[Session], two: Two) -> uuid.UUID:
    """The patient accepts Bay's invitation, then Cove's: one account, two records."""
    assert portalmaker.signed_in(web, db, two.bay.id, two.at_bay.patient_id) == "/portal/bay"
    token = portalmaker.send_invite(db, two.cove.id, two.at_cove.patient_id)
    portalmaker.accept_invite(web, token)
    with db() as session:
        account = session.scalars(select(PortalAccount)).one()
        links = session.scalars(
            select(PortalMember).where(PortalMember.account_id == account.id)
        ).all()
        assert {(m.clinic_id, m.relation) for m in links} == {
            (two.bay.id, Relation.SELF),
            (two.cove.id, Relation.SELF),
        }
        return account.id


def desk_view(client: TestClient, headers: dict[str, str], patient_id: uuid.UUID) -> Any:
    answer = client.get(f"{API_PREFIX}/patients/{patient_id}/portal", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def feed_text(pull_all: Pull, headers: dict[str, str]) -> str:
    """Everything a desk's full pull receives, as one text to search."""
    return json.dumps(pull_all(headers))


def sign(web: TestClient, base: str, clinic_id: uuid.UUID) -> None:
    url = f"{base}/sharing/{clinic_id}/sign"
    assert post(web, url, url, signed_name="Rosa Lind").status_code == 303


def withdraw(web: TestClient, base: str, clinic_id: uuid.UUID) -> None:
    done = post(web, f"{base}/sharing", f"{base}/sharing/{clinic_id}/withdraw")
    assert done.status_code == 303


def test_a_clinic_reads_the_profile_only_under_its_own_consent_and_no_feed_carries_it(
    web: TestClient,
    client: TestClient,
    db: sessionmaker[Session],
    two: Two,
    pull_all: Pull,
) -> None:
    account_id = one_account_at_both(web, db, two)
    profile = dict.fromkeys(PROFILE_FIELDS, "")
    profile.update(allergies=ALLERGY, insurance=INSURANCE, blood_type="AB+")
    saved = post(web, "/portal/bay/profile", "/portal/bay/profile", **profile)
    assert saved.status_code == 303

    def feeds_are_clean() -> None:
        bay_feed = feed_text(pull_all, two.bay_desk)
        cove_feed = feed_text(pull_all, two.cove_desk)
        for feed, other, own_patient, other_patient in (
            (bay_feed, two.cove, two.at_bay.patient_id, two.at_cove.patient_id),
            (cove_feed, two.bay, two.at_cove.patient_id, two.at_bay.patient_id),
        ):
            assert str(own_patient) in feed  # the feed is the clinic's own, whole
            assert ALLERGY not in feed
            assert INSURANCE not in feed
            assert str(account_id) not in feed
            assert str(other.id) not in feed
            assert str(other_patient) not in feed
            # No table of the portal's (accounts, members, consents) is a feed entity.
            for page in json.loads(feed):
                assert not [k for k in page if "portal" in k or "sharing" in k], page.keys()
                for tombstone in page["tombstones"]:
                    assert "portal" not in tombstone["entity"]
            with db() as session:
                for consent_id in session.scalars(select(SharingConsent.id)):
                    assert str(consent_id) not in feed

    before = desk_view(client, two.bay_desk, two.at_bay.patient_id)
    assert before["has_account"] is True
    assert before["profile"] is None
    assert desk_view(client, two.cove_desk, two.at_cove.patient_id)["profile"] is None
    feeds_are_clean()

    sign(web, "/portal/bay", two.bay.id)
    shared = desk_view(client, two.bay_desk, two.at_bay.patient_id)
    assert shared["shared"] is True
    assert shared["profile"]["allergies"] == ALLERGY
    assert shared["profile"]["insurance"] == INSURANCE
    assert desk_view(client, two.cove_desk, two.at_cove.patient_id)["profile"] is None
    # Bay's desk asking about Cove's record: no such patient at Bay.
    stray = client.get(
        f"{API_PREFIX}/patients/{two.at_cove.patient_id}/portal", headers=two.bay_desk
    )
    assert stray.status_code == 404
    assert ALLERGY not in stray.text
    feeds_are_clean()

    withdraw(web, "/portal/bay", two.bay.id)
    assert desk_view(client, two.bay_desk, two.at_bay.patient_id)["profile"] is None

    # Cove's consent, signed from Cove's portal, opens Cove's view only.
    sign(web, "/portal/cove", two.cove.id)
    assert desk_view(client, two.cove_desk, two.at_cove.patient_id)["profile"]["allergies"] == (
        ALLERGY
    )
    assert desk_view(client, two.bay_desk, two.at_bay.patient_id)["profile"] is None
    feeds_are_clean()


def test_each_clinics_portal_shows_its_own_records_only(
    web: TestClient,
    db: sessionmaker[Session],
    two: Two,
    pull_all: Pull,
) -> None:
    one_account_at_both(web, db, two)
    with transaction(db) as session:
        _, at_bay = linkmaker.booked(session, two.at_bay, starts_in=timedelta(days=2))
        _, at_cove = linkmaker.booked(session, two.at_cove, starts_in=timedelta(days=3))
    bay_home = web.get("/portal/bay/home").text
    cove_home = web.get("/portal/cove/home").text
    assert str(at_bay) in bay_home
    assert str(at_cove) not in bay_home
    assert str(at_cove) in cove_home
    assert str(at_bay) not in cove_home

    # Each clinic's contact page: that clinic's record of the patient.
    assert "07400 900123" in web.get("/portal/bay/contact").text
    assert "07400 900999" not in web.get("/portal/bay/contact").text
    assert "07400 900999" in web.get("/portal/cove/contact").text
    assert "07400 900123" not in web.get("/portal/cove/contact").text

    # A message choice made at Cove is Cove's: Bay's page and feed know nothing of it.
    page = web.get("/portal/cove/contact").text
    version = page.split('name="version" value="')[1].split('"')[0]
    chose = post(
        web,
        "/portal/cove/contact",
        f"/portal/cove/contact/{two.at_cove.patient_id}",
        version=version,
        phone="07400 900999",
        email="rosa@example.org",
        **{"consent-email-marketing": "yes", "consent-email-care": "yes"},
    )
    assert chose.status_code == 303
    with db() as session:
        decisions = session.scalars(select(ConsentDecision)).all()
        assert {d.clinic_id for d in decisions} == {two.cove.id}
    assert 'name="consent-email-marketing" value="yes">' in web.get("/portal/bay/contact").text
    bay_feed = feed_text(pull_all, two.bay_desk)
    for decision in decisions:
        assert str(decision.id) not in bay_feed

    # A family member added at Bay is Bay's patient, unseen at Cove.
    added = post(
        web,
        "/portal/bay/family/add",
        "/portal/bay/family/add",
        first_name="Tom",
        last_name="Lind",
        date_of_birth="03/02/2015",
        relationship="son",
    )
    assert added.status_code == 303
    with db() as session:
        tom = session.scalars(select(Patient).where(Patient.first_name == "Tom")).one()
        assert tom.clinic_id == two.bay.id
        tom_id = tom.id
    assert "Tom Lind" in web.get("/portal/bay/family").text
    assert "Tom Lind" not in web.get("/portal/cove/family").text
    assert "Tom Lind" not in web.get("/portal/cove/contact").text
    assert web.get(f"/portal/cove/family/{tom_id}/remove").status_code == 404
    stray = post(
        web,
        "/portal/cove/contact",
        f"/portal/cove/contact/{tom_id}",
        version="1",
        phone="07400 900555",
        email="",
    )
    assert stray.status_code == 404
    assert str(tom_id) in feed_text(pull_all, two.bay_desk)
    assert str(tom_id) not in feed_text(pull_all, two.cove_desk)


def test_an_admin_viewing_as_the_patient_sees_and_signs_nothing_of_another_clinic(
    app: FastAPI,
    web: TestClient,
    factory: Factory,
    db: sessionmaker[Session],
    two: Two,
) -> None:
    account_id = one_account_at_both(web, db, two)
    sign(web, "/portal/cove", two.cove.id)
    admin = factory.staff(two.bay, Role.CLINIC_ADMIN)
    with transaction(db) as session:
        account = session.get(PortalAccount, account_id)
        assert account is not None
        started = accounts.start_session(
            session,
            account,
            two.bay.id,
            utcnow(),
            method="impersonation",
            impersonator=admin.staff_id,
            patient_id=two.at_bay.patient_id,
        )
    with TestClient(
        app, base_url="https://testserver", headers={"accept": "text/html"}
    ) as admin_web:
        admin_web.cookies.set(SECURE_COOKIE, started.token)
        listed = admin_web.get("/portal/bay/sharing")
        assert listed.status_code == 200
        assert "Bay Physio" in listed.text
        assert "Cove Physio" not in listed.text
        assert "Cove Physio" not in admin_web.get("/portal/bay/profile").text
        for action in ("sign", "withdraw"):
            refused = post(
                admin_web, "/portal/bay/sharing", f"/portal/bay/sharing/{two.cove.id}/{action}"
            )
            assert refused.status_code == 403
        assert admin_web.get(f"/portal/bay/sharing/{two.bay.id}/sign").status_code == 403
        assert admin_web.get("/portal/cove/home").status_code == 403
    with db() as session:
        [consent] = session.scalars(select(SharingConsent)).all()
        assert consent.clinic_id == two.cove.id
        assert consent.withdrawn_at is None
