"""The portal's appointments over TestClient on both databases: the list of the
account's people's visits (and nobody else's), one appointment with its .ics, cancelling
and moving inside the clinic's rules, and booking (at once, or as a request)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from common.appointments import AppointmentSource, AppointmentStatus, CancelledBy
from common.portal import Relation
from server.audit.models import AuditEvent
from server.booking_requests.models import BookingRequest
from server.db import transaction
from server.patients.models import Patient
from server.portal.models import PortalMember
from server.scheduling.models import Appointment, AppointmentType, BookingRules
from tests.server.conftest import Factory
from tests.server.portal import portalmaker
from tests.server.portal.portalmaker import SAME_SITE
from tests.server.web import linkmaker
from tests.server.web.conftest import csrf_of

SLOT = re.compile(r'name="slot" value="([^"]+)"')
HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')


@dataclass(frozen=True)
class Family:
    where: linkmaker.Practice
    base: str  # "/portal/north", signed in on ``web``
    child_id: uuid.UUID


@pytest.fixture
def family(web: TestClient, factory: Factory, db: sessionmaker[Session]) -> Family:
    """Rosa signed in at North Physio, with her son Tom on her account."""
    clinic = factory.clinic("north")
    with transaction(db) as session:
        where = linkmaker.practice(session, clinic.id)
    base = portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    with transaction(db) as session:
        holder = session.scalar(
            select(PortalMember).where(PortalMember.patient_id == where.patient_id)
        )
        assert holder is not None
        child = Patient(clinic_id=where.clinic_id, first_name="Tom", last_name="Lind")
        session.add(child)
        session.flush()
        session.add(
            PortalMember(
                clinic_id=where.clinic_id,
                patient_id=child.id,
                account_id=holder.account_id,
                relation=Relation.DEPENDANT,
            )
        )
        child_id = child.id
    return Family(where, base, child_id)


def at(where: linkmaker.Practice, days: int, hour: int = 10) -> datetime:
    """``hour`` o'clock on the clinic's clock, ``days`` from today."""
    today = datetime.now(UTC).astimezone(where.zone).date()
    return datetime.combine(today + timedelta(days=days), time(hour), where.zone).astimezone(UTC)


def appointment(
    db: sessionmaker[Session],
    where: linkmaker.Practice,
    patient_id: uuid.UUID,
    starts_at: datetime,
    *,
    provider: int = 0,
    clinic_id: uuid.UUID | None = None,
    provider_id: uuid.UUID | None = None,
    type_id: uuid.UUID | None = None,
    status: AppointmentStatus = AppointmentStatus.CONFIRMED,
) -> uuid.UUID:
    with transaction(db) as session:
        row = Appointment(
            clinic_id=clinic_id or where.clinic_id,
            provider_id=provider_id or where.provider_ids[provider],
            patient_id=patient_id,
            appointment_type_id=type_id or where.type_id,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=30),
            status=status,
            source=AppointmentSource.DESK,
        )
        session.add(row)
        session.flush()
        return row.id


def rules(db: sessionmaker[Session], clinic_id: uuid.UUID, **changes: object) -> None:
    values: dict[str, object] = {
        "horizon_days": 60,
        "min_notice_minutes": 120,
        "slot_rounding": 15,
        "allow_any_provider": True,
        "daily_cap": None,
        "patient_cancel_cutoff_hours": 24,
        "patient_reschedule_cutoff_hours": 24,
        "patients_may_cancel": True,
        **changes,
    }
    with transaction(db) as session:
        session.add(BookingRules(clinic_id=clinic_id, **values))


def row(db: sessionmaker[Session], appointment_id: uuid.UUID) -> Appointment:
    with db() as session:
        found = session.get(Appointment, appointment_id)
        assert found is not None
        session.expunge(found)
        return found


def state(db: sessionmaker[Session]) -> list[tuple[object, ...]]:
    with db() as session:
        appointments = session.execute(
            select(
                Appointment.id,
                Appointment.version,
                Appointment.status,
                Appointment.starts_at,
                Appointment.provider_id,
            ).order_by(Appointment.id)
        ).all()
        requests = session.execute(select(BookingRequest.id).order_by(BookingRequest.id)).all()
    return [tuple(r) for r in appointments] + [tuple(r) for r in requests]


def send(web: TestClient, page: httpx.Response, action: str, **fields: str) -> httpx.Response:
    """Post ``page``'s own form (its hidden fields and CSRF token) plus ``fields``."""
    data = dict(HIDDEN.findall(page.text))
    data.update(csrf_token=csrf_of(page), **fields)
    return web.post(action, data=data, headers=SAME_SITE, follow_redirects=False)


