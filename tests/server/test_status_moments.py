"""Status changes at the moment they fit, and the moments they record: check-in only on
the appointment's day, no-show only after its start, "now" for a desk's change being when
it was made there (never later than the server's clock), and arrival, start and finish
kept on the appointment and sent to every desk."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from common.appointments import AppointmentStatus
from common.errors import InvalidInput
from common.roles import Role
from server.auth.context import AuthContext
from server.db import transaction
from server.scheduling import service as scheduling
from server.scheduling.models import Appointment
from sync.protocol import API_PREFIX
from tests.support.signed import sign_all

PUSH = f"{API_PREFIX}/sync/mutations"
LONDON = ZoneInfo("Europe/London")


def local(days: int, hour: int, minute: int = 0) -> datetime:
    """``hour:minute`` on the clinic's clock, ``days`` from today, as a UTC instant."""
    day = datetime.now(LONDON).date() + timedelta(days=days)
    return datetime.combine(day, time(hour, minute), tzinfo=LONDON).astimezone(UTC)


@pytest.fixture
def desk(factory):
    clinic = factory.clinic("alder", roles=(Role.FRONT_DESK,), providers=1, patients=1)
    return clinic, factory.signed_desk(clinic.front_desk)


class Desk:
    """Pushes signed mutations for one staff member, numbering them."""

    def __init__(self, client, clinic, headers) -> None:
        self.client, self.clinic, self.headers = client, clinic, headers
        self.seq = 0

    def push(self, command: dict, *, made_at: datetime | None = None) -> dict:
        self.seq += 1
        sent = {
            "mutation_id": str(uuid.uuid4()),
            "seq": self.seq,
            "staff_id": str(self.clinic.front_desk.staff_id),
            "made_at": (made_at or datetime.now(UTC)).isoformat(),
            "command": command,
        }
        response = self.client.post(
            PUSH, json={"mutations": sign_all(self.headers, [sent])}, headers=self.headers
        )
        assert response.status_code == 200, response.text
        [result] = response.json()["results"]
        return result

    def book(self, start: datetime, minutes: int = 30) -> dict:
        result = self.push(
            {
                "kind": "book",
                "appointment_id": str(uuid.uuid4()),
                "provider_id": str(self.clinic.records.provider_ids[0]),
                "patient_id": str(self.clinic.records.patient_ids[0]),
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(minutes=minutes)).isoformat(),
            }
        )
        assert result["status"] == "applied", result
        return result["appointment"]

    def status(self, kind: str, appointment: dict, *, made_at: datetime | None = None) -> dict:
        return self.push(
            {
                "kind": kind,
                "appointment_id": appointment["id"],
                "base_version": appointment["version"],
            },
            made_at=made_at,
        )


@pytest.fixture
def front(client, desk) -> Desk:
    clinic, headers = desk
    return Desk(client, clinic, headers)


def test_check_in_for_tomorrow_or_a_past_day_is_rejected_in_words(front: Desk) -> None:
    tomorrow = front.book(local(1, 10))
    refused = front.status("check_in", tomorrow)
    assert (refused["status"], refused["code"]) == ("rejected", "invalid")
    assert refused["message"] == (
        "An appointment can only be checked in on its day; this one is tomorrow."
    )
    assert refused["appointment"]["status"] == "booked"

    two_days_ago = front.book(local(-2, 10))
    refused = front.status("check_in", two_days_ago)
    assert refused["code"] == "invalid"
    assert "only be checked in on its day" in refused["message"]


def test_no_show_is_rejected_before_the_start_and_applied_after(front: Desk) -> None:
    later = front.book(datetime.now(UTC) + timedelta(hours=1))
    refused = front.status("no_show", later)
    assert refused["code"] == "invalid"
    assert "once the appointment has started" in refused["message"]

    earlier = front.book(datetime.now(UTC) - timedelta(hours=49))
    applied = front.status("no_show", earlier)
    assert applied["status"] == "applied"
    assert applied["appointment"]["status"] == "no_show"


def test_an_offline_check_in_counts_when_it_was_made_and_is_stamped_then(front, db) -> None:
    # Checked in at the desk yesterday at 10:00 while offline, sent only now: it was made
    # on the appointment's day, so it counts, and the patient arrived at 10:00.
    yesterday = front.book(local(-1, 10))
    made = local(-1, 10, 2)
    result = front.status("check_in", yesterday, made_at=made)
    assert result["status"] == "applied", result
    record = result["appointment"]
    assert datetime.fromisoformat(record["arrived_at"]) == made
    assert record["started_at"] is None
    assert record["finished_at"] is None

    started = front.status("start", record, made_at=made + timedelta(minutes=20))
    assert started["status"] == "applied", started
    done = front.status("complete", started["appointment"], made_at=made + timedelta(minutes=45))
    assert done["status"] == "applied", done
    with db() as session:
        row = session.get(Appointment, uuid.UUID(record["id"]))
        assert row is not None
        assert (row.arrived_at, row.started_at, row.finished_at) == (
            made,
            made + timedelta(minutes=20),
            made + timedelta(minutes=45),
        )


def test_a_desk_clock_ahead_of_the_servers_does_not_count(front: Desk) -> None:
    # The desk says it is two hours later than it is: its no-show for an appointment an
    # hour from now is judged at the server's time, and refused.
    soon = front.book(datetime.now(UTC) + timedelta(hours=1))
    refused = front.status("no_show", soon, made_at=datetime.now(UTC) + timedelta(hours=2))
    assert refused["code"] == "invalid"

    today = front.book(local(0, 0, 5))
    checked_in = front.status("check_in", today, made_at=datetime.now(UTC) + timedelta(hours=2))
    assert checked_in["status"] == "applied", checked_in
    arrived = datetime.fromisoformat(checked_in["appointment"]["arrived_at"])
    assert arrived <= datetime.now(UTC), "never later than the server's clock"


def test_the_moments_reach_other_desks_through_the_change_feed(front, pull_all) -> None:
    today = front.book(local(0, 0, 10))
    made = datetime.now(UTC) - timedelta(minutes=7)
    assert front.status("check_in", today, made_at=made)["status"] == "applied"
    pages = pull_all(front.headers)
    found = [a for page in pages for a in page["appointments"] if a["id"] == today["id"]]
    assert found, "sent to desks"
    assert datetime.fromisoformat(found[-1]["arrived_at"]) == made


def test_the_service_refuses_at_server_time_when_no_moment_is_given(db, desk) -> None:
    """The HTTP side (no desk clock): the server's own now."""
    clinic, _headers = desk
    with transaction(db) as session:
        appointment = Appointment(
            clinic_id=clinic.id,
            provider_id=clinic.records.provider_ids[0],
            patient_id=clinic.records.patient_ids[0],
            starts_at=local(1, 9),
            ends_at=local(1, 9, 30),
        )
        session.add(appointment)
        session.flush()
        appointment_id, version = appointment.id, appointment.version
    ctx = AuthContext(
        clinic_id=clinic.id,
        device_id=None,
        staff_id=clinic.front_desk.staff_id,
        role=Role.FRONT_DESK,
    )
    with transaction(db) as session, pytest.raises(InvalidInput, match="tomorrow"):
        scheduling.set_status(
            session,
            ctx,
            appointment_id=appointment_id,
            base_version=version,
            status=AppointmentStatus.ARRIVED,
        )
    with db() as session:
        status = session.scalar(select(Appointment.status).where(Appointment.id == appointment_id))
    assert status is AppointmentStatus.BOOKED
