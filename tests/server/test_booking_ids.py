"""A desk chooses the id of each appointment it books. An id already taken must not tell
the caller anything about another clinic: the answer for another clinic's id is the
answer for an id of its own clinic it cannot see (a removed appointment)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from server.db import transaction, utcnow
from server.scheduling.models import Appointment
from sync.protocol import API_PREFIX
from tests.support.signed import sign_all

PUSH = f"{API_PREFIX}/sync/mutations"
LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def clinics(factory):
    alder = factory.clinic("alder", providers=1, patients=1, appointments=2)
    birch = factory.clinic("birch", providers=1, patients=1, appointments=1)
    return alder, birch


def _book(clinic, appointment_id, *, days_ahead):
    day = datetime.now(LONDON).date() + timedelta(days=days_ahead)
    start = datetime.combine(day, time(10), tzinfo=LONDON).astimezone(UTC)
    return {
        "mutation_id": str(uuid.uuid4()),
        "seq": days_ahead,
        "staff_id": str(clinic.front_desk.staff_id),
        "made_at": utcnow().isoformat(),
        "command": {
            "kind": "book",
            "appointment_id": str(appointment_id),
            "provider_id": str(clinic.records.provider_ids[0]),
            "patient_id": str(clinic.records.patient_ids[0]),
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(minutes=30)).isoformat(),
        },
    }


def _without_ids(result):
    return {key: value for key, value in result.items() if key != "mutation_id"}


def test_another_clinics_id_is_answered_as_an_id_of_ones_own_that_cannot_be_seen(
    client, db, factory, clinics
):
    alder, birch = clinics
    removed, live = alder.records.appointment_ids
    with transaction(db) as session:
        session.get(Appointment, removed).deleted_at = utcnow()
    headers = factory.signed_desk(alder.front_desk)
    mutations = [
        _book(alder, birch.records.appointment_ids[0], days_ahead=7),
        _book(alder, removed, days_ahead=8),
        _book(alder, live, days_ahead=9),
    ]

    response = client.post(PUSH, json={"mutations": sign_all(headers, mutations)}, headers=headers)

    assert response.status_code == 200, response.text
    theirs, own_removed, own_live = response.json()["results"]
    # Code, message and record fields: the same, whoever holds the id.
    assert _without_ids(theirs) == _without_ids(own_removed)
    assert theirs["status"] == "rejected"
    assert theirs["code"] == "invalid"
    assert "already exists" not in theirs["message"]
    assert "cannot be used" in theirs["message"]
    assert theirs["appointment"] is None
    # A live appointment of one's own clinic may be named for what it is.
    assert own_live["status"] == "rejected"
    assert "already exists" in own_live["message"]
    assert own_live["appointment"]["id"] == str(live)
    # Nothing was written over anyone's row.
    with db() as session:
        theirs_row = session.get(Appointment, birch.records.appointment_ids[0])
        assert theirs_row is not None
        assert theirs_row.clinic_id == birch.id


def test_a_fresh_id_still_books(client, factory, clinics):
    alder, _birch = clinics
    headers = factory.signed_desk(alder.front_desk)
    mutations = sign_all(headers, [_book(alder, uuid.uuid4(), days_ahead=10)])
    response = client.post(PUSH, json={"mutations": mutations}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["status"] == "applied"
