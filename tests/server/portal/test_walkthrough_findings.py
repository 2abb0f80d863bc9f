"""Faults found by walking the demo as a patient, each shown fixed: Back after booking
blamed "someone else", a request vanished until the clinic answered it, the same
password was taken as a new one."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.db import transaction
from server.scheduling.models import Appointment, AppointmentType
from tests.server.conftest import Factory
from tests.server.portal import portalmaker
from tests.server.portal.portalmaker import SAME_SITE, post
from tests.server.web import linkmaker
from tests.server.web.conftest import csrf_of


@pytest.fixture
def where(factory: Factory, db: sessionmaker[Session]) -> linkmaker.Practice:
    clinic = factory.clinic("north")
    with transaction(db) as session:
        return linkmaker.practice(session, clinic.id)


def confirm(web: TestClient, base: str, where: linkmaker.Practice, slot: str | None = None):  # type: ignore[no-untyped-def]
    query = f"person={where.patient_id}&type={where.type_id}&provider={where.provider_ids[0]}"
    if slot is None:
        found = re.search(r'name="slot" value="([^"]+)"', web.get(f"{base}/book?{query}").text)
        assert found is not None
        slot = found.group(1)
    review = web.get(f"{base}/book/review?{query}&slot={slot}")
    key = re.search(r'name="form_key" value="([^"]+)"', review.text)
    assert key is not None
    answer = web.post(
        f"{base}/book",
        data={
            "csrf_token": csrf_of(review),
            "person": str(where.patient_id),
            "type": str(where.type_id),
            "provider": str(where.provider_ids[0]),
            "slot": slot,
            "form_key": key.group(1),
        },
        headers=SAME_SITE,
        follow_redirects=False,
    )
    return answer, slot


def test_confirming_again_after_back_finds_the_booking_not_someone_else(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    base = portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    first, slot = confirm(web, base, where)
    assert first.status_code == 303
    # Back to the review page: it is theirs already, not "taken by someone else".
    query = f"person={where.patient_id}&type={where.type_id}&provider={where.provider_ids[0]}"
    back = web.get(f"{base}/book/review?{query}&slot={slot}", follow_redirects=False)
    assert back.status_code == 303
    assert back.headers["location"] == first.headers["location"]
    assert "Your appointment is booked" in web.get(back.headers["location"]).text
    with db() as session:
        assert (
            len(
                session.scalars(
                    select(Appointment).where(Appointment.patient_id == where.patient_id)
                ).all()
            )
            == 1
        )


def test_a_request_waiting_for_the_clinic_is_listed(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    with transaction(db) as session:
        kind = session.get(AppointmentType, where.type_id)
        assert kind is not None
        kind.requires_confirmation = True
    base = portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    sent, _ = confirm(web, base, where)
    assert sent.headers["location"].endswith("/appointments?requested=1")
    page = web.get(f"{base}/appointments")
    assert "Waiting for the clinic to confirm" in page.text
    assert "Requested" in page.text
    assert "Follow-up with Dr Ada Brook" in page.text


def test_the_same_password_is_not_a_new_one(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    base = portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    words = "quiet orange kettle 93"
    assert (
        post(web, f"{base}/security", f"{base}/security/password", new_password=words).status_code
        == 303
    )
    same = post(
        web,
        f"{base}/security",
        f"{base}/security/password",
        current_password=words,
        new_password=words,
    )
    assert same.status_code == 422
    assert "That is your password already" in same.text


def test_the_review_says_until_when_it_can_be_cancelled_online(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    base = portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    query = f"person={where.patient_id}&type={where.type_id}&provider={where.provider_ids[0]}"
    slots = re.findall(r'name="slot" value="([^"]+)"', web.get(f"{base}/book?{query}").text)
    assert slots
    later = web.get(f"{base}/book/review?{query}&slot={slots[-1]}").text
    assert "You can cancel it online until" in later