# --- the list and one appointment -------------------------------------------------------


def test_the_list_shows_the_familys_appointments_and_nobody_elses(
    web: TestClient, factory: Factory, db: sessionmaker[Session], family: Family
) -> None:
    where = family.where
    own = appointment(db, where, where.patient_id, at(where, 3))
    sons = appointment(db, where, family.child_id, at(where, 4, 11), provider=1)
    past = appointment(
        db, where, where.patient_id, at(where, -5), status=AppointmentStatus.COMPLETED
    )
    with transaction(db) as session:
        stranger = Patient(clinic_id=where.clinic_id, first_name="Ivo", last_name="Stark")
        session.add(stranger)
        session.flush()
        stranger_id = stranger.id
    strangers = appointment(db, where, stranger_id, at(where, 3, 14))
    south_clinic = factory.clinic("south")
    with transaction(db) as session:
        south = linkmaker.practice(session, south_clinic.id, name="South Physio", slug="south")
    elsewhere = appointment(
        db,
        south,
        south.patient_id,
        at(south, 3),
        clinic_id=south.clinic_id,
        provider_id=south.provider_ids[0],
        type_id=south.type_id,
    )

    page = web.get(f"{family.base}/appointments")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    for shown in (own, sons, past):
        assert f"/appointments/{shown}" in page.text
    for hidden in (strangers, elsewhere):
        assert str(hidden) not in page.text
    assert "(for Tom Lind)" in page.text
    with db() as session:
        read = session.scalars(
            select(AuditEvent).where(
                AuditEvent.entity == "appointments", AuditEvent.action == "read"
            )
        ).all()
    assert any(
        e.acting_patient_id == where.patient_id and "the patient in the portal" in e.reason
        for e in read
    )

    # Someone else's appointment, another clinic's, junk: the same 404 page.
    for other in (strangers, elsewhere, uuid.uuid4(), "junk", "1;drop"):
        for suffix in ("", ".ics", "/cancel", "/reschedule"):
            answer = web.get(f"{family.base}/appointments/{other}{suffix}")
            assert answer.status_code == 404, (other, suffix)
            assert "no appointment like that" in answer.text
    forged = send(
        web,
        web.get(f"{family.base}/appointments/{own}/cancel"),
        f"{family.base}/appointments/{strangers}/cancel",
        version="1",
    )
    assert forged.status_code == 404
    assert row(db, strangers).status is AppointmentStatus.CONFIRMED


def test_one_appointment_with_its_calendar_file(
    web: TestClient, db: sessionmaker[Session], family: Family
) -> None:
    where = family.where
    starts = at(where, 3)
    sons = appointment(db, where, family.child_id, starts)
    page = web.get(f"{family.base}/appointments/{sons}")
    assert page.status_code == 200
    for words in ("Follow-up", "Dr Ada Brook", "Tom Lind", "Tell us a day ahead.", "Confirmed"):
        assert words in page.text
    assert "Add to calendar" in page.text
    assert f"/appointments/{sons}/cancel" in page.text
    assert f"/appointments/{sons}/reschedule" in page.text

    ics = web.get(f"{family.base}/appointments/{sons}.ics")
    assert ics.status_code == 200
    assert ics.headers["content-type"].startswith("text/calendar")
    assert ics.headers["cache-control"] == "no-store"
    event = next(iter(Calendar.from_ical(ics.content).walk("VEVENT")))
    assert event.decoded("dtstart") == starts
    assert "Follow-up" in str(event.get("summary"))


