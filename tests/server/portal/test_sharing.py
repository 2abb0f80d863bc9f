"""The portable profile and its sharing consents, over TestClient on both databases:
saving unchanged writes nothing, bad input is said on the form, a consent is signed by
the holder's own name and withdrawn, both audited at the clinic they are about; an
admin viewing as the patient neither reads an unshared profile nor signs."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from common.portal import PROFILE_FIELDS, PROFILE_TEXT_LENGTH
from common.roles import Role
from server.audit.models import AuditEvent
from server.db import transaction, utcnow
from server.portal import accounts, sharing
from server.portal.models import PortalAccount, SharingConsent
from server.portal.viewer import SECURE_COOKIE
from tests.server.conftest import ClinicRecords, Factory, MadeClinic
from tests.server.portal import portalmaker
from tests.server.portal.portalmaker import post
from tests.server.web import linkmaker
from tests.server.web.conftest import csrf_of

ALLERGY = "Penicillin (hives)"


@pytest.fixture
def where(factory: Factory, db: sessionmaker[Session]) -> linkmaker.Practice:
    clinic = factory.clinic("north")
    with transaction(db) as session:
        return linkmaker.practice(session, clinic.id)


def profile_form(**values: str) -> dict[str, str]:
    form = dict.fromkeys(PROFILE_FIELDS, "")
    form.update(values)
    return form


def account_of(db: sessionmaker[Session]) -> PortalAccount:
    with db() as session:
        account = session.scalars(select(PortalAccount)).one()
        session.expunge(account)
        return account


def test_the_profile_is_saved_and_saving_it_unchanged_writes_nothing(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    base = portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    page = web.get(f"{base}/profile")
    assert page.status_code == 200
    assert "No clinic sees your profile now." in page.text

    typed = profile_form(
        date_of_birth="1984-05-17",
        allergies=f"{ALLERGY}\r\nLatex",
        blood_type="O-",
        emergency_contacts="Ola Lind, +44 7400 900555",
    )
    saved = post(web, f"{base}/profile", f"{base}/profile", **typed)
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{base}/profile?done=saved"
    account = account_of(db)
    stored = sharing.profile_of(account)
    assert stored["date_of_birth"] == "17/05/1984"
    assert stored["allergies"] == f"{ALLERGY}\nLatex"
    assert stored["blood_type"] == "O-"
    first_change = account.profile_changed_at
    assert first_change is not None

    # The page shows what is stored; sending it back as shown changes nothing.
    shown = web.get(f"{base}/profile")
    assert "17/05/1984" in shown.text
    assert '<option value="O-" selected>' in shown.text
    again = post(web, f"{base}/profile", f"{base}/profile", **{**stored})
    assert again.headers["location"] == f"{base}/profile?done=unchanged"
    assert account_of(db).profile_changed_at == first_change
    with db() as session:
        changes = session.scalars(
            select(AuditEvent).where(
                AuditEvent.entity == "portal_accounts", AuditEvent.action == "update"
            )
        ).all()
    assert len(changes) == 1


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"allergies": "x" * (PROFILE_TEXT_LENGTH + 1)}, f"at most {PROFILE_TEXT_LENGTH}"),
        ({"blood_type": "Z+"}, "Choose a blood type"),
        ({"date_of_birth": "31/02/1980"}, "like 17/05/1980"),
        ({"date_of_birth": "01/01/2999"}, "like 17/05/1980"),
        ({"insurance": "abc\x00def"}, "special characters"),
    ],
)
def test_what_the_profile_cannot_hold_is_said_on_the_form(
    web: TestClient,
    db: sessionmaker[Session],
    where: linkmaker.Practice,
    values: dict[str, str],
    words: str,
) -> None:
    base = portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    refused = post(web, f"{base}/profile", f"{base}/profile", **profile_form(**values))
    assert refused.status_code == 422
    assert words in refused.text
    assert account_of(db).profile is None


def test_a_consent_is_signed_with_the_holders_name_and_withdrawn(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    base = portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    listed = web.get(f"{base}/sharing")
    assert "North Physio" in listed.text
    assert "Does not see your profile." in listed.text
    sign_url = f"{base}/sharing/{where.clinic_id}/sign"
    form = web.get(sign_url)
    assert "I allow North Physio to see my profile: date of birth, allergies" in form.text
    assert "I can withdraw this at any time." in form.text

    for wrong in ("", "Rosa Lund"):
        refused = post(web, sign_url, sign_url, signed_name=wrong)
        assert refused.status_code == 422
    assert "Rosa Lind" in refused.text  # says the name the clinic has
    with db() as session:
        assert session.scalars(select(SharingConsent)).all() == []

    signed = post(web, sign_url, sign_url, signed_name="  rosa   LIND ")
    assert signed.headers["location"] == f"{base}/sharing?done=signed"
    twice = post(web, sign_url, sign_url, signed_name="Rosa Lind")
    assert twice.headers["location"] == f"{base}/sharing?done=unchanged"
    with db() as session:
        [consent] = session.scalars(select(SharingConsent)).all()
        assert consent.clinic_id == where.clinic_id
        assert consent.signed_name == "rosa LIND"
        assert len(consent.address_hash) > 10
        given = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "consent_given")
        ).one()
        assert given.clinic_id == where.clinic_id
        assert given.acting_patient_id == where.patient_id
        assert given.staff_id is None
    assert "Sees your profile" in web.get(f"{base}/sharing").text
    assert "Seen now by: North Physio." in web.get(f"{base}/profile").text

    withdraw_url = f"{base}/sharing/{where.clinic_id}/withdraw"
    gone = post(web, f"{base}/sharing", withdraw_url)
    assert gone.headers["location"] == f"{base}/sharing?done=withdrawn"
    with db() as session:
        [consent] = session.scalars(select(SharingConsent)).all()
        assert consent.withdrawn_at is not None
        assert sharing.current_consent(session, consent.account_id, where.clinic_id) is None
        assert (
            session.scalars(select(AuditEvent).where(AuditEvent.action == "consent_withdrawn"))
            .one()
            .clinic_id
            == where.clinic_id
        )
    # Another clinic's id, or none at all: nothing to sign.
    for other in (uuid.uuid4(), "nonsense"):
        assert web.get(f"{base}/sharing/{other}/sign").status_code == 404
        assert post(web, f"{base}/sharing", f"{base}/sharing/{other}/withdraw").status_code == 404


def test_an_admin_viewing_as_the_patient_neither_reads_an_unshared_profile_nor_signs(
    app: FastAPI,
    web: TestClient,
    factory: Factory,
    db: sessionmaker[Session],
    where: linkmaker.Practice,
) -> None:
    base = portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    post(web, f"{base}/profile", f"{base}/profile", **profile_form(allergies=ALLERGY))
    made = MadeClinic(id=where.clinic_id, slug="north", staff={}, records=ClinicRecords())
    admin = factory.staff(made, Role.CLINIC_ADMIN)
    with transaction(db) as session:
        account = session.scalars(select(PortalAccount)).one()
        started = accounts.start_session(
            session,
            account,
            where.clinic_id,
            utcnow(),
            method="impersonation",
            impersonator=admin.staff_id,
            patient_id=where.patient_id,
        )
    with TestClient(
        app, base_url="https://testserver", headers={"accept": "text/html"}
    ) as admin_web:
        admin_web.cookies.set(SECURE_COOKIE, started.token)

        page = admin_web.get(f"{base}/profile")
        assert page.status_code == 200
        assert ALLERGY not in page.text
        assert "does not share their profile" in page.text
        refused = admin_web.post(
            f"{base}/profile",
            data={"csrf_token": csrf_of(admin_web.get(f"{base}/sharing")), **profile_form()},
            headers=portalmaker.SAME_SITE,
        )
        assert refused.status_code == 403
        assert admin_web.get(f"{base}/sharing/{where.clinic_id}/sign").status_code == 403
        assert "Allow North Physio" not in admin_web.get(f"{base}/sharing").text

        # Shared by the patient: the admin reads it as the clinic does, without a form.
        sign_url = f"{base}/sharing/{where.clinic_id}/sign"
        assert post(web, sign_url, sign_url, signed_name="Rosa Lind").status_code == 303
        shown = admin_web.get(f"{base}/profile")
        assert ALLERGY in shown.text
        assert "Save my profile" not in shown.text
        # Nor may the admin withdraw it: the consent is the patient's word either way.
        withdraw_url = f"{base}/sharing/{where.clinic_id}/withdraw"
        assert post(admin_web, f"{base}/sharing", withdraw_url).status_code == 403
    with db() as session:
        assert not session.scalars(
            select(AuditEvent).where(AuditEvent.action == "consent_withdrawn")
        ).all()
        assert session.scalars(select(SharingConsent)).one().withdrawn_at is None
    assert sharing.profile_of(account_of(db))["allergies"] == ALLERGY
