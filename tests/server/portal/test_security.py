"""The portal's sign-in and security page over TestClient on both databases: setting,
changing and removing the password, the sign-in log, signing out everywhere, and the
limit on password attempts."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, BrowserContext
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from common.roles import Role
from server.audit.models import AuditEvent
from server.clinics.models import Clinic
from server.db import transaction, utcnow
from server.demo import DEMO_SLUG
from server.patients.models import Patient
from server.portal import accounts
from server.portal.models import PortalAccount, PortalSession
from server.staff.models import StaffUser
from server.web import tokens
from tests.server.conftest import Factory
from tests.server.portal import portalmaker
from tests.server.portal.portalmaker import SIGN_IN_LINK, post
from tests.server.web import linkmaker
from tests.support.browser import PHONE, RequestLog, check_accessible
from tests.support.live_server import LiveServer

PAGE = "/portal/north/security"
FIRST = "violet lantern harbour oak"
SECOND = "amber kettle meadow fox"


@pytest.fixture
def where(factory: Factory, db: sessionmaker[Session]) -> linkmaker.Practice:
    clinic = factory.clinic("north")
    with transaction(db) as session:
        return linkmaker.practice(session, clinic.id)


def account(db: sessionmaker[Session]) -> PortalAccount:
    with db() as session:
        row = session.scalars(select(PortalAccount)).one()
        session.expunge(row)
        return row


def second_device(app: FastAPI, db: sessionmaker[Session]) -> TestClient:
    """Rosa signed in on a phone too, by an e-mailed link."""
    phone = TestClient(app, base_url="https://testserver", headers={"accept": "text/html"})
    post(phone, "/portal/north/sign-in", "/portal/north/sign-in/link", email="rosa@example.org")
    found = SIGN_IN_LINK.search(portalmaker.last_email_to(db, "rosa@example.org").text)
    assert found
    post(phone, f"/portal/link/{found.group(1)}", f"/portal/link/{found.group(1)}")
    assert phone.get("/portal/north/home").status_code == 200
    return phone


def sign_in_with(web: TestClient, password: str) -> int:
    answer = post(
        web,
        "/portal/north/sign-in",
        "/portal/north/sign-in/password",
        email="rosa@example.org",
        password=password,
    )
    return answer.status_code


def test_a_patient_sets_a_first_password_then_signs_in_with_it(
    web: TestClient, app: FastAPI, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    phone = second_device(app, db)
    page = web.get(PAGE)
    assert page.status_code == 200
    assert "Set password" in page.text
    assert "current_password" not in page.text
    assert page.headers["cache-control"] == "no-store"

    weak = post(web, PAGE, f"{PAGE}/password", new_password="rosalind1984")
    assert weak.status_code == 422
    assert account(db).password_hash is None
    guessable = post(web, PAGE, f"{PAGE}/password", new_password="short")
    assert guessable.status_code == 422
    assert 'aria-invalid="true"' in guessable.text

    done = post(web, PAGE, f"{PAGE}/password", new_password=FIRST)
    assert done.status_code == 303
    assert done.headers["location"] == f"{PAGE}?done=set"
    assert account(db).password_hash is not None
    assert account(db).password_set_at is not None
    assert "Your password is set" in web.get(done.headers["location"]).text
    # A first password ends nobody's sign-in.
    assert phone.get("/portal/north/home").status_code == 200

    phone.cookies.clear()
    assert sign_in_with(phone, FIRST) == 303


def test_changing_the_password_needs_the_current_one_and_ends_the_other_sign_ins(
    web: TestClient, app: FastAPI, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    token = portalmaker.send_invite(db, where.clinic_id, where.patient_id)
    portalmaker.accept_invite(web, token, password=FIRST)
    phone = second_device(app, db)
    page = web.get(PAGE)
    assert "Change password" in page.text
    assert "current_password" in page.text
    before = account(db).password_hash

    missing = post(web, PAGE, f"{PAGE}/password", new_password=SECOND)
    assert missing.status_code == 422
    assert "Enter your current password" in missing.text
    wrong = post(web, PAGE, f"{PAGE}/password", current_password=SECOND, new_password=SECOND)
    assert wrong.status_code == 422
    assert "not your current password" in wrong.text
    assert account(db).password_hash == before
    assert phone.get("/portal/north/home").status_code == 200

    changed = post(web, PAGE, f"{PAGE}/password", current_password=FIRST, new_password=SECOND)
    assert changed.status_code == 303
    assert changed.headers["location"] == f"{PAGE}?done=changed"
    assert account(db).password_hash != before
    # The phone is signed out; this browser stays in.
    assert phone.get("/portal/north/home", follow_redirects=False).status_code == 303
    log = web.get(PAGE)
    assert log.status_code == 200
    assert "(this device)" in log.text
    assert "password changed" in log.text
    assert "E-mailed link" in log.text
    assert "Invitation" in log.text
    assert "Still signed in" in log.text
    with db() as session:
        ended = session.scalars(
            select(PortalSession).where(PortalSession.end_reason == "password changed")
        ).all()
        assert [s.method for s in ended] == ["magic_link"]
        audited = session.scalars(
            select(AuditEvent).where(
                AuditEvent.entity == "portal_accounts", AuditEvent.action == "update"
            )
        ).one()
        assert audited.acting_patient_id == where.patient_id
        assert audited.staff_id is None
        assert "changed the portal password" in audited.reason
        log_reads = session.scalars(
            select(AuditEvent).where(AuditEvent.entity == "portal_sessions")
        ).all()
        assert log_reads
        assert all(r.acting_patient_id == where.patient_id for r in log_reads)

    phone.cookies.clear()
    assert sign_in_with(phone, FIRST) == 422
    assert sign_in_with(phone, SECOND) == 303


def test_removing_the_password_leaves_links_only(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    token = portalmaker.send_invite(db, where.clinic_id, where.patient_id)
    portalmaker.accept_invite(web, token, password=FIRST)
    wrong = post(web, PAGE, f"{PAGE}/password/remove", remove_password="not it at all")
    assert wrong.status_code == 422
    assert "not your current password" in wrong.text
    assert account(db).password_hash is not None

    removed = post(web, PAGE, f"{PAGE}/password/remove", remove_password=FIRST)
    assert removed.status_code == 303
    assert removed.headers["location"] == f"{PAGE}?done=removed"
    assert account(db).password_hash is None
    assert "Set password" in web.get(PAGE).text
    web.cookies.clear()
    assert sign_in_with(web, FIRST) == 422


def test_sign_out_everywhere_from_the_security_page(
    web: TestClient, app: FastAPI, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    phone = second_device(app, db)
    ended = post(web, PAGE, "/portal/north/sign-out-everywhere")
    assert ended.status_code == 303
    assert ended.headers["location"] == "/portal/north/sign-in?ended=everywhere"
    assert phone.get("/portal/north/home", follow_redirects=False).status_code == 303
    assert web.get(PAGE, follow_redirects=False).status_code == 303


def test_password_attempts_are_limited_per_account(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    token = portalmaker.send_invite(db, where.clinic_id, where.patient_id)
    portalmaker.accept_invite(web, token, password=FIRST)
    page = web.get(PAGE)
    csrf = portalmaker.csrf_of(page)
    answers = [
        web.post(
            f"{PAGE}/password",
            data={"csrf_token": csrf, "current_password": "guess", "new_password": SECOND},
            headers=portalmaker.SAME_SITE,
            follow_redirects=False,
        ).status_code
        for _ in range(11)
    ]
    assert answers[:10] == [422] * 10
    assert answers[10] == 429
    refused = web.post(
        f"{PAGE}/password",
        data={"csrf_token": csrf, "current_password": FIRST, "new_password": SECOND},
        headers=portalmaker.SAME_SITE,
        follow_redirects=False,
    )
    assert refused.status_code == 429
    assert "Too many password changes" in refused.text
    assert "retry-after" in refused.headers
    with db() as session:
        assert session.scalars(select(PortalAccount)).one().password_hash is not None
    # Still the first password: the refused change changed nothing.
    web.cookies.clear()
    assert sign_in_with(web, FIRST) == 303


def test_the_security_page_needs_a_sign_in(web: TestClient, where: linkmaker.Practice) -> None:
    answer = web.get(PAGE, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/portal/north/sign-in"


def test_portal_tokens_never_reach_the_logs(app: FastAPI, caplog: pytest.LogCaptureFixture) -> None:
    """Invitation and sign-in links carry their token in the path, which uvicorn's
    access log names: the server's filter masks them (the app installed it)."""
    invite, link = tokens.new_token(), tokens.new_token()
    assert tokens.masked(f"GET /portal/invite/{invite}/account") == (
        "GET /portal/invite/•••/account"
    )
    assert invite not in tokens.masked(f"/portal/invite/{invite}")
    assert link not in tokens.masked(f"POST /portal/link/{link} HTTP/1.1")
    access, errors = logging.getLogger("uvicorn.access"), logging.getLogger("uvicorn.error")
    # A served uvicorn earlier in this process may have set these loggers' levels and
    # stopped them propagating: listen on them directly, at INFO.
    levels = (access.level, errors.level)
    for logger in (access, errors):
        logger.addHandler(caplog.handler)
        logger.setLevel(logging.INFO)
    try:
        for path in (f"/portal/invite/{invite}", f"/portal/link/{link}"):
            access.info('%s - "%s %s HTTP/%s" %d', "203.0.113.9:5000", "GET", path, "1.1", 200)
        errors.error(f"failed on /portal/link/{link}")
    finally:
        for logger, level in zip((access, errors), levels, strict=True):
            logger.removeHandler(caplog.handler)
            logger.setLevel(level)
    assert caplog.records
    written = "\n".join(record.getMessage() for record in caplog.records)
    assert invite not in written
    assert link not in written
    assert "/portal/invite/•••" in written
    assert "/portal/link/•••" in written


