"""A clinic admin viewing the portal as a patient, on both databases: the desk's API
hands out a two-minute, one-time ticket; the session it opens shows a banner, reaches
only its clinic, names both people in the audit trail, and cannot touch the patient's
password or sessions."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from common.roles import Role
from server.audit.models import AuditEvent
from server.db import transaction, utcnow
from server.portal.models import MagicLink, PortalAccount, PortalSession
from sync.protocol import API_PREFIX
from tests.server.conftest import Factory, MadeClinic
from tests.server.portal import portalmaker
from tests.server.portal.portalmaker import post
from tests.server.web import linkmaker


@pytest.fixture
def north(factory: Factory) -> MadeClinic:
    return factory.clinic("north", roles=(Role.CLINIC_ADMIN, Role.FRONT_DESK), patients=1)


@pytest.fixture
def where(north: MadeClinic, db: sessionmaker[Session]) -> linkmaker.Practice:
    with transaction(db) as session:
        return linkmaker.practice(session, north.id)


def browser(app: FastAPI) -> TestClient:
    return TestClient(app, base_url="https://testserver", headers={"accept": "text/html"})


def ask_ticket(
    client: TestClient, factory: Factory, clinic: MadeClinic, patient_id: uuid.UUID, role: Role
):  # type: ignore[no-untyped-def]
    return client.post(
        f"{API_PREFIX}/patients/{patient_id}/portal/impersonate",
        headers=factory.staff_headers(clinic.staff[role]),
    )


def token_of(answer) -> str:  # type: ignore[no-untyped-def]
    assert answer.status_code == 200, answer.text
    url = answer.json()["url"]
    assert "/portal/link/" in url
    return str(url.rsplit("/", 1)[1])


def test_an_admin_views_the_portal_as_the_patient_under_both_names(
    web: TestClient,
    client: TestClient,
    app: FastAPI,
    db: sessionmaker[Session],
    factory: Factory,
    north: MadeClinic,
    where: linkmaker.Practice,
) -> None:
    portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    asked_at = utcnow()
    answer = ask_ticket(client, factory, north, where.patient_id, Role.CLINIC_ADMIN)
    token = token_of(answer)
    expires = datetime.fromisoformat(answer.json()["expires_at"])
    assert timedelta(seconds=100) < expires - asked_at <= timedelta(minutes=2, seconds=5)
    with db() as session:
        link = session.scalars(select(MagicLink).where(MagicLink.staff_id.is_not(None))).one()
        assert link.patient_id == where.patient_id
        assert link.expires_at - link.created_at == timedelta(minutes=2)
        assert link.token_hash != token  # only the digest is kept

    admin = browser(app)
    # Opening the ticket changes nothing; its button starts the session.
    assert admin.get(f"/portal/link/{token}").status_code == 200
    started = post(admin, f"/portal/link/{token}", f"/portal/link/{token}")
    assert started.status_code == 303
    assert started.headers["location"] == "/portal/north/home"

    admin_id = north.staff[Role.CLINIC_ADMIN].staff_id
    for page in ("home", "security"):
        shown = admin.get(f"/portal/north/{page}")
        assert shown.status_code == 200, page
        assert "You are viewing the portal as Rosa Lind" in shown.text, page
        assert "Clinic_admin of north" in shown.text or "Clinic admin of north" in shown.text

    with db() as session:
        row = session.scalars(
            select(PortalSession).where(PortalSession.impersonator_staff_id == admin_id)
        ).one()
        assert row.method == "impersonation"
        assert row.impersonated_patient_id == where.patient_id
        assert row.expires_at - row.started_at == timedelta(minutes=30)
        reads = session.scalars(
            select(AuditEvent).where(
                AuditEvent.entity.in_(["appointments", "portal_sessions"]),
                AuditEvent.action == "read",
                AuditEvent.staff_id == admin_id,
            )
        ).all()
        assert {r.entity for r in reads} == {"appointments", "portal_sessions"}
        assert all(r.acting_patient_id == where.patient_id for r in reads)
        assert all(r.clinic_id == where.clinic_id for r in reads)
        assert all("clinic admin" in r.reason for r in reads)
        began = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "impersonate", AuditEvent.entity == "portal_sessions"
            )
        ).one()
        assert (began.staff_id, began.acting_patient_id) == (admin_id, where.patient_id)
        asked = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "impersonate", AuditEvent.entity == "patients"
            )
        ).one()
        assert asked.staff_id == admin_id
        assert "of north" in asked.reason

    # The patient's own reads stay theirs alone.
    web.get("/portal/north/home")
    with db() as session:
        own = session.scalars(
            select(AuditEvent).where(
                AuditEvent.entity == "appointments", AuditEvent.staff_id.is_(None)
            )
        ).all()
        assert own
        assert all(r.acting_patient_id == where.patient_id for r in own)


def test_the_ticket_is_single_use_and_lasts_two_minutes(
    web: TestClient,
    client: TestClient,
    app: FastAPI,
    db: sessionmaker[Session],
    factory: Factory,
    north: MadeClinic,
    where: linkmaker.Practice,
) -> None:
    portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    token = token_of(ask_ticket(client, factory, north, where.patient_id, Role.CLINIC_ADMIN))
    first = browser(app)
    assert post(first, f"/portal/link/{token}", f"/portal/link/{token}").status_code == 303
    second = browser(app)
    assert second.get(f"/portal/link/{token}").status_code == 410
    assert second.get("/portal/north/home", follow_redirects=False).status_code == 303

    late = token_of(ask_ticket(client, factory, north, where.patient_id, Role.CLINIC_ADMIN))
    with transaction(db) as session:
        session.execute(
            update(MagicLink)
            .where(MagicLink.used_at.is_(None))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    third = browser(app)
    assert third.get(f"/portal/link/{late}").status_code == 410
    page = third.get(f"/portal/link/{late}")
    assert "csrf_token" not in page.text  # nothing left to press
    with db() as session:
        assert (
            session.scalars(
                select(PortalSession).where(PortalSession.impersonator_staff_id.is_not(None))
            ).all()
            != []
        )
        assert len(session.scalars(select(PortalSession)).all()) == 2  # patient + first


def test_front_desk_cannot_and_a_patient_without_an_account_cannot_be_viewed(
    web: TestClient,
    client: TestClient,
    db: sessionmaker[Session],
    factory: Factory,
    north: MadeClinic,
    where: linkmaker.Practice,
) -> None:
    portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    refused = ask_ticket(client, factory, north, where.patient_id, Role.FRONT_DESK)
    assert refused.status_code == 403
    stranger = north.records.patient_ids[0]
    none = ask_ticket(client, factory, north, stranger, Role.CLINIC_ADMIN)
    assert none.status_code == 409
    assert none.json()["message"] == "This patient has no portal account."
    missing = ask_ticket(client, factory, north, uuid.uuid4(), Role.CLINIC_ADMIN)
    assert missing.status_code == 404
    with db() as session:
        assert session.scalars(select(MagicLink)).all() == []


def test_another_clinics_patient_cannot_be_viewed(
    web: TestClient,
    client: TestClient,
    db: sessionmaker[Session],
    factory: Factory,
    where: linkmaker.Practice,
) -> None:
    portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    south = factory.clinic("south", roles=(Role.CLINIC_ADMIN,))
    answer = ask_ticket(client, factory, south, where.patient_id, Role.CLINIC_ADMIN)
    assert answer.status_code == 404


def test_the_session_sees_one_clinic_and_cannot_touch_the_patients_sign_in(
    web: TestClient,
    client: TestClient,
    app: FastAPI,
    db: sessionmaker[Session],
    factory: Factory,
    north: MadeClinic,
    where: linkmaker.Practice,
) -> None:
    # Rosa has a record at a second clinic too, on the same account, with a password.
    token = portalmaker.send_invite(db, where.clinic_id, where.patient_id)
    portalmaker.accept_invite(web, token, password="violet lantern harbour oak")
    south = factory.clinic("south")
    with transaction(db) as session:
        other = linkmaker.practice(session, south.id, name="South Dental", slug="south")
    portalmaker.accept_invite(web, portalmaker.send_invite(db, south.id, other.patient_id))
    assert web.get("/portal/south/home").status_code == 200
    with db() as session:
        before = session.scalars(select(PortalAccount)).one().password_hash

    admin = browser(app)
    ticket = token_of(ask_ticket(client, factory, north, where.patient_id, Role.CLINIC_ADMIN))
    post(admin, f"/portal/link/{ticket}", f"/portal/link/{ticket}")
    assert admin.get("/portal/north/home").status_code == 200
    elsewhere = admin.get("/portal/south/home")
    assert elsewhere.status_code == 403
    assert "one clinic and one patient" in elsewhere.text
    assert "Rosa" not in elsewhere.text

    # The sign-in log shows this clinic's sign-ins only; no password or sign-out forms.
    page = admin.get("/portal/north/security")
    assert "South Dental" not in page.text
    assert "North Physio" in page.text
    assert "cannot change their password" in page.text
    assert 'action="/portal/north/security/password"' not in page.text
    assert 'action="/portal/north/sign-out-everywhere"' not in page.text
    patients_page = web.get("/portal/north/security")
    assert "South Dental" in patients_page.text

    # Posting anyway is refused with a page that says why, and changes nothing.
    for action, fields in (
        ("/portal/north/sign-out-everywhere", {}),
        (
            "/portal/north/security/password",
            {"current_password": "", "new_password": "amber kettle meadow fox"},
        ),
        ("/portal/north/security/password/remove", {"remove_password": ""}),
    ):
        refused = post(admin, "/portal/north/home", action, **fields)
        assert refused.status_code == 403, action
        assert "Only the patient can do that" in refused.text
    with db() as session:
        assert session.scalars(select(PortalAccount)).one().password_hash == before
        live = session.scalars(select(PortalSession).where(PortalSession.ended_at.is_(None)))
        assert len(live.all()) == 3  # Rosa's two sign-ins and the admin's view
    assert web.get("/portal/north/home").status_code == 200
    assert admin.get("/portal/north/home").status_code == 200