def test_reading_every_page_changes_nothing(
    web: TestClient, db: sessionmaker[Session], family: Family
) -> None:
    where = family.where
    soon = appointment(db, where, where.patient_id, at(where, 3))
    before = state(db)
    base = family.base
    start = web.get(f"{base}/book")
    type_id = re.search(r'name="type" value="([^"]+)"', start.text)
    assert type_id
    times = web.get(f"{base}/book?type={type_id.group(1)}&provider=any")
    slot = SLOT.search(times.text)
    assert slot
    urls = [
        f"{base}/appointments",
        f"{base}/appointments/{soon}",
        f"{base}/appointments/{soon}.ics",
        f"{base}/appointments/{soon}/cancel",
        f"{base}/appointments/{soon}/reschedule",
        f"{base}/book",
        f"{base}/book?type={type_id.group(1)}",
        f"{base}/book?type={type_id.group(1)}&provider=any",
        f"{base}/book/review?type={type_id.group(1)}&provider=any&slot={slot.group(1)}",
    ]
    for url in urls:
        assert web.get(url).status_code == 200, url
        assert web.head(url).status_code == 200, url
    assert state(db) == before


# --- cancelling -------------------------------------------------------------------------


def test_cancelling_outside_the_cut_off(
    web: TestClient, db: sessionmaker[Session], family: Family
) -> None:
    where = family.where
    sons = appointment(db, where, family.child_id, at(where, 3))
    question = web.get(f"{family.base}/appointments/{sons}/cancel")
    assert "Cancel this appointment?" in question.text
    done = send(web, question, f"{family.base}/appointments/{sons}/cancel")
    assert done.status_code == 303
    cancelled = row(db, sons)
    assert cancelled.status is AppointmentStatus.CANCELLED
    assert cancelled.cancelled_by is CancelledBy.PATIENT
    assert not cancelled.cancelled_late
    page = web.get(done.headers["location"])
    assert "has been cancelled" in page.text
    assert "/cancel" not in page.text
    with db() as session:
        audit = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "cancel", AuditEvent.entity_id == sons)
        ).one()
    # The holder acted; the appointment (the son's) says for whom.
    assert audit.acting_patient_id == family.where.patient_id

    # Sent again (the form was still open): refused, nothing more happens.
    again = send(web, question, f"{family.base}/appointments/{sons}/cancel")
    assert again.status_code == 409
    assert row(db, sons).version == cancelled.version


def test_inside_the_cut_off_nothing_can_be_cancelled_online(
    web: TestClient, db: sessionmaker[Session], family: Family
) -> None:
    where = family.where
    far = appointment(db, where, where.patient_id, at(where, 3))
    page_while_far = web.get(f"{family.base}/appointments/{far}/cancel")
    soon = appointment(
        db, where, where.patient_id, datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)
    )
    explanation = (
        "This appointment is less than 24 hours away, so it can no longer be cancelled "
        f"online. Call North Physio on {linkmaker.CLINIC_PHONE}."
    )
    page = web.get(f"{family.base}/appointments/{soon}")
    assert explanation in page.text
    assert f"/appointments/{soon}/cancel" not in page.text
    assert f"/appointments/{soon}/reschedule" not in page.text
    assert explanation in web.get(f"{family.base}/appointments/{soon}/cancel").text
    before = row(db, soon)
    forged = send(
        web,
        page_while_far,
        f"{family.base}/appointments/{soon}/cancel",
        version=str(before.version),
    )
    assert forged.status_code == 409
    assert explanation in forged.text
    after = row(db, soon)
    assert (after.status, after.version) == (AppointmentStatus.CONFIRMED, before.version)


def test_a_clinic_that_takes_no_cancellations_online(
    web: TestClient, db: sessionmaker[Session], family: Family
) -> None:
    where = family.where
    rules(db, where.clinic_id, patients_may_cancel=False)
    far = appointment(db, where, where.patient_id, at(where, 5))
    page = web.get(f"{family.base}/appointments/{far}")
    assert "does not take cancellations or changes online" in page.text
    assert f'/appointments/{far}/cancel"' not in page.text
    forged = send(web, page, f"{family.base}/appointments/{far}/cancel", version="1")
    assert forged.status_code in (409, 422)
    assert row(db, far).status is AppointmentStatus.CONFIRMED
    moved = send(
        web,
        page,
        f"{family.base}/appointments/{far}/reschedule",
        version=str(row(db, far).version),
        slot=f"{where.provider_ids[0]}.{int(at(where, 6).timestamp())}",
    )
    assert moved.status_code == 409
    assert row(db, far).starts_at == at(where, 5)


