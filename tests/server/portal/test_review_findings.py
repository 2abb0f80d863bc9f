"""Faults an independent review found in the portal, each shown fixed: a stale
invitation, an admin speaking for the patient, an invitation that rewrote a password,
a family member added twice at once, an admin's view outliving the admin, unlimited
booking, two fields with one id."""

from __future__ import annotations

import re
import threading
import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from common.roles import Role
from server.db import transaction
from server.messaging.models import ConsentDecision
from server.patients.models import Patient
from server.portal.models import PortalAccount, PortalMember, PortalSession
from server.staff.models import StaffUser
from sync.protocol import API_PREFIX
from tests.server.conftest import Factory, MadeClinic
from tests.server.portal import portalmaker
from tests.server.portal.portalmaker import SAME_SITE, post
from tests.server.web import linkmaker
from tests.server.web.conftest import csrf_of


@pytest.fixture
def north(factory: Factory) -> MadeClinic:
    return factory.clinic("north", roles=(Role.CLINIC_ADMIN, Role.FRONT_DESK))


@pytest.fixture
def where(north: MadeClinic, db: sessionmaker[Session]) -> linkmaker.Practice:
    with transaction(db) as session:
        return linkmaker.practice(session, north.id)


def browser(app: FastAPI, **options: object) -> TestClient:
    return TestClient(
        app, base_url="https://testserver", headers={"accept": "text/html"}, **options
    )  # type: ignore[arg-type]


