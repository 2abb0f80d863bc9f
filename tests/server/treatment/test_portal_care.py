"""The treatment pages of the portal, on both databases: the account holder sees their
plan and their child's, the current phase marked, notes and photos with words for screen
readers; a progress photo is served to its own account at its own clinic only (another
patient's session and another clinic's portal get the same "nothing here" as a photo
that does not exist), never cached, every read audited."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from common.portal import Relation
from common.treatment import photo_alt
from server.audit.models import AuditEvent
from server.db import transaction
from server.patients.models import Patient
from server.portal import accounts
from server.portal.models import PortalAccount
from sync.protocol import API_PREFIX
from tests.server.conftest import Factory
from tests.server.portal import portalmaker
from tests.server.treatment import caremaker
from tests.server.treatment.caremaker import PNG


@pytest.fixture
def bay(factory: Factory, db: sessionmaker[Session]) -> caremaker.Clinic:
    return caremaker.clinic(factory, db, "bay")


@pytest.fixture
def other_browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver", headers={"accept": "text/html"}) as browser:
        yield browser


def photographed(client: TestClient, bay: caremaker.Clinic) -> tuple[dict[str, object], str]:
    """Rosa's plan at the fitting, with a note and a photo there."""
    plan = caremaker.start_plan(client, bay.desk, bay.rosa)["plan"]
    assert caremaker.move(client, bay.desk, bay.rosa, plan, "Fitting").status_code == 200
    fitting = caremaker.phase_id(plan, "Fitting")
    note = client.post(
        f"{API_PREFIX}/patients/{bay.rosa}/treatment/plans/{plan['id']}/notes",
        json={"phase_id": fitting, "text": "Upper brace fitted; lower next visit."},
        headers=bay.desk,
    )
    assert note.status_code == 201, note.text
    photo = caremaker.upload(client, bay.desk, bay.rosa, fitting, PNG)
    assert photo.status_code == 201, photo.text
    return plan, photo.json()["id"]


def test_the_holder_sees_the_plan_with_its_phases_notes_and_photos(
    web: TestClient, client: TestClient, db: sessionmaker[Session], bay: caremaker.Clinic
) -> None:
    _plan, photo_id = photographed(client, bay)
    base = portalmaker.signed_in(web, db, bay.id, bay.rosa)

    page = web.get(f"{base}/treatment")

    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    html = page.text
    assert "Braces, upper and lower" in html
    assert "Now: Fitting, phase 2 of 4" in html
    current = html.split('aria-current="step">')[1].split("</h3>")[0].strip()
    assert current == '<h3>Fitting <span class="status">Current phase</span>'
    assert html.count('aria-current="step"') == 1
    assert "Upper brace fitted; lower next visit." in html
    alt = photo_alt("Fitting", datetime.now(ZoneInfo("Europe/London")).date())
    assert f'<img src="{base}/treatment/photos/{photo_id}" alt="{alt}"' in html
    # The photo itself at thumbnail size (no image library to make a smaller copy): each
    # loaded only as it scrolls into view, its place kept at the photo's proportions
    # (24 × 16), and a link to it at full size.
    img = html.split(f'<img src="{base}/treatment/photos/{photo_id}"')[1].split(">")[0]
    assert 'width="160" height="107"' in img
    assert 'loading="lazy"' in img
    assert f'<a href="{base}/treatment/photos/{photo_id}"><img ' in html
    assert 'aria-current="page">Treatment</a>' in html

    served = web.get(f"{base}/treatment/photos/{photo_id}")
    assert served.status_code == 200
    assert served.content == PNG
    assert served.headers["content-type"] == "image/png"
    assert served.headers["cache-control"] == "no-store"
    assert served.headers["content-disposition"] == "inline"
    assert served.headers["x-content-type-options"] == "nosniff"
    with db() as session:
        read = session.scalars(
            select(AuditEvent).where(
                AuditEvent.entity == "progress_photos", AuditEvent.action == "read"
            )
        ).all()
    assert [(a.entity_id, a.acting_patient_id) for a in read] == [(uuid.UUID(photo_id), bay.rosa)]


