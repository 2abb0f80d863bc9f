"""Getting into the portal over TestClient on both databases: invitations, e-mailed
sign-in links that GET and HEAD never spend, passwords, sessions that end."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from common.errors import Conflict
from common.portal import InviteStatus, Relation
from server.audit.models import AuditEvent
from server.db import transaction, utcnow
from server.messaging.models import Message
from server.patients.models import Patient
from server.portal import invites
from server.portal.models import MagicLink, PortalAccount, PortalMember, PortalSession
from tests.server.conftest import Factory
from tests.server.portal import portalmaker
from tests.server.portal.portalmaker import SIGN_IN_LINK, post
from tests.server.web import linkmaker


@pytest.fixture
def where(factory: Factory, db: sessionmaker[Session]) -> linkmaker.Practice:
    clinic = factory.clinic("north")
    with transaction(db) as session:
        return linkmaker.practice(session, clinic.id)


def test_an_invitation_opened_by_get_and_head_changes_nothing_then_sets_up_the_account(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    token = portalmaker.send_invite(db, where.clinic_id, where.patient_id)
    for _ in range(2):
        assert web.get(f"/portal/invite/{token}").status_code == 200
        assert web.head(f"/portal/invite/{token}").status_code == 200
    assert portalmaker.invite_row(db, token).status is InviteStatus.SENT
    # The account page before "Set up my account" sends back to the welcome.
    early = web.get(f"/portal/invite/{token}/account", follow_redirects=False)
    assert early.status_code == 303

    post(web, f"/portal/invite/{token}", f"/portal/invite/{token}")
    assert portalmaker.invite_row(db, token).status is InviteStatus.OPENED
    landed = post(
        web, f"/portal/invite/{token}/account", f"/portal/invite/{token}/account", password=""
    )
    assert landed.status_code == 303
    assert landed.headers["location"] == "/portal/north/home?welcome=1"
    assert "__Host-clinicdesk-portal=" in landed.headers["set-cookie"]
    home = web.get("/portal/north/home?welcome=1")
    assert home.status_code == 200
    assert "Hello, Rosa" in home.text
    assert "Your account is ready" in home.text
    assert home.headers["cache-control"] == "no-store"

    row = portalmaker.invite_row(db, token)
    assert row.status is InviteStatus.ACCEPTED
    assert row.account_id is not None
    with db() as session:
        account = session.get(PortalAccount, row.account_id)
        assert account is not None
        assert account.email == "rosa@example.org"
        member = session.scalar(select(PortalMember).where(PortalMember.account_id == account.id))
        assert member is not None
        assert member.patient_id == where.patient_id
        assert member.relation is Relation.SELF
        # The desk's copy of the e-mail hides the link's token.
        message = session.scalars(select(Message).where(Message.kind == "portal_invite")).one()
        assert token not in message.body

    # Used: the link now explains, and a second account is not made.
    again = web.get(f"/portal/invite/{token}")
    assert again.status_code == 410
    assert "no longer works" in again.text


def test_a_second_invitation_withdraws_the_first(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    first = portalmaker.send_invite(db, where.clinic_id, where.patient_id)
    second = portalmaker.send_invite(db, where.clinic_id, where.patient_id)
    assert portalmaker.invite_row(db, first).status is InviteStatus.WITHDRAWN
    assert web.get(f"/portal/invite/{first}").status_code == 410
    assert web.get(f"/portal/invite/{second}").status_code == 200


def test_signed_out_pages_send_to_sign_in(web: TestClient, where: linkmaker.Practice) -> None:
    answer = web.get("/portal/north/home", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/portal/north/sign-in"
    assert web.get("/portal/nowhere/sign-in").status_code == 404


def _ask_for_link(web: TestClient, email: str) -> str:
    answer = post(web, "/portal/north/sign-in", "/portal/north/sign-in/link", email=email)
    assert answer.status_code == 200
    return answer.text


def test_a_sign_in_link_is_the_same_answer_for_anyone_and_spent_only_by_post(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice, app
) -> None:
    portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    web.cookies.clear()
    known = _ask_for_link(web, "Rosa@Example.org")
    unknown = _ask_for_link(web, "nobody@example.org")
    nonce = re.compile(r'nonce="[^"]+"')
    assert nonce.sub("", known.replace("Rosa@Example.org", "X")) == nonce.sub(
        "", unknown.replace("nobody@example.org", "X")
    )
    delivery = portalmaker.last_email_to(db, "rosa@example.org")
    token = SIGN_IN_LINK.search(delivery.text).group(1)  # type: ignore[union-attr]
    with db() as session:
        assert session.scalars(select(MagicLink)).all()[0].used_at is None

    for _ in range(2):
        assert web.get(f"/portal/link/{token}").status_code == 200
        assert web.head(f"/portal/link/{token}").status_code == 200
    with db() as session:
        assert session.scalars(select(MagicLink)).one().used_at is None

    signed = post(web, f"/portal/link/{token}", f"/portal/link/{token}")
    assert signed.status_code == 303
    assert signed.headers["location"] == "/portal/north/home"
    assert web.get("/portal/north/home").status_code == 200
    # Spent: a second use (another browser) is refused kindly.
    other = TestClient(app, base_url="https://testserver", headers={"accept": "text/html"})
    spent = other.get(f"/portal/link/{token}")
    assert spent.status_code == 410
    assert "Get a new sign-in link" in spent.text


def test_an_expired_sign_in_link_is_refused_kindly(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    web.cookies.clear()
    _ask_for_link(web, "rosa@example.org")
    token = SIGN_IN_LINK.search(portalmaker.last_email_to(db, "rosa@example.org").text).group(1)  # type: ignore[union-attr]
    with transaction(db) as session:
        session.execute(update(MagicLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert web.get(f"/portal/link/{token}").status_code == 410


def test_a_session_ends_after_the_idle_limit(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    assert web.get("/portal/north/home").status_code == 200
    with transaction(db) as session:
        session.execute(update(PortalSession).values(last_seen_at=utcnow() - timedelta(minutes=31)))
    answer = web.get("/portal/north/home", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/portal/north/sign-in?ended=idle"
    assert "Max-Age=0" in answer.headers["set-cookie"]  # the dead cookie is dropped
    assert "signed out after a while" in web.get(answer.headers["location"]).text


def test_a_session_ends_at_its_absolute_limit_even_when_busy(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    with transaction(db) as session:
        session.execute(update(PortalSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert web.get("/portal/north/home", follow_redirects=False).status_code == 303


def test_sign_out_and_sign_out_everywhere(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice, app
) -> None:
    portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    # A second device: a sign-in link.
    phone = TestClient(app, base_url="https://testserver", headers={"accept": "text/html"})
    post(phone, "/portal/north/sign-in", "/portal/north/sign-in/link", email="rosa@example.org")
    token = SIGN_IN_LINK.search(portalmaker.last_email_to(db, "rosa@example.org").text).group(1)  # type: ignore[union-attr]
    post(phone, f"/portal/link/{token}", f"/portal/link/{token}")
    assert phone.get("/portal/north/home").status_code == 200

    ended = post(web, "/portal/north/home", "/portal/north/sign-out-everywhere")
    assert ended.headers["location"] == "/portal/north/sign-in?ended=everywhere"
    assert phone.get("/portal/north/home", follow_redirects=False).status_code == 303
    with db() as session:
        assert all(s.ended_at is not None for s in session.scalars(select(PortalSession)))


def test_password_sign_in_and_the_same_words_for_a_wrong_password_or_no_account(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    token = portalmaker.send_invite(db, where.clinic_id, where.patient_id)
    post(web, f"/portal/invite/{token}", f"/portal/invite/{token}")
    weak = post(
        web,
        f"/portal/invite/{token}/account",
        f"/portal/invite/{token}/account",
        password="password1",
    )
    assert weak.status_code == 422
    assert "longer password" in weak.text
    made = post(
        web,
        f"/portal/invite/{token}/account",
        f"/portal/invite/{token}/account",
        password="violet lantern harbour oak",
    )
    assert made.status_code == 303
    web.cookies.clear()

    def attempt(email: str, password: str):  # type: ignore[no-untyped-def]
        return post(
            web,
            "/portal/north/sign-in",
            "/portal/north/sign-in/password",
            email=email,
            password=password,
        )

    wrong = attempt("rosa@example.org", "violet lantern harbour elm")
    missing = attempt("nobody@example.org", "violet lantern harbour oak")
    assert wrong.status_code == missing.status_code == 422
    assert "do not match an account" in wrong.text
    assert "do not match an account" in missing.text
    right = attempt("ROSA@example.org", "violet lantern harbour oak")
    assert right.status_code == 303
    assert right.headers["location"] == "/portal/north/home"


def test_a_clinic_without_the_patient_is_closed_to_their_account(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice, factory: Factory
) -> None:
    other = factory.clinic("south")
    with transaction(db) as session:
        linkmaker.practice(session, other.id, name="South Dental", slug="south")
    portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    refused = web.get("/portal/south/home")
    assert refused.status_code == 403
    assert "ask them" in refused.text
    assert "Rosa" not in refused.text


def test_the_patients_own_actions_are_audited_as_theirs(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    web.get("/portal/north/home")
    with db() as session:
        reads = session.scalars(
            select(AuditEvent).where(
                AuditEvent.entity == "appointments", AuditEvent.action == "read"
            )
        ).all()
        assert reads
        assert all(r.acting_patient_id == where.patient_id for r in reads)
        assert all(r.staff_id is None for r in reads)
        assert session.get(Patient, where.patient_id) is not None


def test_an_address_that_signs_in_as_another_patient_here_is_not_invited_again(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    """Rosa has an account; her son's file later gets her address. Inviting him would
    give her account two "own" records at this clinic: refused, in words."""
    portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    with transaction(db) as session:
        son = Patient(
            clinic_id=where.clinic_id, first_name="Max", last_name="Lind", email="rosa@example.org"
        )
        session.add(son)
        session.flush()
        son_id = son.id
        rosa = session.get(Patient, where.patient_id)
        assert rosa is not None
        rosa.email = "rosa.new@example.org"  # her file moved on; her account did not
    with (
        pytest.raises(Conflict, match="already signs in to the portal"),
        transaction(db) as session,
    ):
        invites.invite(
            session,
            portalmaker.staff_ctx(where.clinic_id),
            son_id,
            now=utcnow(),
            public_base_url="https://testserver",
        )
