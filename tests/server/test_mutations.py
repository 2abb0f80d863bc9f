"""Desk mutations on the server: applied at most once, rejected with a code and a way out,
and the booking guarantee on every path through them."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from common.roles import Role
from server.mutations.models import AppliedMutation
from server.patients.models import Patient
from server.scheduling.models import Appointment
from sync.protocol import API_PREFIX
from tests.support.diary import working_week
from tests.support.signed import sign_all

PUSH = f"{API_PREFIX}/sync/mutations"
LONDON = ZoneInfo("Europe/London")


def a_week_from_today_at(hour: int, minute: int = 0) -> datetime:
    day = datetime.now(LONDON).date() + timedelta(days=7)
    return datetime.combine(day, time(hour, minute), tzinfo=LONDON).astimezone(UTC)


@pytest.fixture
def desk(factory):
    clinic = factory.clinic(
        "alder", roles=(Role.FRONT_DESK, Role.READ_ONLY), providers=2, patients=3
    )
    return clinic, factory.signed_desk(clinic.front_desk, clinic.staff[Role.READ_ONLY])


def today_at(hour: int, minute: int = 0) -> datetime:
    day = datetime.now(LONDON).date()
    return datetime.combine(day, time(hour, minute), tzinfo=LONDON).astimezone(UTC)


def mutation(staff_id, command, *, seq=1, mutation_id=None):
    return {
        "mutation_id": str(mutation_id or uuid.uuid4()),
        "seq": seq,
        "staff_id": str(staff_id),
        "made_at": datetime.now(UTC).isoformat(),
        "command": command,
    }


def book(clinic, start, minutes=30, provider=0, appointment_id=None):
    return {
        "kind": "book",
        "appointment_id": str(appointment_id or uuid.uuid4()),
        "provider_id": str(clinic.records.provider_ids[provider]),
        "patient_id": str(clinic.records.patient_ids[0]),
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=minutes)).isoformat(),
    }


def push(client, headers, *mutations):
    response = client.post(PUSH, json={"mutations": sign_all(headers, mutations)}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["results"]


def active_appointments(db, clinic_id):
    with db() as session:
        return session.scalars(
            select(Appointment).where(
                Appointment.clinic_id == clinic_id, Appointment.status != "cancelled"
            )
        ).all()


def test_a_booking_is_applied_with_a_new_version(client, db, desk):
    clinic, headers = desk
    [result] = push(
        client,
        headers,
        mutation(clinic.front_desk.staff_id, book(clinic, a_week_from_today_at(10))),
    )
    assert result["status"] == "applied"
    assert result["appointment"]["version"] > 0
    [row] = active_appointments(db, clinic.id)
    assert str(row.id) == result["appointment"]["id"]
    assert row.source == "desk"


def test_a_replayed_mutation_returns_the_stored_result_and_applies_nothing(client, db, desk):
    clinic, headers = desk
    sent = mutation(clinic.front_desk.staff_id, book(clinic, a_week_from_today_at(10)))
    first = push(client, headers, sent)
    again = push(client, headers, sent)
    assert again == first
    assert len(active_appointments(db, clinic.id)) == 1
    with db() as session:
        assert session.scalar(select(func.count()).select_from(AppliedMutation)) == 1


def test_a_taken_slot_is_rejected_with_the_three_nearest_free_slots(client, db, desk):
    clinic, headers = desk
    staff = clinic.front_desk.staff_id
    working_week(db, clinic.records.provider_ids[0], start="08:00", end="18:00")
    ten = a_week_from_today_at(10)
    push(client, headers, mutation(staff, book(clinic, ten)))
    push(client, headers, mutation(staff, book(clinic, ten + timedelta(minutes=30))))

    [result] = push(client, headers, mutation(staff, book(clinic, ten + timedelta(minutes=15))))

    assert result["status"] == "rejected"
    assert result["code"] == "slot_taken"
    assert "already has an appointment" in result["message"]
    starts = [datetime.fromisoformat(s["starts_at"]) for s in result["suggestions"]]
    # 10:00-11:00 is taken. Nearest free half hours: 11:00 and 9:30 (45 minutes away; a
    # tie goes to the later one), then 11:15.
    assert starts == [
        ten + timedelta(hours=1),
        ten - timedelta(minutes=30),
        ten + timedelta(hours=1, minutes=15),
    ]
    assert all(
        s["provider_id"] == str(clinic.records.provider_ids[0]) for s in result["suggestions"]
    )
    assert len(active_appointments(db, clinic.id)) == 2


def test_suggestions_are_inside_the_providers_working_hours(client, db, desk):
    """He works 09:00-14:00 and is free only 10:30-11:30: asked for 13:30, the answer is
    10:30-11:00 and its neighbours, never 14:00 (the old stand-in day ran to 18:00)."""
    clinic, headers = desk
    staff = clinic.front_desk.staff_id
    working_week(db, clinic.records.provider_ids[0], start="09:00", end="14:00")
    nine = a_week_from_today_at(9)
    push(client, headers, mutation(staff, book(clinic, nine, minutes=90), seq=1))
    push(
        client,
        headers,
        mutation(staff, book(clinic, nine + timedelta(hours=2, minutes=30), minutes=150), seq=2),
    )

    [result] = push(
        client, headers, mutation(staff, book(clinic, a_week_from_today_at(13, 30)), seq=3)
    )

    assert result["code"] == "slot_taken"
    starts = [datetime.fromisoformat(s["starts_at"]) for s in result["suggestions"]]
    ends = [datetime.fromisoformat(s["ends_at"]) for s in result["suggestions"]]
    assert starts == [
        a_week_from_today_at(11),
        a_week_from_today_at(10, 45),
        a_week_from_today_at(10, 30),
    ]
    assert all(end <= a_week_from_today_at(14) for end in ends)


def test_no_suggestions_for_a_provider_with_no_working_hours(client, db, desk):
    clinic, headers = desk
    staff = clinic.front_desk.staff_id
    ten = a_week_from_today_at(10)
    push(client, headers, mutation(staff, book(clinic, ten), seq=1))
    [result] = push(client, headers, mutation(staff, book(clinic, ten), seq=2))
    assert result["code"] == "slot_taken"
    assert result["suggestions"] == []


def test_one_bad_mutation_never_blocks_the_rest(client, db, desk):
    clinic, headers = desk
    staff = clinic.front_desk.staff_id
    ten = a_week_from_today_at(10)
    bad_patient = book(clinic, ten) | {"patient_id": str(uuid.uuid4())}
    backwards = book(clinic, ten + timedelta(hours=2)) | {"ends_at": ten.isoformat()}
    results = push(
        client,
        headers,
        mutation(staff, bad_patient, seq=1),
        mutation(staff, backwards, seq=2),
        mutation(staff, book(clinic, ten + timedelta(hours=3)), seq=3),
    )
    assert [(r["status"], r["code"]) for r in results] == [
        ("rejected", "not_found"),
        ("rejected", "invalid"),
        ("applied", None),
    ]
    assert "end after it starts" in results[1]["message"]


def test_far_off_dates_are_refused_in_words_not_with_a_500(client, desk):
    """The end of the calendar overflows date arithmetic: a typo'd year is refused at the
    door, in words that name the field and the years allowed."""
    clinic, headers = desk
    staff = clinic.front_desk.staff_id
    last_day = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)
    for command in (
        book(clinic, last_day, minutes=30) | {"ends_at": "9999-12-31T23:30:00Z"},
        book(clinic, datetime(1900, 1, 1, 9, tzinfo=UTC)),
    ):
        response = client.post(
            PUSH, json={"mutations": [mutation(staff, command)]}, headers=headers
        )
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "invalid"
        assert "starts_at" in response.json()["message"]
        assert "between the years 2000 and 2199" in response.json()["message"]


def test_a_move_is_applied_and_bumps_the_version(client, desk):
    clinic, headers = desk
    staff = clinic.front_desk.staff_id
    [booked] = push(client, headers, mutation(staff, book(clinic, a_week_from_today_at(10))))
    appointment = booked["appointment"]
    move = {
        "kind": "move",
        "appointment_id": appointment["id"],
        "base_version": appointment["version"],
        "provider_id": str(clinic.records.provider_ids[1]),
        "starts_at": a_week_from_today_at(14).isoformat(),
        "ends_at": a_week_from_today_at(14, 30).isoformat(),
    }
    [moved] = push(client, headers, mutation(staff, move, seq=2))
    assert moved["status"] == "applied"
    assert moved["appointment"]["version"] > appointment["version"]
    assert moved["appointment"]["provider_id"] == move["provider_id"]


def test_a_desk_may_chain_its_own_offline_edits_of_one_record(client, desk):
    clinic, headers = desk
    staff = clinic.front_desk.staff_id
    appointment_id = uuid.uuid4()
    ten = today_at(10)  # a check-in fits only on the appointment's day
    base = 0  # what the desk knew: nothing yet, it booked it offline
    results = push(
        client,
        headers,
        mutation(staff, book(clinic, ten, appointment_id=appointment_id), seq=1),
        mutation(
            staff,
            {
                "kind": "move",
                "appointment_id": str(appointment_id),
                "base_version": base,
                "provider_id": str(clinic.records.provider_ids[1]),
                "starts_at": (ten + timedelta(hours=1)).isoformat(),
                "ends_at": (ten + timedelta(hours=1, minutes=30)).isoformat(),
            },
            seq=2,
        ),
        mutation(
            staff,
            {"kind": "check_in", "appointment_id": str(appointment_id), "base_version": base},
            seq=3,
        ),
    )
    assert [r["status"] for r in results] == ["applied"] * 3
    assert results[2]["appointment"]["status"] == "arrived"


def test_another_desks_change_makes_an_edit_stale(client, factory, desk):
    clinic, headers = desk
    staff = clinic.front_desk.staff_id
    other_desk = factory.signed_desk(clinic.front_desk, device_name="Reception 2")
    [booked] = push(client, headers, mutation(staff, book(clinic, today_at(10))))
    appointment = booked["appointment"]
    seen = appointment["version"]
    [checked_in] = push(
        client,
        other_desk,
        mutation(
            staff, {"kind": "check_in", "appointment_id": appointment["id"], "base_version": seen}
        ),
    )
    assert checked_in["status"] == "applied"

    [cancel] = push(
        client,
        headers,
        mutation(
            staff,
            {"kind": "cancel", "appointment_id": appointment["id"], "base_version": seen},
            seq=2,
        ),
    )

    assert cancel["code"] == "stale_version"
    assert cancel["appointment"]["status"] == "arrived", "the record as it now stands"


def test_status_changes_follow_the_rules(client, desk):
    clinic, headers = desk
    staff = clinic.front_desk.staff_id
    [booked] = push(client, headers, mutation(staff, book(clinic, today_at(0, 5))))
    a = booked["appointment"]
    [no_show] = push(
        client,
        headers,
        mutation(
            staff,
            {"kind": "no_show", "appointment_id": a["id"], "base_version": a["version"]},
            seq=2,
        ),
    )
    assert no_show["status"] == "applied"
    [check_in] = push(
        client,
        headers,
        mutation(
            staff,
            {
                "kind": "check_in",
                "appointment_id": a["id"],
                "base_version": no_show["appointment"]["version"],
            },
            seq=3,
        ),
    )
    assert check_in["code"] == "invalid"
    assert check_in["message"] == "A no show appointment cannot be checked in."


def test_read_only_staff_cannot_book_and_inactive_or_foreign_staff_cannot_act(
    client, factory, desk
):
    clinic, headers = desk
    other = factory.clinic("birch")
    results = push(
        client,
        headers,
        mutation(
            clinic.staff[Role.READ_ONLY].staff_id, book(clinic, a_week_from_today_at(10)), seq=1
        ),
        mutation(other.front_desk.staff_id, book(clinic, a_week_from_today_at(11)), seq=2),
        mutation(uuid.uuid4(), book(clinic, a_week_from_today_at(12)), seq=3),
    )
    # Read-only: signed, but the role may not book. The other two have no key on this
    # workstation, so nothing proves they made the change.
    assert [r["code"] for r in results] == ["forbidden", "unverified", "unverified"]


def test_another_clinics_records_are_not_found(client, factory, desk):
    clinic, headers = desk
    other = factory.clinic("birch", providers=1, patients=1, appointments=1)
    staff = clinic.front_desk.staff_id
    foreign_provider = book(clinic, a_week_from_today_at(10)) | {
        "provider_id": str(other.records.provider_ids[0])
    }
    foreign_appointment = {
        "kind": "cancel",
        "appointment_id": str(other.records.appointment_ids[0]),
        "base_version": 1,
    }
    results = push(
        client,
        headers,
        mutation(staff, foreign_provider, seq=1),
        mutation(staff, foreign_appointment, seq=2),
    )
    assert [r["code"] for r in results] == ["not_found", "not_found"]
    assert results[1]["appointment"] is None, "no record of another clinic comes back"


def test_patient_contact_details_are_updated_and_validated(client, db, desk):
    clinic, headers = desk
    staff = clinic.front_desk.staff_id
    patient_id = clinic.records.patient_ids[0]
    with db() as session:
        version = session.get(Patient, patient_id).version
    results = push(
        client,
        headers,
        mutation(
            staff,
            {
                "kind": "update_patient_contact",
                "patient_id": str(patient_id),
                "base_version": version,
                "phone": "not a phone",
                "email": None,
            },
            seq=1,
        ),
        mutation(
            staff,
            {
                "kind": "update_patient_contact",
                "patient_id": str(patient_id),
                "base_version": version,
                "phone": "+44 7700 900123",
                "email": "Ada@Example.com",
            },
            seq=2,
        ),
    )
    assert results[0]["code"] == "invalid"
    assert results[1]["status"] == "applied"
    assert results[1]["patient"]["email"] == "ada@example.com"
    assert results[1]["patient"]["phone"] == "+44 7700 900123"


def test_malformed_batches_get_a_clear_422(client, desk):
    clinic, headers = desk
    unknown_kind = mutation(clinic.front_desk.staff_id, {"kind": "teleport"})
    response = client.post(PUSH, json={"mutations": [unknown_kind]}, headers=headers)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    too_many = [
        mutation(clinic.front_desk.staff_id, book(clinic, a_week_from_today_at(10)), seq=n)
        for n in range(501)
    ]
    assert client.post(PUSH, json={"mutations": too_many}, headers=headers).status_code == 422


def test_concurrent_bookings_of_one_slot_let_exactly_one_through(app, db, factory, desk):
    """Eight desks push a booking for the same half hour at the same moment."""
    from fastapi.testclient import TestClient

    clinic, _headers = desk
    staff = clinic.front_desk.staff_id
    devices = [factory.signed_desk(clinic.front_desk, device_name=f"Desk {n}") for n in range(8)]
    ten = a_week_from_today_at(10)
    barrier = threading.Barrier(len(devices))
    results: list[dict] = []

    def race(headers):
        with TestClient(app) as own:
            barrier.wait()
            results.extend(push(own, headers, mutation(staff, book(clinic, ten))))

    threads = [threading.Thread(target=race, args=(h,)) for h in devices]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r["status"] for r in results) == ["applied"] + ["rejected"] * 7
    assert {r["code"] for r in results if r["status"] == "rejected"} == {"slot_taken"}
    assert len(active_appointments(db, clinic.id)) == 1


def test_a_duplicated_request_racing_itself_is_applied_once(app, db, desk):
    from fastapi.testclient import TestClient

    clinic, headers = desk
    sent = mutation(clinic.front_desk.staff_id, book(clinic, a_week_from_today_at(10)))
    barrier = threading.Barrier(4)
    results: list[dict] = []

    def race():
        with TestClient(app) as own:
            barrier.wait()
            results.extend(push(own, headers, sent))

    threads = [threading.Thread(target=race) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r["status"] for r in results] == ["applied"] * 4
    assert len({r["appointment"]["version"] for r in results}) == 1
    assert len(active_appointments(db, clinic.id)) == 1