def test_an_invitation_to_an_address_since_corrected_opens_nothing(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    token = portalmaker.send_invite(db, where.clinic_id, where.patient_id)
    with transaction(db) as session:
        patient = session.get(Patient, where.patient_id)
        assert patient is not None
        patient.email = "rosa.lind@example.net"  # the first address was someone else's
    assert web.get(f"/portal/invite/{token}").status_code == 410
    form = web.get("/portal/north/sign-in")  # any page gives this browser its form token
    for action in (f"/portal/invite/{token}", f"/portal/invite/{token}/account"):
        refused = web.post(
            action,
            data={"csrf_token": csrf_of(form), "password": ""},
            headers=SAME_SITE,
            follow_redirects=False,
        )
        assert refused.status_code == 410
    with db() as session:
        assert session.scalars(select(PortalAccount)).all() == []
        assert session.scalars(select(PortalMember)).all() == []


def test_an_invitation_never_sets_an_existing_accounts_password(
    app: FastAPI, db: sessionmaker[Session], factory: Factory, where: linkmaker.Practice
) -> None:
    first = browser(app)
    token = portalmaker.send_invite(db, where.clinic_id, where.patient_id)
    portalmaker.accept_invite(first, token, password="harbour violet lantern 7")
    with db() as session:
        before = session.scalars(select(PortalAccount)).one().password_hash
    south = factory.clinic("south")
    with transaction(db) as session:
        other = linkmaker.practice(session, south.id, name="South", slug="south")
    second = browser(app)
    token2 = portalmaker.send_invite(db, south.id, other.patient_id)
    # Its page offers no password for an existing account; a forged one is ignored.
    assert (
        portalmaker.accept_invite(second, token2, password="another phrase 42 x").status_code == 303
    )
    with db() as session:
        assert session.scalars(select(PortalAccount)).one().password_hash == before


def _impersonate(
    client: TestClient, app: FastAPI, factory: Factory, north: MadeClinic, patient_id: uuid.UUID
) -> TestClient:
    answer = client.post(
        f"{API_PREFIX}/patients/{patient_id}/portal/impersonate",
        headers=factory.staff_headers(north.staff[Role.CLINIC_ADMIN]),
    )
    assert answer.status_code == 200, answer.text
    token = answer.json()["url"].rsplit("/", 1)[1]
    admin = browser(app)
    assert post(admin, f"/portal/link/{token}", f"/portal/link/{token}").status_code == 303
    return admin


def test_an_admin_viewing_as_the_patient_records_no_message_choice_in_their_name(
    web: TestClient,
    client: TestClient,
    app: FastAPI,
    db: sessionmaker[Session],
    factory: Factory,
    north: MadeClinic,
    where: linkmaker.Practice,
) -> None:
    base = portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    admin = _impersonate(client, app, factory, north, where.patient_id)
    page = admin.get(f"{base}/contact")
    fields = dict(re.findall(r'name="(consent-[a-z]+-[a-z]+)" value="yes"( checked)?', page.text))
    data = {name: "yes" for name, on in fields.items() if on}
    data["consent-email-marketing"] = "yes"  # the admin ticks marketing
    version = re.search(r'name="version" value="(\d+)"', page.text)
    phone = re.search(r'name="phone" type="tel" value="([^"]*)"', page.text)
    address = re.search(r'name="email" type="email" value="([^"]*)"', page.text)
    assert version is not None
    assert phone is not None
    assert address is not None
    refused = admin.post(
        f"{base}/contact/{where.patient_id}",
        data={
            "csrf_token": csrf_of(page),
            "version": version.group(1),
            "phone": phone.group(1),
            "email": address.group(1),
            **data,
        },
        headers=SAME_SITE,
        follow_redirects=False,
    )
    assert refused.status_code == 403
    with db() as session:
        assert session.scalars(select(ConsentDecision)).all() == []


def test_an_admins_view_ends_when_the_admin_is_deactivated(
    web: TestClient,
    client: TestClient,
    app: FastAPI,
    db: sessionmaker[Session],
    factory: Factory,
    north: MadeClinic,
    where: linkmaker.Practice,
) -> None:
    base = portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    admin = _impersonate(client, app, factory, north, where.patient_id)
    assert admin.get(f"{base}/appointments").status_code == 200
    with transaction(db) as session:
        staff = session.get(StaffUser, north.staff[Role.CLINIC_ADMIN].staff_id)
        assert staff is not None
        staff.active = False
    ended = admin.get(f"{base}/appointments")
    assert ended.status_code == 403
    assert "has ended" in ended.text
    assert web.get(f"{base}/appointments").status_code == 200  # the patient's own view


def test_a_family_member_sent_six_times_at_once_is_added_once(
    app: FastAPI, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    web = browser(app, raise_server_exceptions=False)
    base = portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    page = web.get(f"{base}/family/add")
    data = {
        "csrf_token": csrf_of(page),
        "first_name": "Leo",
        "last_name": "Lind",
        "date_of_birth": "14/03/2016",
    }
    answers: list[int] = []
    barrier = threading.Barrier(6)

    def send() -> None:
        tab = browser(app, raise_server_exceptions=False, cookies=dict(web.cookies))
        barrier.wait()
        answers.append(
            tab.post(
                f"{base}/family/add", data=data, headers=SAME_SITE, follow_redirects=False
            ).status_code
        )

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(code < 500 for code in answers), answers
    with db() as session:
        assert len(session.scalars(select(Patient).where(Patient.first_name == "Leo")).all()) == 1


def test_an_account_books_a_handful_an_hour_not_a_diary(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    base = portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    answers = []
    for _ in range(12):
        query = f"person={where.patient_id}&type={where.type_id}&provider={where.provider_ids[0]}"
        times = web.get(f"{base}/book?{query}")
        slot = re.search(r'name="slot" value="([^"]+)"', times.text)
        assert slot is not None
        review = web.get(f"{base}/book/review?{query}&slot={slot.group(1)}")
        key = re.search(r'name="form_key" value="([^"]+)"', review.text)
        assert key is not None
        answers.append(
            web.post(
                f"{base}/book",
                data={
                    "csrf_token": csrf_of(review),
                    "person": str(where.patient_id),
                    "type": str(where.type_id),
                    "provider": str(where.provider_ids[0]),
                    "slot": slot.group(1),
                    "form_key": key.group(1),
                },
                headers=SAME_SITE,
                follow_redirects=False,
            ).status_code
        )
    assert answers[:10] == [303] * 10
    assert answers[10:] == [429, 429]


def test_the_sign_in_pages_fields_have_ids_of_their_own(
    web: TestClient, where: linkmaker.Practice
) -> None:
    page = web.get("/portal/north/sign-in").text
    ids = re.findall(r'id="([^"]+)"', page)
    assert len(ids) == len(set(ids))


def test_setting_a_first_password_ends_every_other_sign_in(
    app: FastAPI, web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    base = portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    phone = browser(app)
    phone.cookies.update(web.cookies)  # the same session's cookie on another device…
    other = browser(app)
    post(other, "/portal/north/sign-in", "/portal/north/sign-in/link", email="rosa@example.org")
    token = portalmaker.SIGN_IN_LINK.search(portalmaker.last_email_to(db, "rosa@example.org").text)
    assert token is not None
    post(other, f"/portal/link/{token.group(1)}", f"/portal/link/{token.group(1)}")
    assert other.get(f"{base}/home").status_code == 200
    done = post(
        web, f"{base}/security", f"{base}/security/password", new_password="quiet orange kettle 93"
    )
    assert done.status_code == 303
    assert other.get(f"{base}/home", follow_redirects=False).status_code == 303
    with db() as session:
        live = session.scalars(select(PortalSession).where(PortalSession.ended_at.is_(None))).all()
        assert len(live) == 1
