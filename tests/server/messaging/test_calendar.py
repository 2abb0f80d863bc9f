"""The appointment .ics: read back with icalendar, it names the right instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from server.messaging.calendar import appointment_ics

LONDON = ZoneInfo("Europe/London")
STARTS = datetime(2025, 7, 1, 9, 30, tzinfo=LONDON)  # 08:30 UTC (summer time)
UID = "1f0e2d3c-aaaa-bbbb-cccc-000000000001@demo.clinic"


def ics(**changes) -> bytes:
    arguments = {
        "uid": UID,
        "starts_at": STARTS,
        "ends_at": STARTS + timedelta(minutes=30),
        "summary": "Physiotherapy with Dr Rees",
        "location": "Demo Clinic, 1 High Street; Room 2",
        "description": "Please arrive 10 minutes early, and bring your referral.",
        "organizer_name": "Demo Clinic",
        "organizer_email": "appointments@demo.clinic",
        "time_zone": "Europe/London",
        "stamp": datetime(2025, 6, 20, 12, 0, tzinfo=UTC),
    }
    return appointment_ics(**{**arguments, **changes})


def event_of(data: bytes):
    calendar = Calendar.from_ical(data)
    [event] = calendar.walk("VEVENT")
    return calendar, event


def test_the_event_is_a_request_at_the_right_instant():
    calendar, event = event_of(ics(attendee_email="jane@example.org"))

    assert str(calendar["METHOD"]) == "REQUEST"
    assert event.decoded("DTSTART") == datetime(2025, 7, 1, 8, 30, tzinfo=UTC)
    assert event.decoded("DTSTART") == STARTS
    assert event.decoded("DTEND") == datetime(2025, 7, 1, 9, 0, tzinfo=UTC)
    assert event.decoded("DTSTAMP") == datetime(2025, 6, 20, 12, 0, tzinfo=UTC)
    assert str(event["UID"]) == UID
    assert event.decoded("SEQUENCE") == 0
    assert str(event["SUMMARY"]) == "Physiotherapy with Dr Rees"
    assert str(event["LOCATION"]) == "Demo Clinic, 1 High Street; Room 2"  # escaping survives
    assert str(event["ORGANIZER"]) == "mailto:appointments@demo.clinic"
    assert event["ORGANIZER"].params["CN"] == "Demo Clinic"
    assert str(event["ATTENDEE"]) == "mailto:jane@example.org"


def test_a_moved_appointment_keeps_its_uid_and_counts_up():
    _, first = event_of(ics())
    next_day = STARTS + timedelta(days=1)
    _, moved = event_of(
        ics(starts_at=next_day, ends_at=next_day + timedelta(minutes=30), sequence=3)
    )

    assert str(moved["UID"]) == str(first["UID"])
    assert moved.decoded("SEQUENCE") == 3
    assert moved.decoded("DTSTART") == datetime(2025, 7, 2, 8, 30, tzinfo=UTC)


def test_winter_time_is_read_in_the_zone_the_time_was_given():
    _, event = event_of(ics(starts_at=datetime(2025, 12, 1, 9, 30, tzinfo=LONDON),
                            ends_at=datetime(2025, 12, 1, 10, 0, tzinfo=LONDON)))  # fmt: skip

    assert event.decoded("DTSTART") == datetime(2025, 12, 1, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ends_at": STARTS}, "end after it starts"),
        ({"starts_at": datetime(2025, 7, 1, 9, 30)}, "time zone"),
        ({"time_zone": "Mars/Olympus_Mons"}, "Unknown time zone 'Mars/Olympus_Mons'"),
        ({"sequence": -1}, "sequence"),
    ],
)
def test_impossible_events_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        ics(**changes)