def test_a_change_made_at_the_desk_meanwhile_is_not_overwritten(
    web: TestClient, db: sessionmaker[Session], family: Family
) -> None:
    where = family.where
    far = appointment(db, where, where.patient_id, at(where, 3))
    question = web.get(f"{family.base}/appointments/{far}/cancel")
    with transaction(db) as session:
        changed = session.get(Appointment, far)
        assert changed is not None
        changed.starts_at, changed.ends_at = at(where, 4), at(where, 4) + timedelta(minutes=30)
    answer = send(web, question, f"{family.base}/appointments/{far}/cancel")
    assert answer.status_code == 409
    assert "changed by the clinic" in answer.text
    new_day = at(where, 4).astimezone(where.zone)
    assert f"{new_day:%A} {new_day.day} {new_day:%B %Y}" in answer.text
    assert row(db, far).status is AppointmentStatus.CONFIRMED


# --- moving -----------------------------------------------------------------------------


def test_rescheduling_and_a_time_taken_meanwhile(
    web: TestClient, db: sessionmaker[Session], family: Family
) -> None:
    where = family.where
    far = appointment(db, where, family.child_id, at(where, 3))
    url = f"{family.base}/appointments/{far}/reschedule"
    times = web.get(f"{url}?week=junk")
    assert times.status_code == 200
    slots = SLOT.findall(times.text)
    assert len(slots) > 2
    # Somebody books the first time shown, before the patient presses the button.
    provider_text, seconds = slots[0].split(".")
    taken_at = datetime.fromtimestamp(int(seconds), UTC)
    with transaction(db) as session:
        other = Patient(clinic_id=where.clinic_id, first_name="Ann", last_name="Else")
        session.add(other)
        session.flush()
        other_id = other.id
    appointment(db, where, other_id, taken_at, provider_id=uuid.UUID(provider_text))
    clash = send(web, times, url, slot=slots[0])
    assert clash.status_code == 409
    assert "just been taken" in clash.text
    assert "Choose a new time" in clash.text
    assert row(db, far).starts_at == at(where, 3)

    chosen = slots[-1]
    provider_text, seconds = chosen.split(".")
    moved = send(web, web.get(url), url, slot=chosen)
    assert moved.status_code == 303
    after = row(db, far)
    assert after.starts_at == datetime.fromtimestamp(int(seconds), UTC)
    assert after.provider_id == uuid.UUID(provider_text)
    assert after.status is AppointmentStatus.CONFIRMED
    assert "has been moved" in web.get(moved.headers["location"]).text

    # Junk: a 422 times page or a 400 page, never a 500.
    for junk in ("", "x", "1.2", f"{uuid.uuid4()}.99999999999999999999"):
        bad = send(web, web.get(url), url, slot=junk)
        assert bad.status_code in (409, 422), junk
    bad_version = send(web, web.get(url), url, slot=chosen, version="nope")
    assert bad_version.status_code == 422


# --- booking ----------------------------------------------------------------------------


def _review(web: TestClient, base: str, type_id: uuid.UUID, provider: str, person: str) -> str:
    times = web.get(f"{base}/book?person={person}&type={type_id}&provider={provider}")
    assert times.status_code == 200
    slot = SLOT.search(times.text)
    assert slot, times.text
    chosen = f"person={person}&type={type_id}&provider={provider}&slot={slot.group(1)}"
    return f"{base}/book/review?{chosen}"


def test_booking_for_a_dependant_books_once(
    web: TestClient, db: sessionmaker[Session], family: Family
) -> None:
    where = family.where
    start = web.get(f"{family.base}/book")
    assert "Who is it for?" in start.text
    assert "Tom Lind" in start.text
    who = web.get(f"{family.base}/book?person={family.child_id}&type={where.type_id}")
    assert "No preference" in who.text
    review = web.get(_review(web, family.base, where.type_id, "any", str(family.child_id)))
    assert "Check your appointment" in review.text
    first = send(web, review, f"{family.base}/book")
    second = send(web, review, f"{family.base}/book")
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    with db() as session:
        made = session.scalars(
            select(Appointment).where(Appointment.patient_id == family.child_id)
        ).all()
        assert len(made) == 1
        assert made[0].source is AppointmentSource.PORTAL
        assert made[0].status is AppointmentStatus.CONFIRMED
        booked_id = made[0].id
        audit = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "book", AuditEvent.entity_id == booked_id)
        ).one()
        # The holder acted; the appointment (the son's) says for whom.
    assert audit.acting_patient_id == family.where.patient_id
    page = web.get(first.headers["location"])
    assert "Your appointment is booked" in page.text
    assert str(booked_id) in web.get(f"{family.base}/appointments").text