@pytest.mark.browser
def test_the_security_page_in_chromium_for_the_patient_and_an_admin_viewing_as_them(
    phone: BrowserContext, browser: Browser, live_server: LiveServer
) -> None:
    """On a phone: accessible, and the banner and the refusal plain to see when an
    admin views it as the patient (on another phone)."""
    with live_server.sessionmaker() as session:
        clinic = session.scalars(select(Clinic).where(Clinic.slug == DEMO_SLUG)).one()
        patient = session.scalars(
            select(Patient)
            .where(Patient.clinic_id == clinic.id, Patient.email.is_not(None))
            .order_by(Patient.id)
        ).first()
        admin = session.scalars(
            select(StaffUser).where(
                StaffUser.clinic_id == clinic.id, StaffUser.role == Role.CLINIC_ADMIN
            )
        ).first()
        assert patient is not None
        assert admin is not None
        clinic_id, patient_id, admin_id = clinic.id, patient.id, admin.id
    token = portalmaker.send_invite(live_server.sessionmaker, clinic_id, patient_id)
    page = phone.new_page()
    log = RequestLog(page, live_server.url)
    page.goto(f"{live_server.url}/portal/invite/{token}")
    page.get_by_role("button", name="Set up my account").click()
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_url("**/home?welcome=1")
    page.get_by_role("link", name="Sign-in and security").click()
    page.get_by_role("heading", name="Sign-in and security").wait_for()
    check_accessible(page)
    assert "(this device)" in page.content()
    page.get_by_label("Choose a password").fill("short")
    page.get_by_role("button", name="Set password").click()
    page.get_by_role("alert").wait_for()
    check_accessible(page)
    page.get_by_label("Choose a password").fill(FIRST)
    page.get_by_role("button", name="Set password").click()
    page.get_by_text("Your password is set").wait_for()
    check_accessible(page)
    assert log.elsewhere() == []

    with transaction(live_server.sessionmaker) as session:
        account = session.scalars(select(PortalAccount)).one()
        ticket = accounts.issue_link(
            session, account, clinic_id, utcnow(), staff_id=admin_id, patient_id=patient_id
        )
    viewing = browser.new_context(**PHONE)
    admin_page = viewing.new_page()
    admin_page.goto(f"{live_server.url}/portal/link/{ticket}")
    admin_page.get_by_role("button", name="Open the portal").click()
    admin_page.wait_for_url("**/home")
    admin_page.get_by_role("link", name="Sign-in and security").click()
    admin_page.get_by_role("heading", name="Sign-in and security").wait_for()
    assert (
        admin_page.get_by_role("status")
        .first.inner_text()
        .startswith("You are viewing the portal as")
    )
    assert "cannot change their password" in admin_page.content()
    assert admin_page.get_by_role("button", name="Sign out everywhere").count() == 0
    check_accessible(admin_page)
    viewing.close()
