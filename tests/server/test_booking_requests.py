"""Requests to book: staff bookings over HTTP (idempotent, refused in words), web booking
requests (web rules on create; confirm books it, reject does not), and who cancelled."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta, timezone

import pytest
from sqlalchemy import func, select

from common.appointments import AppointmentSource, AppointmentStatus, CancelledBy
from common.errors import Conflict, InvalidInput, NotFound, SlotTaken
from common.roles import Role
from server.audit.models import AuditEvent
from server.auth.context import AuthContext
from server.booking_requests import service as requests
from server.booking_requests.models import BookingRequest, BookingRequestStatus
from server.changefeed import live
from server.changefeed.service import purge_tombstones
from server.db import transaction
from server.idempotency.models import IdempotencyKey
from server.patients.models import Patient
from server.scheduling import service as scheduling
from server.scheduling.models import Appointment, Provider
from server.staff.models import StaffUser
from sync.protocol import API_PREFIX
from tests.support.diary import (
    LONDON,
    appointment_type,
    booking_rules,
    days_ahead,
    local,
    web_request,
    working_week,
)

APPOINTMENTS = f"{API_PREFIX}/appointments"
REQUESTS = f"{API_PREFIX}/booking-requests"
DAY = days_ahead(7)
REASON = {"reason": "The clinic is closed that morning."}
BODY = {"confirm": None, "reject": REASON}  # what each decision sends


@pytest.fixture
def clinic(factory, db):
    made = factory.clinic("alder", roles=(Role.FRONT_DESK, Role.READ_ONLY), providers=2, patients=3)
    for provider_id in made.records.provider_ids:
        working_week(db, provider_id)
    return made


@pytest.fixture
def other(factory):
    return factory.clinic("birch", providers=1, patients=1)


@pytest.fixture
def desk(factory, clinic):
    return factory.staff_headers(clinic.front_desk)


def staff_ctx(login):
    return AuthContext(
        clinic_id=login.clinic_id, device_id=None, staff_id=login.staff_id, role=login.role
    )


def book_body(clinic, start, minutes=30, provider=0, **extra):
    return {
        "provider_id": str(clinic.records.provider_ids[provider]),
        "patient_id": str(clinic.records.patient_ids[0]),
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=minutes)).isoformat(),
        **extra,
    }


def post_book(client, headers, body, key=None):
    return client.post(
        APPOINTMENTS, json=body, headers={**headers, "Idempotency-Key": key or str(uuid.uuid4())}
    )


def active(db, clinic_id):
    with db() as session:
        return session.scalars(
            select(Appointment).where(
                Appointment.clinic_id == clinic_id,
                Appointment.status != AppointmentStatus.CANCELLED,
            )
        ).all()


def create(db, clinic, start, *, provider=0, patient=0, **kwargs):
    with transaction(db) as session:
        request = requests.create_request(
            session,
            clinic.id,
            patient_id=clinic.records.patient_ids[patient],
            provider_id=clinic.records.provider_ids[provider],
            starts_at=start,
            **kwargs,
        )
        return request.id


def request_row(db, request_id):
    with db() as session:
        row = session.get(BookingRequest, request_id)
        assert row is not None
        return row


# --- staff bookings over HTTP -------------------------------------------------------


def test_a_staff_booking_is_created_with_its_record(client, db, clinic, desk):
    response = post_book(client, desk, book_body(clinic, local(DAY, 10)))
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["status"] == "booked"
    assert record["source"] == "desk"
    assert record["version"] > 0
    [row] = active(db, clinic.id)
    assert str(row.id) == record["id"]


def test_the_same_key_and_body_get_the_same_answer_and_book_nothing_new(client, db, clinic, desk):
    body = book_body(clinic, local(DAY, 10))
    first = post_book(client, desk, body, key="retry-me")
    # The same instants at another UTC offset are the same request.
    shifted = body | {
        "starts_at": local(DAY, 10).astimezone(timezone(timedelta(hours=5))).isoformat()
    }
    again = post_book(client, desk, shifted, key="retry-me")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert len(active(db, clinic.id)) == 1


def test_a_replay_carries_the_appointment_as_it_stands_now(client, db, clinic, desk):
    body = book_body(clinic, local(DAY, 10))
    first = post_book(client, desk, body, key="k1").json()
    moved = client.post(
        f"{APPOINTMENTS}/{first['id']}/move",
        json={
            "base_version": first["version"],
            "provider_id": body["provider_id"],
            "starts_at": local(DAY, 11).isoformat(),
            "ends_at": local(DAY, 11, 30).isoformat(),
        },
        headers=desk,
    )
    assert moved.status_code == 200, moved.text
    again = post_book(client, desk, body, key="k1")
    assert again.status_code == 201
    assert again.json() == moved.json()
    assert len(active(db, clinic.id)) == 1


def test_purging_a_tombstone_keeps_keys_and_requests_and_a_replay_says_so(client, db, clinic, desk):
    body = book_body(clinic, local(DAY, 10))
    booked = post_book(client, desk, body, key="gone").json()
    request_id = create(db, clinic, local(DAY, 12), ends_at=local(DAY, 12, 30))
    confirmed = client.post(f"{REQUESTS}/{request_id}/confirm", headers=desk).json()
    with transaction(db) as session:
        for appointment_id in (booked["id"], confirmed["appointment"]["id"]):
            row = session.get(Appointment, uuid.UUID(appointment_id))
            assert row is not None
            row.deleted_at = datetime.now(UTC) - timedelta(days=400)
    with transaction(db) as session:
        assert purge_tombstones(session, clinic.id, datetime.now(UTC)) == 2
    assert request_row(db, request_id).appointment_id is None
    again = post_book(client, desk, body, key="gone")
    assert again.status_code == 404
    assert "no longer exists" in again.json()["message"]


def test_the_same_key_with_another_body_is_refused_in_words(client, db, clinic, desk):
    post_book(client, desk, book_body(clinic, local(DAY, 10)), key="k2")
    response = post_book(client, desk, book_body(clinic, local(DAY, 12)), key="k2")
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    assert "already used for a different request" in response.json()["message"]
    assert len(active(db, clinic.id)) == 1


def test_a_refusal_is_stored_with_its_key_and_replayed(client, db, clinic, desk):
    post_book(client, desk, book_body(clinic, local(DAY, 10)))
    body = book_body(clinic, local(DAY, 10, 15))
    refused = post_book(client, desk, body, key="k3")
    assert refused.status_code == 409
    # Even once the slot is free again, the key keeps its answer: a retry is told the same.
    with transaction(db) as session:
        for row in session.scalars(select(Appointment)):
            row.status = AppointmentStatus.CANCELLED
    again = post_book(client, desk, body, key="k3")
    assert (again.status_code, again.json()) == (409, refused.json())
    assert active(db, clinic.id) == []


def test_keys_are_per_clinic(client, db, factory, clinic, other, desk):
    other_desk = factory.staff_headers(other.front_desk)
    mine = post_book(client, desk, book_body(clinic, local(DAY, 10)), key="shared")
    theirs = post_book(client, other_desk, book_body(other, local(DAY, 10)), key="shared")
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]
    with db() as session:
        assert session.scalar(select(func.count()).select_from(IdempotencyKey)) == 2


def test_a_taken_slot_is_a_409_naming_the_nearest_free_times(client, db, clinic, desk):
    post_book(client, desk, book_body(clinic, local(DAY, 10)))
    post_book(client, desk, book_body(clinic, local(DAY, 10, 30)))
    response = post_book(client, desk, book_body(clinic, local(DAY, 10, 15)))
    assert response.status_code == 409
    answer = response.json()
    assert answer["code"] == "slot_taken"
    assert "already has an appointment then" in answer["message"]
    assert "Nearest free times: " in answer["message"]
    starts = [datetime.fromisoformat(s["starts_at"]) for s in answer["suggestions"]]
    assert starts == [local(DAY, 11), local(DAY, 9, 30), local(DAY, 11, 15)]
    assert f"{DAY:%a %d %b} 11:00" in answer["message"]
    assert {s["provider_id"] for s in answer["suggestions"]} == {
        str(clinic.records.provider_ids[0])
    }
    assert len(active(db, clinic.id)) == 2


def test_a_move_into_a_taken_slot_is_a_409_and_a_stale_move_too(client, clinic, desk):
    first = post_book(client, desk, book_body(clinic, local(DAY, 10))).json()
    post_book(client, desk, book_body(clinic, local(DAY, 11)))
    move = {
        "base_version": first["version"],
        "provider_id": first["provider_id"],
        "starts_at": local(DAY, 11, 15).isoformat(),
        "ends_at": local(DAY, 11, 45).isoformat(),
    }
    taken = client.post(f"{APPOINTMENTS}/{first['id']}/move", json=move, headers=desk)
    assert taken.status_code == 409
    assert taken.json()["code"] == "slot_taken"
    assert taken.json()["suggestions"]
    # Another provider is free then.
    elsewhere = move | {"provider_id": str(clinic.records.provider_ids[1])}
    moved = client.post(f"{APPOINTMENTS}/{first['id']}/move", json=elsewhere, headers=desk)
    assert moved.status_code == 200, moved.text
    assert moved.json()["provider_id"] == str(clinic.records.provider_ids[1])


def test_a_move_with_a_key_is_applied_once(client, db, clinic, desk):
    first = post_book(client, desk, book_body(clinic, local(DAY, 10))).json()
    move = {
        "base_version": first["version"],
        "provider_id": first["provider_id"],
        "starts_at": local(DAY, 12).isoformat(),
        "ends_at": local(DAY, 12, 30).isoformat(),
    }
    url = f"{APPOINTMENTS}/{first['id']}/move"
    one = client.post(url, json=move, headers={**desk, "Idempotency-Key": "m1"})
    two = client.post(url, json=move, headers={**desk, "Idempotency-Key": "m1"})
    assert (one.status_code, two.status_code) == (200, 200)
    assert one.json() == two.json()
    other_move = move | {"starts_at": local(DAY, 13).isoformat()}
    reused = client.post(url, json=other_move, headers={**desk, "Idempotency-Key": "m1"})
    assert reused.status_code == 422


# --- web booking requests ---------------------------------------------------------------


def test_a_web_request_is_listed_confirmed_and_booked(client, db, clinic, desk):
    request_id = create(db, clinic, local(DAY, 10), ends_at=local(DAY, 10, 30), note=" Back pain ")
    listed = client.get(REQUESTS, headers=desk)
    assert listed.status_code == 200, listed.text
    [item] = listed.json()
    assert item["id"] == str(request_id)
    assert item["status"] == "pending"
    assert item["note"] == "Back pain"
    with db() as session:
        [event] = session.scalars(
            select(AuditEvent).where(AuditEvent.entity == "booking_requests")
        ).all()
        assert (event.action, event.record_count, event.staff_id) == (
            "read",
            1,
            clinic.front_desk.staff_id,
        )

    response = client.post(f"{REQUESTS}/{request_id}/confirm", headers=desk)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["request"]["status"] == "confirmed"
    assert answer["request"]["decided_by_staff_id"] == str(clinic.front_desk.staff_id)
    assert answer["appointment"]["status"] == "confirmed"
    assert answer["appointment"]["source"] == "widget"
    assert answer["request"]["appointment_id"] == answer["appointment"]["id"]
    [row] = active(db, clinic.id)
    assert (row.source, row.status) == (AppointmentSource.WIDGET, AppointmentStatus.CONFIRMED)
    assert client.get(REQUESTS, headers=desk).json() == []
    confirmed = client.get(REQUESTS, params={"status": "confirmed"}, headers=desk).json()
    assert [r["id"] for r in confirmed] == [str(request_id)]


def test_confirming_twice_is_a_409_already_confirmed(client, db, clinic, desk):
    request_id = create(db, clinic, local(DAY, 10), ends_at=local(DAY, 10, 30))
    assert client.post(f"{REQUESTS}/{request_id}/confirm", headers=desk).status_code == 200
    again = client.post(f"{REQUESTS}/{request_id}/confirm", headers=desk)
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"
    assert "already confirmed" in again.json()["message"]
    assert len(active(db, clinic.id)) == 1


def test_a_slot_taken_meanwhile_is_a_409_and_the_request_stays_pending(client, db, clinic, desk):
    request_id = create(db, clinic, local(DAY, 10), ends_at=local(DAY, 10, 30))
    assert post_book(client, desk, book_body(clinic, local(DAY, 10, 15))).status_code == 201
    response = client.post(f"{REQUESTS}/{request_id}/confirm", headers=desk)
    assert response.status_code == 409
    assert response.json()["code"] == "slot_taken"
    assert response.json()["suggestions"]
    row = request_row(db, request_id)
    assert (row.status, row.appointment_id, row.decided_at) == (
        BookingRequestStatus.PENDING,
        None,
        None,
    )
    assert len(active(db, clinic.id)) == 1


def test_two_overlapping_requests_one_confirmed_the_other_refused(client, db, clinic, desk):
    first = create(db, clinic, local(DAY, 10), ends_at=local(DAY, 10, 30))
    second = create(db, clinic, local(DAY, 10, 15), ends_at=local(DAY, 10, 45), patient=1)
    assert client.post(f"{REQUESTS}/{first}/confirm", headers=desk).status_code == 200
    refused = client.post(f"{REQUESTS}/{second}/confirm", headers=desk)
    assert refused.status_code == 409
    assert refused.json()["code"] == "slot_taken"
    assert client.post(f"{REQUESTS}/{second}/reject", json=REASON, headers=desk).status_code == 200
    assert request_row(db, second).status is BookingRequestStatus.REJECTED


def test_a_rejected_request_books_nothing_and_cannot_be_decided_again(client, db, clinic, desk):
    request_id = create(db, clinic, local(DAY, 10), ends_at=local(DAY, 10, 30))
    response = client.post(f"{REQUESTS}/{request_id}/reject", json=REASON, headers=desk)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "rejected"
    assert response.json()["decided_at"] is not None
    for action in ("confirm", "reject"):
        again = client.post(f"{REQUESTS}/{request_id}/{action}", json=BODY[action], headers=desk)
        assert again.status_code == 409
        assert "already rejected" in again.json()["message"]
    assert active(db, clinic.id) == []


def test_a_patient_withdraws_a_pending_request(db, clinic):
    request_id = create(db, clinic, local(DAY, 10), ends_at=local(DAY, 10, 30))
    patient_id = clinic.records.patient_ids[0]
    with transaction(db) as session, pytest.raises(NotFound):
        requests.withdraw(session, clinic.id, request_id, patient_id=clinic.records.patient_ids[1])
    with transaction(db) as session:
        requests.withdraw(session, clinic.id, request_id, patient_id=patient_id)
    assert request_row(db, request_id).status is BookingRequestStatus.WITHDRAWN
    with transaction(db) as session, pytest.raises(Conflict, match="already withdrawn"):
        requests.withdraw(session, clinic.id, request_id, patient_id=patient_id)


def test_a_request_whose_time_passed_is_not_confirmed(db, clinic):
    request_id = web_request(
        db,
        clinic.id,
        provider_id=clinic.records.provider_ids[0],
        patient_id=clinic.records.patient_ids[0],
        starts_at=datetime.now(UTC) - timedelta(hours=1),
        ends_at=datetime.now(UTC) - timedelta(minutes=30),
    )
    with transaction(db) as session, pytest.raises(InvalidInput, match="has passed"):
        requests.confirm(session, staff_ctx(clinic.front_desk), request_id)


# --- web rules on create ------------------------------------------------------------------


def test_a_request_with_a_type_takes_its_length(db, clinic):
    kind = appointment_type(db, clinic.id, minutes=45)
    request_id = create(db, clinic, local(DAY, 10), appointment_type_id=kind)
    row = request_row(db, request_id)
    assert row.ends_at - row.starts_at == timedelta(minutes=45)
    assert row.appointment_type_id == kind
    with transaction(db) as session, pytest.raises(InvalidInput, match="takes 45 minutes"):
        requests.create_request(
            session,
            clinic.id,
            patient_id=clinic.records.patient_ids[0],
            provider_id=clinic.records.provider_ids[0],
            starts_at=local(DAY, 11),
            ends_at=local(DAY, 11, 30),
            appointment_type_id=kind,
        )


@pytest.mark.parametrize(
    ("when", "error", "words"),
    [
        (lambda: local(DAY, 7), InvalidInput, "not working then"),
        (lambda: local(DAY, 16, 45), InvalidInput, "not working then"),  # ends after 17:00
        (lambda: local(DAY, 10, 7), InvalidInput, "every 15 minutes"),
        (lambda: datetime.now(UTC) + timedelta(minutes=30), InvalidInput, "too soon"),
        (lambda: local(days_ahead(90), 10), InvalidInput, "up to 60 days ahead"),
        (lambda: datetime(9999, 12, 31, 23, tzinfo=UTC), InvalidInput, "up to 60 days ahead"),
        (lambda: datetime(1, 1, 1, tzinfo=UTC), InvalidInput, "too soon"),
    ],
    ids=[
        "before-hours",
        "past-closing",
        "off-grid",
        "inside-notice",
        "past-horizon",
        "year-9999",
        "year-1",
    ],
)
def test_web_rules_refuse_a_request_in_words(db, clinic, when, error, words):
    kind = appointment_type(db, clinic.id, minutes=30)
    with pytest.raises(error, match=words):
        create(db, clinic, when(), appointment_type_id=kind)
    with db() as session:
        assert session.scalar(select(func.count()).select_from(BookingRequest)) == 0


def test_a_taken_time_and_a_full_day_are_409s(client, db, clinic, desk):
    kind = appointment_type(db, clinic.id, minutes=30, after=15)
    post_book(client, desk, book_body(clinic, local(DAY, 10), appointment_type_id=str(kind)))
    # 10:30 is inside the booked appointment's 15-minute buffer.
    with pytest.raises(SlotTaken, match="already has an appointment then"):
        create(db, clinic, local(DAY, 10, 30), appointment_type_id=kind)
    create(db, clinic, local(DAY, 10, 45), appointment_type_id=kind)
    booking_rules(db, clinic.id, daily_cap=1)
    with pytest.raises(SlotTaken, match="fully booked online that day"):
        create(db, clinic, local(DAY, 14), appointment_type_id=kind)


def test_a_type_not_offered_online_or_by_that_provider_is_refused(db, clinic):
    offline = appointment_type(db, clinic.id, name="Surgery", bookable_online=False)
    with pytest.raises(InvalidInput, match="Surgery cannot be booked online"):
        create(db, clinic, local(DAY, 10), appointment_type_id=offline)
    theirs = appointment_type(
        db, clinic.id, name="Massage", provider_ids=(clinic.records.provider_ids[1],)
    )
    with pytest.raises(InvalidInput, match="does not offer Massage"):
        create(db, clinic, local(DAY, 10), appointment_type_id=theirs)


def test_unknown_or_foreign_records_are_not_found_on_create(db, clinic, other):
    start = local(DAY, 10)
    foreign_type = appointment_type(db, other.id)
    with transaction(db) as session:
        for wrong in (
            {"patient_id": uuid.uuid4()},
            {"patient_id": other.records.patient_ids[0]},
            {"provider_id": uuid.uuid4()},
            {"provider_id": other.records.provider_ids[0]},
            {"appointment_type_id": foreign_type},
            {"appointment_type_id": uuid.uuid4()},
        ):
            values = {
                "patient_id": clinic.records.patient_ids[0],
                "provider_id": clinic.records.provider_ids[0],
                "starts_at": start,
                "ends_at": start + timedelta(minutes=30),
            } | wrong
            if "appointment_type_id" in wrong:
                del values["ends_at"]
            with pytest.raises(NotFound):
                requests.create_request(session, clinic.id, **values)


def test_a_request_without_type_needs_a_sensible_end(db, clinic):
    with pytest.raises(InvalidInput, match="Say when the appointment ends"):
        create(db, clinic, local(DAY, 10))
    with pytest.raises(InvalidInput, match="end after it starts"):
        create(db, clinic, local(DAY, 10), ends_at=local(DAY, 9))
    with pytest.raises(InvalidInput, match="UTC offset"):
        create(db, clinic, local(DAY, 10).replace(tzinfo=None), ends_at=local(DAY, 10, 30))
    with pytest.raises(InvalidInput, match="at most 500"):
        create(db, clinic, local(DAY, 10), ends_at=local(DAY, 10, 30), note="x" * 501)
    with pytest.raises(InvalidInput, match="control characters"):
        create(db, clinic, local(DAY, 10), ends_at=local(DAY, 10, 30), note="a\x00b")
    request_id = create(db, clinic, local(DAY, 10), ends_at=local(DAY, 10, 30), note="a\nb")
    assert request_row(db, request_id).note == "a\nb"


# --- who cancelled, and whether late ------------------------------------------------------


def _booked(db, clinic, start):
    with transaction(db) as session:
        appointment = scheduling.book(
            session,
            staff_ctx(clinic.front_desk),
            appointment_id=uuid.uuid4(),
            provider_id=clinic.records.provider_ids[0],
            patient_id=clinic.records.patient_ids[0],
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
            source=AppointmentSource.DESK,
        )
        return appointment.id, appointment.version


@pytest.mark.parametrize(
    ("hours_ahead", "by", "late"),
    [
        (3, CancelledBy.PATIENT, True),  # inside the 24-hour cut-off
        (72, CancelledBy.PATIENT, False),
        (3, CancelledBy.STAFF, True),
    ],
)
def test_a_cancellation_records_who_and_whether_late(db, clinic, hours_ahead, by, late):
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=hours_ahead)
    appointment_id, version = _booked(db, clinic, start)
    with transaction(db) as session:
        scheduling.set_status(
            session,
            staff_ctx(clinic.front_desk),
            appointment_id=appointment_id,
            base_version=version,
            status=AppointmentStatus.CANCELLED,
            cancelled_by=by,
        )
    with db() as session:
        row = session.get(Appointment, appointment_id)
        assert row is not None
        assert (row.status, row.cancelled_by, row.cancelled_late) == (
            AppointmentStatus.CANCELLED,
            by,
            late,
        )
        assert row.cancelled_at is not None


# --- bad input, on every endpoint -------------------------------------------------------


def test_the_idempotency_key_is_required_and_bounded(client, db, clinic, desk):
    body = book_body(clinic, local(DAY, 10))
    missing = client.post(APPOINTMENTS, json=body, headers=desk)
    assert missing.status_code == 422
    assert "Idempotency-Key header is required" in missing.json()["message"]
    for bad in ("x" * 201, "é-key", "tab\there"):
        response = client.post(
            APPOINTMENTS, json=body, headers={**desk, "Idempotency-Key": bad.encode()}
        )
        assert response.status_code == 422, bad
        assert "Idempotency-Key" in response.json()["message"]
    assert post_book(client, desk, body, key="x" * 200).status_code == 201
    assert len(active(db, clinic.id)) == 1


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"ends_at": "START"}, 422, "end after it starts"),
        ({"ends_at": "LONG"}, 422, "longer than 12 hours"),
        ({"provider_id": "NEW"}, 404, "no such provider"),
        ({"patient_id": "NEW"}, 404, "no such patient"),
        ({"appointment_type_id": "NEW"}, 404, "no such appointment type"),
        ({"location_id": "NEW"}, 404, "no such room"),
        ({"provider_id": "OTHER"}, 404, "no such provider"),
        ({"patient_id": "OTHER"}, 404, "no such patient"),
        ({"provider_id": "not-a-uuid"}, 422, "provider_id"),
        ({"starts_at": "2026-03-02T10:00:00"}, 422, "starts_at"),
        ({"starts_at": "9999-12-31T23:00:00+00:00"}, 422, "between the years"),
        ({"starts_at": "tomorrow"}, 422, "starts_at"),
    ],
)
def test_bad_bookings_are_refused_in_words_never_a_500(
    client, db, clinic, other, desk, change, status, words
):
    body = book_body(clinic, local(DAY, 10))
    for name, value in change.items():
        if value == "START":
            body[name] = body["starts_at"]
        elif value == "LONG":
            body[name] = (local(DAY, 10) + timedelta(hours=13)).isoformat()
        elif value == "NEW":
            body[name] = str(uuid.uuid4())
        elif value == "OTHER":
            body[name] = str(
                other.records.provider_ids[0]
                if name == "provider_id"
                else other.records.patient_ids[0]
            )
        else:
            body[name] = value
    response = post_book(client, desk, body)
    assert response.status_code == status, response.text
    assert words in response.json()["message"]
    assert active(db, clinic.id) == []


def test_malformed_bodies_are_422(client, clinic, desk):
    headers = {**desk, "Idempotency-Key": "m"}
    assert client.post(APPOINTMENTS, content=b"{", headers=headers).status_code == 422
    assert client.post(APPOINTMENTS, json=[1, 2], headers=headers).status_code == 422
    assert client.post(APPOINTMENTS, json={}, headers=headers).status_code == 422
    url = f"{APPOINTMENTS}/not-a-uuid/move"
    assert client.post(url, json={}, headers=desk).status_code == 422
    move = {
        "base_version": -1,
        "provider_id": str(clinic.records.provider_ids[0]),
        "starts_at": local(DAY, 10).isoformat(),
        "ends_at": local(DAY, 10, 30).isoformat(),
    }
    response = client.post(f"{APPOINTMENTS}/{uuid.uuid4()}/move", json=move, headers=desk)
    assert response.status_code == 422
    assert "base_version" in response.json()["message"]


def test_moving_an_unknown_or_foreign_appointment_is_404(client, factory, clinic, other, desk):
    theirs = post_book(
        client, factory.staff_headers(other.front_desk), book_body(other, local(DAY, 10))
    ).json()
    move = {
        "base_version": theirs["version"],
        "provider_id": str(clinic.records.provider_ids[0]),
        "starts_at": local(DAY, 11).isoformat(),
        "ends_at": local(DAY, 11, 30).isoformat(),
    }
    for appointment_id in (theirs["id"], str(uuid.uuid4())):
        response = client.post(f"{APPOINTMENTS}/{appointment_id}/move", json=move, headers=desk)
        assert response.status_code == 404
        assert "no such appointment" in response.json()["message"]


def test_a_read_only_role_cannot_book_move_confirm_or_reject(client, db, factory, clinic, desk):
    read_only = factory.staff_headers(clinic.staff[Role.READ_ONLY])
    booked = post_book(client, desk, book_body(clinic, local(DAY, 10))).json()
    request_id = create(db, clinic, local(DAY, 12), ends_at=local(DAY, 12, 30))
    move = {
        "base_version": booked["version"],
        "provider_id": booked["provider_id"],
        "starts_at": local(DAY, 11).isoformat(),
        "ends_at": local(DAY, 11, 30).isoformat(),
    }
    answers = [
        post_book(client, read_only, book_body(clinic, local(DAY, 14))),
        client.post(f"{APPOINTMENTS}/{booked['id']}/move", json=move, headers=read_only),
        client.post(f"{REQUESTS}/{request_id}/confirm", headers=read_only),
        client.post(f"{REQUESTS}/{request_id}/reject", json=REASON, headers=read_only),
    ]
    assert [a.status_code for a in answers] == [403, 403, 403, 403]
    assert all(a.json()["code"] == "forbidden" for a in answers)
    # Reading the list is allowed (and audited).
    assert client.get(REQUESTS, headers=read_only).status_code == 200
    assert request_row(db, request_id).status is BookingRequestStatus.PENDING
    with db() as session:  # a refused booking claimed no key
        assert session.scalar(select(func.count()).select_from(IdempotencyKey)) == 1


def test_another_clinics_request_is_not_found(client, db, factory, clinic, other, desk):
    theirs = web_request(
        db,
        other.id,
        provider_id=other.records.provider_ids[0],
        patient_id=other.records.patient_ids[0],
        starts_at=local(DAY, 10),
        ends_at=local(DAY, 10, 30),
    )
    for action in ("confirm", "reject"):
        response = client.post(f"{REQUESTS}/{theirs}/{action}", json=BODY[action], headers=desk)
        assert response.status_code == 404
        assert "no such booking request" in response.json()["message"]
    assert client.get(REQUESTS, headers=desk).json() == []
    assert request_row(db, theirs).status is BookingRequestStatus.PENDING
    # Their own front desk sees it.
    listed = client.get(REQUESTS, headers=factory.staff_headers(other.front_desk)).json()
    assert [r["id"] for r in listed] == [str(theirs)]


def test_bad_request_list_and_decision_input_is_422_or_401(client, clinic, desk):
    assert client.get(REQUESTS, params={"status": "maybe"}, headers=desk).status_code == 422
    assert client.get(REQUESTS, params={"limit": 0}, headers=desk).status_code == 422
    assert client.post(f"{REQUESTS}/not-a-uuid/confirm", headers=desk).status_code == 422
    assert client.post(f"{REQUESTS}/123/reject", json=REASON, headers=desk).status_code == 422
    assert client.post(f"{REQUESTS}/{uuid.uuid4()}/confirm", headers=desk).status_code == 404
    assert client.get(REQUESTS).status_code == 401
    assert client.post(f"{REQUESTS}/{uuid.uuid4()}/confirm").status_code == 401
    assert client.post(APPOINTMENTS, json={}).status_code == 401


# --- decisions from the desk: reasons, another time, who decided -----------------------


def test_a_rejection_records_its_reason_returns_it_and_audits_it(client, db, clinic, desk):
    request_id = create(db, clinic, local(DAY, 10), ends_at=local(DAY, 10, 30))
    response = client.post(
        f"{REQUESTS}/{request_id}/reject", json={"reason": "  Closed that morning.  "}, headers=desk
    )
    assert response.status_code == 200, response.text
    assert response.json()["reason"] == "Closed that morning."
    assert request_row(db, request_id).reason == "Closed that morning."
    rejected = client.get(REQUESTS, params={"status": "rejected"}, headers=desk).json()
    assert [r["reason"] for r in rejected] == ["Closed that morning."]
    with db() as session:
        [event] = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "reject", AuditEvent.entity_id == request_id
            )
        ).all()
    assert event.staff_id == clinic.front_desk.staff_id
    assert "Closed that morning." in event.reason


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"reason": ""}, "Say why"),
        ({"reason": "   "}, "Say why"),
        ({"reason": "x" * 301}, "at most 300"),
        ({"reason": "two\nlines"}, "control characters"),
        ({}, "reason"),
        (None, "request"),
    ],
)
def test_a_rejection_without_a_sensible_reason_is_refused_in_words(
    client, db, clinic, desk, body, words
):
    request_id = create(db, clinic, local(DAY, 10), ends_at=local(DAY, 10, 30))
    response = client.post(f"{REQUESTS}/{request_id}/reject", json=body, headers=desk)
    assert response.status_code == 422
    assert words in response.json()["message"]
    assert request_row(db, request_id).status is BookingRequestStatus.PENDING


def test_the_list_names_the_patient_provider_and_type(client, db, clinic, desk):
    kind = appointment_type(db, clinic.id, minutes=30)
    create(db, clinic, local(DAY, 10), appointment_type_id=kind)
    [record] = client.get(REQUESTS, headers=desk).json()
    with db() as session:
        patient = session.get(Patient, clinic.records.patient_ids[0])
        provider = session.get(Provider, clinic.records.provider_ids[0])
        assert patient is not None
        assert provider is not None
        assert record["patient_name"] == f"{patient.first_name} {patient.last_name}"
        assert record["provider_name"] == provider.display_name
    assert record["type_name"]
    assert record["reason"] is None


def test_confirming_at_another_time_books_it_there(client, db, clinic, desk):
    request_id = create(db, clinic, local(DAY, 10), ends_at=local(DAY, 10, 45))
    body = {"starts_at": local(DAY, 14).isoformat()}
    response = client.post(f"{REQUESTS}/{request_id}/confirm", json=body, headers=desk)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["request"]["status"] == "confirmed"
    appointment = answer["appointment"]
    assert appointment["source"] == "widget"
    assert datetime.fromisoformat(appointment["starts_at"]) == local(DAY, 14)
    assert datetime.fromisoformat(appointment["ends_at"]) == local(DAY, 14, 45)  # its length
    assert request_row(db, request_id).appointment_id == uuid.UUID(appointment["id"])


def test_confirming_with_another_provider_books_with_them(client, db, clinic, desk):
    request_id = create(db, clinic, local(DAY, 10), ends_at=local(DAY, 10, 30))
    other_provider = clinic.records.provider_ids[1]
    body = {"starts_at": local(DAY, 10).isoformat(), "provider_id": str(other_provider)}
    response = client.post(f"{REQUESTS}/{request_id}/confirm", json=body, headers=desk)
    assert response.status_code == 200, response.text
    assert response.json()["appointment"]["provider_id"] == str(other_provider)


def test_a_taken_request_names_free_times_the_provider_works_and_one_of_them_books(
    client, db, clinic, desk
):
    request_id = create(db, clinic, local(DAY, 16), ends_at=local(DAY, 16, 30))
    # The rest of the afternoon is taken meanwhile: free times must be ones they work.
    for hour in (15, 16):
        for minute in (0, 30):
            assert (
                post_book(client, desk, book_body(clinic, local(DAY, hour, minute))).status_code
                == 201
            )
    refused = client.post(f"{REQUESTS}/{request_id}/confirm", headers=desk)
    assert refused.status_code == 409
    suggestions = refused.json()["suggestions"]
    assert suggestions
    zone = LONDON
    for slot in suggestions:
        start = datetime.fromisoformat(slot["starts_at"]).astimezone(zone)
        end = datetime.fromisoformat(slot["ends_at"]).astimezone(zone)
        assert time(9) <= start.time()
        assert end.time() <= time(17)
        assert end - start == timedelta(minutes=30)
        assert slot["provider_id"] == str(clinic.records.provider_ids[0])
    assert "Nearest free times" in refused.json()["message"]
    assert request_row(db, request_id).status is BookingRequestStatus.PENDING

    chosen = {"starts_at": suggestions[0]["starts_at"]}
    booked = client.post(f"{REQUESTS}/{request_id}/confirm", json=chosen, headers=desk)
    assert booked.status_code == 200, booked.text
    assert datetime.fromisoformat(
        booked.json()["appointment"]["starts_at"]
    ) == datetime.fromisoformat(suggestions[0]["starts_at"])


def test_another_time_that_is_also_taken_is_a_409_with_free_times(client, db, clinic, desk):
    request_id = create(db, clinic, local(DAY, 10), ends_at=local(DAY, 10, 30))
    assert post_book(client, desk, book_body(clinic, local(DAY, 12))).status_code == 201
    body = {"starts_at": local(DAY, 12).isoformat()}
    refused = client.post(f"{REQUESTS}/{request_id}/confirm", json=body, headers=desk)
    assert refused.status_code == 409
    assert refused.json()["code"] == "slot_taken"
    starts = [datetime.fromisoformat(s["starts_at"]) for s in refused.json()["suggestions"]]
    assert starts
    assert local(DAY, 12) not in starts
    assert min(abs(s - local(DAY, 12)) for s in starts) == timedelta(minutes=30)
    assert request_row(db, request_id).status is BookingRequestStatus.PENDING
    assert len(active(db, clinic.id)) == 1


@pytest.mark.parametrize(
    ("when", "words"),
    [
        (lambda: local(DAY, 18), "is not working at 18:00"),
        (lambda: local(DAY, 7, 30), "is not working at 07:30"),
        (lambda: local(DAY, 10, 7), "start every"),
        (lambda: datetime.now(UTC) - timedelta(hours=1), "has passed"),
    ],
)
def test_another_time_outside_the_providers_hours_is_refused_in_words(
    client, db, clinic, desk, when, words
):
    request_id = create(db, clinic, local(DAY, 10), ends_at=local(DAY, 10, 30))
    body = {"starts_at": when().isoformat()}
    refused = client.post(f"{REQUESTS}/{request_id}/confirm", json=body, headers=desk)
    assert refused.status_code == 422
    assert words in refused.json()["message"]
    assert request_row(db, request_id).status is BookingRequestStatus.PENDING
    assert active(db, clinic.id) == []


def test_another_clinics_provider_is_not_found_when_confirming(client, db, clinic, other, desk):
    request_id = create(db, clinic, local(DAY, 10), ends_at=local(DAY, 10, 30))
    body = {
        "starts_at": local(DAY, 10).isoformat(),
        "provider_id": str(other.records.provider_ids[0]),
    }
    refused = client.post(f"{REQUESTS}/{request_id}/confirm", json=body, headers=desk)
    assert refused.status_code == 404
    assert "no such provider" in refused.json()["message"]
    assert request_row(db, request_id).status is BookingRequestStatus.PENDING


def test_another_clinics_request_is_not_found_at_another_time_either(
    client, db, clinic, other, desk
):
    theirs = web_request(
        db,
        other.id,
        provider_id=other.records.provider_ids[0],
        patient_id=other.records.patient_ids[0],
        starts_at=local(DAY, 10),
        ends_at=local(DAY, 10, 30),
    )
    body = {"starts_at": local(DAY, 11).isoformat()}
    refused = client.post(f"{REQUESTS}/{theirs}/confirm", json=body, headers=desk)
    assert refused.status_code == 404
    assert request_row(db, theirs).status is BookingRequestStatus.PENDING


def test_a_second_decision_is_told_who_decided_first(client, db, factory, clinic, desk):
    request_id = create(db, clinic, local(DAY, 10), ends_at=local(DAY, 10, 30))
    assert client.post(f"{REQUESTS}/{request_id}/confirm", headers=desk).status_code == 200
    with db() as session:
        staff = session.get(StaffUser, clinic.front_desk.staff_id)
        assert staff is not None
        name = staff.display_name
    for action in ("confirm", "reject"):
        again = client.post(f"{REQUESTS}/{request_id}/{action}", json=BODY[action], headers=desk)
        assert again.status_code == 409
        assert f"already confirmed by {name} at " in again.json()["message"]


def test_creating_and_deciding_a_request_wakes_the_clinics_streams(db, clinic, other):
    """The in-process wake-up (PostgreSQL adds its NOTIFY in the same transaction)."""
    woken: list[set[uuid.UUID]] = []
    original = live.hub.notify
    live.hub.notify = woken.append  # type: ignore[method-assign]
    try:
        request_id = create(db, clinic, local(DAY, 10), ends_at=local(DAY, 10, 30))
        assert woken == [{clinic.id}]
        with transaction(db) as session:
            requests.reject(session, staff_ctx(clinic.front_desk), request_id, "Closed.")
        assert woken == [{clinic.id}, {clinic.id}]
    finally:
        live.hub.notify = original  # type: ignore[method-assign]
    with db() as session:
        assert requests.pending_mark(session, clinic.id)[0] == 0
        assert requests.pending_mark(session, other.id) == (0, None)
