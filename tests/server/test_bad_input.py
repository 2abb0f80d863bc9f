"""Out-of-range numbers and dates are refused at the door in words, never with a 500.

Years at the ends of the calendar overflow Python's date arithmetic, and integers past
64 bits overflow PostgreSQL's BIGINT (and SQLite's INTEGER): each is a 4xx with a message
that names the field, on every backend.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text

from common.roles import Role
from server.deps import DatabaseDep
from sync.protocol import API_PREFIX, LARGEST_COUNT, PROTOCOL_HEADER, PROTOCOL_VERSION

HUGE = 2**70
NOW = "2026-03-02T09:00:00+00:00"


@pytest.fixture
def clinic(factory):
    return factory.clinic(
        "alder", roles=(Role.FRONT_DESK, Role.CLINIC_ADMIN), providers=1, patients=1
    )


@pytest.fixture
def device(factory, clinic):
    return {**factory.device_headers(clinic.front_desk), PROTOCOL_HEADER: str(PROTOCOL_VERSION)}


@pytest.fixture
def staff(factory, clinic):
    return factory.staff_headers(clinic.front_desk)


def _refused_in_words(response, *words: str) -> None:
    assert 400 <= response.status_code < 500, response.text
    body = response.json()
    assert body["code"] == "invalid", body
    for word in words:
        assert word in body["message"], body


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"window_start": "0001-01-01T00:00:00+01:00", "window_end": NOW}, "window_start"),
        ({"window_start": NOW, "window_end": "9999-12-31T23:59:59-05:00"}, "window_end"),
        ({"window_start": NOW, "window_end": "1700000000"}, "window_end"),
        ({"limit": str(HUGE)}, "limit"),
    ],
)
def test_the_change_feed_refuses_values_out_of_range(client, device, params, words):
    response = client.get(f"{API_PREFIX}/sync/changes", params=params, headers=device)
    _refused_in_words(response, words)


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"start": "0001-01-01T00:00:00+00:00", "end": "0001-01-02T00:00:00+00:00"}, "start"),
        ({"start": NOW, "end": "9999-12-31T23:00:00-05:00"}, "between the years 2000 and 2199"),
        ({"start": "1-1-1", "end": NOW}, "start"),
    ],
)
def test_fetching_days_refuses_dates_out_of_range(client, device, params, words):
    response = client.get(f"{API_PREFIX}/sync/appointments", params=params, headers=device)
    _refused_in_words(response, words)


def _mutation(staff_id: uuid.UUID, command: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "mutation_id": str(uuid.uuid4()),
        "seq": 1,
        "staff_id": str(staff_id),
        "made_at": NOW,
        "command": command,
    } | fields


@pytest.mark.parametrize(
    ("command", "fields", "words"),
    [
        ({"kind": "check_in", "base_version": 1}, {"seq": LARGEST_COUNT + 1}, "seq"),
        ({"kind": "check_in", "base_version": 1}, {"seq": 2**63}, "seq"),  # past BIGINT
        ({"kind": "check_in", "base_version": HUGE}, {}, "base_version"),
        ({"kind": "cancel", "base_version": -1}, {}, "base_version"),
        ({"kind": "check_in", "base_version": "7"}, {}, "base_version"),
        ({"kind": "check_in", "base_version": 1}, {"made_at": "9999-12-31T23:59:59Z"}, "made_at"),
        (
            {
                "kind": "save_schedule_exception",
                "exception_id": str(uuid.uuid4()),
                "base_version": None,
                "provider_id": None,
                "exception_kind": "closure",
                "first_day": "9999-12-31",
                "last_day": "9999-12-31",
            },
            {},
            "first_day",
        ),
        (
            {
                "kind": "set_booking_rules",
                "base_version": None,
                "horizon_days": HUGE,
                "min_notice_minutes": 0,
                "slot_rounding": 15,
                "allow_any_provider": True,
                "daily_cap": None,
                "patient_cancel_cutoff_hours": 24,
                "patient_reschedule_cutoff_hours": 24,
                "patients_may_cancel": True,
            },
            {},
            "horizon_days",
        ),
    ],
)
def test_a_push_refuses_numbers_and_dates_out_of_range(
    client, clinic, device, command, fields, words
):
    command = {"appointment_id": str(uuid.uuid4())} | command
    body = {"mutations": [_mutation(clinic.front_desk.staff_id, command, **fields)]}
    response = client.post(f"{API_PREFIX}/sync/mutations", json=body, headers=device)
    _refused_in_words(response, words)


def test_staff_booking_and_moving_refuse_values_out_of_range(client, clinic, staff):
    book = {
        "provider_id": str(clinic.records.provider_ids[0]),
        "patient_id": str(clinic.records.patient_ids[0]),
        "starts_at": "9999-12-31T23:00:00-05:00",
        "ends_at": "9999-12-31T23:30:00-05:00",
    }
    response = client.post(
        f"{API_PREFIX}/appointments", json=book, headers=staff | {"Idempotency-Key": "k-1"}
    )
    _refused_in_words(response, "starts_at", "between the years")

    move = {
        "base_version": HUGE,
        "provider_id": str(clinic.records.provider_ids[0]),
        "starts_at": NOW,
        "ends_at": "2026-03-02T09:30:00+00:00",
    }
    response = client.post(
        f"{API_PREFIX}/appointments/{uuid.uuid4()}/move", json=move, headers=staff
    )
    _refused_in_words(response, "base_version")


# --- the net behind the door ------------------------------------------------------------------


def test_a_value_the_database_cannot_hold_is_a_422_in_words_not_a_500(app, client):
    """Should a value slip past the door, the database's refusal (PostgreSQL: DataError;
    SQLite: OverflowError) and Python's own date overflow still answer in words."""

    @app.get("/test-only/bigint")
    def bigint(db: DatabaseDep) -> dict[str, int]:
        with db.reading() as session:
            return {"value": session.scalar(text("SELECT CAST(:n AS BIGINT)"), {"n": HUGE})}

    @app.get("/test-only/date-overflow")
    def date_overflow() -> dict[str, str]:
        from datetime import date, timedelta

        return {"day": str(date.max + timedelta(days=1))}

    for path in ("/test-only/bigint", "/test-only/date-overflow"):
        response = client.get(path)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "invalid"
        assert "outside what the server can store" in response.json()["message"]