def test_a_time_taken_meanwhile_goes_back_to_the_times(
    web: TestClient, db: sessionmaker[Session], family: Family
) -> None:
    where = family.where
    provider = str(where.provider_ids[1])
    review = web.get(_review(web, family.base, where.type_id, provider, ""))
    values = dict(HIDDEN.findall(review.text))
    seconds = int(values["slot"].split(".")[1])
    with transaction(db) as session:
        other = Patient(clinic_id=where.clinic_id, first_name="Ann", last_name="Else")
        session.add(other)
        session.flush()
        other_id = other.id
    appointment(
        db, where, other_id, datetime.fromtimestamp(seconds, UTC), provider_id=where.provider_ids[1]
    )
    answer = send(web, review, f"{family.base}/book")
    assert answer.status_code == 409
    assert "just been taken" in answer.text
    assert "Choose a time" in answer.text
    with db() as session:
        assert (
            session.scalars(
                select(Appointment).where(Appointment.patient_id == where.patient_id)
            ).all()
            == []
        )


def test_a_type_the_clinic_confirms_becomes_a_request(
    web: TestClient, db: sessionmaker[Session], family: Family
) -> None:
    where = family.where
    with transaction(db) as session:
        kind = AppointmentType(
            clinic_id=where.clinic_id,
            name="Assessment",
            duration_minutes=45,
            requires_confirmation=True,
        )
        hidden = AppointmentType(
            clinic_id=where.clinic_id, name="Surgery", duration_minutes=60, bookable_online=False
        )
        session.add_all([kind, hidden])
        session.flush()
        kind_id, hidden_id = kind.id, hidden.id
    start = web.get(f"{family.base}/book")
    assert "Assessment" in start.text
    assert "Surgery" not in start.text
    assert web.get(f"{family.base}/book?type={hidden_id}").status_code == 404
    review = web.get(_review(web, family.base, kind_id, str(where.provider_ids[0]), ""))
    assert "Send my request" in review.text
    answer = send(web, review, f"{family.base}/book")
    assert answer.status_code == 303
    assert "requested=1" in answer.headers["location"]
    assert "The clinic will confirm" in web.get(answer.headers["location"]).text
    with db() as session:
        request = session.scalars(select(BookingRequest)).one()
        assert request.patient_id == where.patient_id
        assert request.appointment_type_id == kind_id
        assert session.scalars(select(Appointment)).all() == []


def test_no_preference_is_offered_only_where_the_clinic_allows_it(
    web: TestClient, db: sessionmaker[Session], family: Family
) -> None:
    where = family.where
    rules(db, where.clinic_id, allow_any_provider=False)
    who = web.get(f"{family.base}/book?type={where.type_id}")
    assert "No preference" not in who.text
    assert web.get(f"{family.base}/book?type={where.type_id}&provider=any").status_code == 404


def test_bad_booking_values_are_pages_not_errors(
    web: TestClient, db: sessionmaker[Session], family: Family
) -> None:
    base = family.base
    where = family.where
    for url in (
        f"{base}/book?person=junk",
        f"{base}/book?person={uuid.uuid4()}",
        f"{base}/book?type=junk",
        f"{base}/book?type={where.type_id}&provider=junk",
        f"{base}/book?type={where.type_id}&provider=any&week=1999-99-99",
        f"{base}/book/review?type={where.type_id}&provider=any&slot=junk",
        f"{base}/book/review?type={where.type_id}&provider=any&slot={where.provider_ids[0]}.1",
        f"{base}/book/review",
    ):
        answer = web.get(url)
        assert answer.status_code in (200, 400, 404, 409, 422), url
        assert "<html" in answer.text
    review = web.get(_review(web, base, where.type_id, "any", ""))
    for changes in (
        {"slot": "junk"},
        {"form_key": "x"},
        {"type": "junk"},
        {"person": str(uuid.uuid4())},
        {"provider": ""},
    ):
        answer = send(web, review, f"{base}/book", **changes)
        assert answer.status_code in (400, 404, 409, 422), changes
    with db() as session:
        assert session.scalars(select(Appointment)).all() == []
