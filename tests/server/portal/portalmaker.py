"""Portal fixtures made the way the product makes them: a practice (``linkmaker``), an
invitation sent by staff through the service, accepted through the patient's pages, so a
test starts from a signed-in patient's browser."""

from __future__ import annotations

import re
import time
import uuid

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from common.messaging import Channel
from common.roles import Role
from server.auth.context import AuthContext
from server.db import transaction, utcnow
from server.messaging.models import Delivery
from server.portal import invites
from server.portal.models import PortalInvite
from tests.server.web.conftest import csrf_of

SAME_SITE = {"sec-fetch-site": "same-origin", "origin": "https://testserver"}
INVITE_LINK = re.compile(r"https?://[^\s]+/portal/invite/([A-Za-z0-9_-]+)")
SIGN_IN_LINK = re.compile(r"https?://[^\s]+/portal/link/([A-Za-z0-9_-]+)")


def staff_ctx(clinic_id: uuid.UUID, staff_id: uuid.UUID | None = None) -> AuthContext:
    return AuthContext(
        clinic_id=clinic_id, device_id=None, staff_id=staff_id, role=Role.CLINIC_ADMIN
    )


def last_email_to(db: sessionmaker[Session], address: str) -> Delivery:
    """The newest e-mail to ``address`` (addresses are sealed: compared here, not in SQL)."""
    with db() as session:
        rows = session.scalars(
            select(Delivery)
            .where(Delivery.channel == Channel.EMAIL)
            .order_by(Delivery.created_at.desc())
        ).all()
    found = next((d for d in rows if (d.to_address or "").lower() == address.lower()), None)
    assert found is not None, f"no e-mail to {address}"
    return found


def sign_in_link_for(db: sessionmaker[Session], address: str, seconds: float = 20) -> str:
    """The token of the newest sign-in link e-mailed to ``address``. The link is written
    just after the page answers, so a served server may take a moment: wait for it."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            found = SIGN_IN_LINK.search(last_email_to(db, address).text)
        except AssertionError:
            found = None
        if found is not None:
            return found.group(1)
        assert time.monotonic() < deadline, f"no sign-in link e-mailed to {address}"
        time.sleep(0.1)


def send_invite(db: sessionmaker[Session], clinic_id: uuid.UUID, patient_id: uuid.UUID) -> str:
    """Invite a patient as the desk does; the token, read from the e-mail's text."""
    with transaction(db) as session:
        row = invites.invite(
            session,
            staff_ctx(clinic_id),
            patient_id,
            now=utcnow(),
            public_base_url="https://testserver",
        )
        address = row.email
    found = INVITE_LINK.search(last_email_to(db, address).text)
    assert found, "the invitation carries its link"
    return found.group(1)


def post(web: TestClient, page_url: str, action: str, **fields: str) -> httpx.Response:
    page = web.get(page_url)
    assert page.status_code == 200, page.text
    return web.post(
        action,
        data={"csrf_token": csrf_of(page), **fields},
        headers=SAME_SITE,
        follow_redirects=False,
    )


def accept_invite(web: TestClient, token: str, password: str = "") -> httpx.Response:
    """The patient opens the invitation, sets up the account and lands signed in."""
    started = post(web, f"/portal/invite/{token}", f"/portal/invite/{token}")
    assert started.status_code == 303, started.text
    done = post(
        web,
        f"/portal/invite/{token}/account",
        f"/portal/invite/{token}/account",
        password=password,
    )
    assert done.status_code == 303, done.text
    return done


def signed_in(
    web: TestClient, db: sessionmaker[Session], clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> str:
    """A patient invited and signed in on ``web``; their portal's base address."""
    token = send_invite(db, clinic_id, patient_id)
    landed = accept_invite(web, token)
    home = landed.headers["location"]
    assert home.startswith("/portal/")
    assert "/home" in home
    return home.split("/home")[0]


def invite_row(db: sessionmaker[Session], token: str) -> PortalInvite:
    with db() as session:
        row = invites.find(session, token)
        assert row is not None
        session.expunge(row)
        return row