def test_a_childs_plan_shows_on_the_holders_account(
    web: TestClient, client: TestClient, db: sessionmaker[Session], bay: caremaker.Clinic
) -> None:
    base = portalmaker.signed_in(web, db, bay.id, bay.rosa)
    with transaction(db) as session:
        child = Patient(clinic_id=bay.id, first_name="Leo", last_name="Lind")
        session.add(child)
        session.flush()
        account = session.scalars(select(PortalAccount)).one()
        accounts.link_record(session, account, bay.id, child.id, Relation.DEPENDANT)
        child_id = child.id
    caremaker.start_plan(client, bay.desk, child_id, ["Assessment", "Retainer"], title="Retainer")

    html = web.get(f"{base}/treatment").text

    assert 'Retainer <span class="for">(for Leo Lind)</span>' in html


def test_a_photo_is_nothing_here_to_another_patients_session_and_at_another_clinic(
    web: TestClient,
    other_browser: TestClient,
    client: TestClient,
    db: sessionmaker[Session],
    factory: Factory,
    bay: caremaker.Clinic,
) -> None:
    _plan, photo_id = photographed(client, bay)
    sam = caremaker.patient(db, bay.id, "Sam", "sam@example.org")
    sams = portalmaker.signed_in(other_browser, db, bay.id, sam)
    assert sams == "/portal/bay"

    theirs = other_browser.get(f"{sams}/treatment/photos/{photo_id}")
    missing = other_browser.get(f"{sams}/treatment/photos/{uuid.uuid4()}")
    nonsense = other_browser.get(f"{sams}/treatment/photos/not-an-id")
    for refused in (theirs, nonsense):
        assert refused.status_code == missing.status_code == 404
        assert "There is no such photo on your account" in refused.text
        assert PNG not in refused.content
    assert "Braces" not in other_browser.get(f"{sams}/treatment").text

    # Rosa is a patient of Cove too, on the same account: Cove's portal has no photo of
    # hers from Bay.
    cove = caremaker.clinic(factory, db, "cove")
    portalmaker.signed_in(web, db, bay.id, bay.rosa)
    portalmaker.accept_invite(web, portalmaker.send_invite(db, cove.id, cove.rosa))
    at_cove = web.get(f"/portal/cove/treatment/photos/{photo_id}")
    assert at_cove.status_code == 404
    assert PNG not in at_cove.content
    assert web.get(f"/portal/bay/treatment/photos/{photo_id}").content == PNG

    # Signed out: the sign-in page, not the photo.
    with TestClient(client.app, base_url="https://testserver") as stranger:
        answer = stranger.get(f"/portal/bay/treatment/photos/{photo_id}", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].endswith("/portal/bay/sign-in")
    with db() as session:
        read = session.scalars(
            select(AuditEvent.acting_patient_id).where(
                AuditEvent.entity == "progress_photos", AuditEvent.action == "read"
            )
        ).all()
    assert list(read) == [bay.rosa], "only Rosa's own view was served"


def test_no_plan_yet_says_so(
    web: TestClient, db: sessionmaker[Session], bay: caremaker.Clinic
) -> None:
    base = portalmaker.signed_in(web, db, bay.id, bay.rosa)
    page = web.get(f"{base}/treatment")
    assert page.status_code == 200
    assert "No treatment plan yet" in page.text


def test_a_removed_note_and_photo_are_gone_from_the_portal(
    web: TestClient, client: TestClient, db: sessionmaker[Session], bay: caremaker.Clinic
) -> None:
    _plan, photo_id = photographed(client, bay)
    note_id = caremaker.treatment(client, bay.reader, bay.rosa)["plans"][0]["notes"][0]["id"]
    base = portalmaker.signed_in(web, db, bay.id, bay.rosa)
    assert web.get(f"{base}/treatment/photos/{photo_id}").content == PNG

    removed = client.delete(
        f"{API_PREFIX}/patients/{bay.rosa}/treatment/notes/{note_id}", headers=bay.desk
    )
    assert removed.status_code == 204
    removed = client.delete(caremaker.photo_url(bay.rosa, photo_id), headers=bay.desk)
    assert removed.status_code == 204

    html = web.get(f"{base}/treatment").text
    assert "Braces, upper and lower" in html
    assert "Upper brace fitted" not in html
    assert "<img" not in html
    gone = web.get(f"{base}/treatment/photos/{photo_id}")
    assert gone.status_code == 404
    assert "There is no such photo on your account" in gone.text
