"""GET /availability: the availability engine over a clinic's data, as patients see it
or (``for_staff``) as the desk may book; bad input answered in words."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from common.appointments import AppointmentStatus
from common.roles import Role
from server.db import transaction
from server.scheduling.models import Appointment
from sync.protocol import API_PREFIX
from tests.support.diary import (
    appointment_type,
    booking_rules,
    days_ahead,
    local,
    working_week,
)

AVAILABILITY = f"{API_PREFIX}/availability"
APPOINTMENTS = f"{API_PREFIX}/appointments"
DAY = days_ahead(7)


@pytest.fixture
def clinic(factory, db):
    made = factory.clinic("alder", roles=(Role.FRONT_DESK, Role.READ_ONLY), providers=2, patients=1)
    working_week(db, made.records.provider_ids[0], start="09:00", end="12:00")
    working_week(db, made.records.provider_ids[1], start="11:00", end="13:00")
    return made


@pytest.fixture
def desk(factory, clinic):
    return factory.staff_headers(clinic.front_desk)


def ask(client, headers, kind, **params):
    query = {"appointment_type_id": str(kind), "first_day": DAY, "last_day": DAY} | params
    response = client.get(AVAILABILITY, params=query, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def starts(answer, provider=None):
    return [
        datetime.fromisoformat(s["starts_at"])
        for s in answer["slots"]
        if provider is None or s["provider_id"] == str(provider)
    ]


def book(client, headers, clinic, start, minutes=30, **extra):
    body = {
        "provider_id": str(clinic.records.provider_ids[0]),
        "patient_id": str(clinic.records.patient_ids[0]),
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=minutes)).isoformat(),
        **extra,
    }
    response = client.post(
        APPOINTMENTS, json=body, headers={**headers, "Idempotency-Key": str(uuid.uuid4())}
    )
    assert response.status_code == 201, response.text


def test_slots_follow_working_hours_and_the_grid(client, db, clinic, desk):
    kind = appointment_type(db, clinic.id, minutes=30)
    provider = clinic.records.provider_ids[0]
    answer = ask(client, desk, kind, provider_id=str(provider))
    assert answer["time_zone"] == "Europe/London"
    assert answer["for_staff"] is False
    assert (answer["first_day"], answer["last_day"]) == (DAY.isoformat(), DAY.isoformat())
    expected = [local(DAY, 9) + timedelta(minutes=15 * n) for n in range(11)]  # 9:00–11:30
    assert starts(answer) == expected
    assert all(s["provider_id"] == str(provider) for s in answer["slots"])
    slot = answer["slots"][0]
    ends = datetime.fromisoformat(slot["ends_at"]) - datetime.fromisoformat(slot["starts_at"])
    assert ends == timedelta(minutes=30)


def test_any_provider_offers_each_start_once(client, db, clinic, desk):
    kind = appointment_type(db, clinic.id, minutes=60)
    answer = ask(client, desk, kind)
    times = starts(answer)
    assert times == sorted(set(times))
    assert times[0] == local(DAY, 9)
    assert times[-1] == local(DAY, 12)  # only the second provider works until 13:00
    assert {s["provider_id"] for s in answer["slots"]} == {
        str(p) for p in clinic.records.provider_ids
    }


def test_appointments_and_their_buffers_are_busy(client, db, clinic, desk):
    provider = clinic.records.provider_ids[0]
    cleaning = appointment_type(db, clinic.id, name="Cleaning", minutes=30, after=15)
    kind = appointment_type(db, clinic.id, minutes=30)
    book(client, desk, clinic, local(DAY, 10), appointment_type_id=str(cleaning))
    free = starts(ask(client, desk, kind, provider_id=str(provider)))
    assert local(DAY, 9, 30) in free
    for taken in (local(DAY, 9, 45), local(DAY, 10), local(DAY, 10, 30)):
        assert taken not in free  # 10:30 is the cleaning's buffer
    assert local(DAY, 10, 45) in free
    # The requested type's own buffer keeps 9:30 away too.
    padded = appointment_type(db, clinic.id, name="Padded", minutes=30, after=15)
    assert local(DAY, 9, 30) not in starts(ask(client, desk, padded, provider_id=str(provider)))


def test_cancelled_appointments_free_their_time(client, db, clinic, desk):
    kind = appointment_type(db, clinic.id, minutes=30)
    provider = str(clinic.records.provider_ids[0])
    book(client, desk, clinic, local(DAY, 10))
    assert local(DAY, 10) not in starts(ask(client, desk, kind, provider_id=provider))
    with transaction(db) as session:
        for row in session.scalars(select(Appointment)):
            row.status = AppointmentStatus.CANCELLED
    assert local(DAY, 10) in starts(ask(client, desk, kind, provider_id=provider))


def test_patients_get_notice_horizon_and_online_rules_staff_do_not(client, db, clinic, desk):
    booking_rules(db, clinic.id, min_notice_minutes=10 * 24 * 60, horizon_days=30)
    kind = appointment_type(db, clinic.id, minutes=30)
    assert ask(client, desk, kind)["slots"] == []  # a week ahead is inside 10 days' notice
    assert starts(ask(client, desk, kind, for_staff="true"))
    far = days_ahead(40)
    assert ask(client, desk, kind, first_day=far, last_day=far)["slots"] == []
    assert ask(client, desk, kind, first_day=far, last_day=far, for_staff="true")["slots"]
    offline = appointment_type(db, clinic.id, name="Surgery", bookable_online=False)
    soon = days_ahead(12)
    assert ask(client, desk, offline, first_day=soon, last_day=soon)["slots"] == []
    assert ask(client, desk, offline, first_day=soon, last_day=soon, for_staff="true")["slots"]
    assert ask(client, desk, kind, first_day=soon, last_day=soon)["slots"]


def test_an_inactive_type_is_offered_to_staff_only(client, db, clinic, desk):
    retired = appointment_type(db, clinic.id, active=False)
    assert ask(client, desk, retired)["slots"] == []
    assert ask(client, desk, retired, for_staff="true")["slots"]


def test_any_provider_may_be_switched_off_for_patients(client, db, clinic, desk):
    booking_rules(db, clinic.id, allow_any_provider=False)
    kind = appointment_type(db, clinic.id)
    response = client.get(
        AVAILABILITY,
        params={"appointment_type_id": str(kind), "first_day": DAY, "last_day": DAY},
        headers=desk,
    )
    assert response.status_code == 422
    assert "choose a provider" in response.json()["message"]
    assert ask(client, desk, kind, for_staff="true")["slots"]
    assert ask(client, desk, kind, provider_id=str(clinic.records.provider_ids[0]))["slots"]


def test_defaults_and_the_limit(client, db, clinic, desk):
    kind = appointment_type(db, clinic.id)
    response = client.get(
        AVAILABILITY,
        params={"appointment_type_id": str(kind), "limit": 3, "for_staff": "true"},
        headers=desk,
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    first = datetime.fromisoformat(answer["first_day"]).date()
    assert datetime.fromisoformat(answer["last_day"]).date() - first == timedelta(days=6)
    assert len(answer["slots"]) == 3


def test_read_only_staff_may_look(client, factory, db, clinic):
    kind = appointment_type(db, clinic.id)
    assert ask(client, factory.staff_headers(clinic.staff[Role.READ_ONLY]), kind)["slots"]


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"first_day": "DAY+1", "last_day": "DAY"}, 422, "is before first_day"),
        ({"first_day": "DAY", "last_day": "DAY+366"}, 422, "at most 366 days"),
        ({"appointment_type_id": "NEW"}, 404, "no such appointment type"),
        ({"appointment_type_id": "OTHER"}, 404, "no such appointment type"),
        ({"provider_id": "NEW"}, 404, "no such provider"),
        ({"provider_id": "OTHER"}, 404, "no such provider"),
        ({"appointment_type_id": "nope"}, 422, "appointment_type_id"),
        ({"provider_id": "42"}, 422, "provider_id"),
        ({"first_day": "tomorrow"}, 422, "first_day"),
        ({"last_day": "9999-12-31"}, 422, "between the years"),
        ({"first_day": "0001-01-01"}, 422, "between the years"),
        ({"limit": "0"}, 422, "limit"),
        ({"for_staff": "perhaps"}, 422, "for_staff"),
        ({"appointment_type_id": None}, 422, "appointment_type_id"),
    ],
)
def test_bad_input_is_answered_in_words(client, db, factory, clinic, desk, params, status, words):
    other = factory.clinic("birch", providers=1)
    kind = appointment_type(db, clinic.id)
    query: dict[str, object] = {"appointment_type_id": str(kind), "first_day": DAY, "last_day": DAY}
    substitutes = {
        "DAY": DAY.isoformat(),
        "DAY+1": (DAY + timedelta(days=1)).isoformat(),
        "DAY+366": (DAY + timedelta(days=366)).isoformat(),
        "NEW": str(uuid.uuid4()),
    }
    for name, value in params.items():
        if value is None:
            del query[name]
        elif value == "OTHER":
            query[name] = str(
                appointment_type(db, other.id)
                if name == "appointment_type_id"
                else other.records.provider_ids[0]
            )
        else:
            query[name] = substitutes.get(value, value)
    response = client.get(AVAILABILITY, params=query, headers=desk)
    assert response.status_code == status, response.text
    assert words in response.json()["message"]


def test_a_year_is_allowed_and_not_signed_in_is_401(client, db, clinic, desk):
    kind = appointment_type(db, clinic.id)
    last = DAY + timedelta(days=365)
    answer = ask(client, desk, kind, last_day=last, for_staff="true", limit=5000)
    assert len(answer["slots"]) == 5000
    assert client.get(AVAILABILITY, params={"appointment_type_id": str(kind)}).status_code == 401
