"""Which status change fits which moment: the one rule the desk's menus and the server
both apply (``common.appointments.status_change_allowed``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from common.appointments import AppointmentStatus, status_change_allowed

ZONE = ZoneInfo("Europe/London")
DAY = date(2031, 3, 4)
BOOKED, ARRIVED, IN_PROGRESS = (
    AppointmentStatus.BOOKED,
    AppointmentStatus.ARRIVED,
    AppointmentStatus.IN_PROGRESS,
)


def at(hour: int, minute: int = 0, day: date = DAY, zone: ZoneInfo = ZONE) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)


def verdict(current, wanted, now, start=None, minutes=30, zone=ZONE):
    start = start or at(14)
    return status_change_allowed(
        current,
        wanted,
        starts_at=start,
        ends_at=start + timedelta(minutes=minutes),
        zone=zone,
        now=now,
    )


@pytest.mark.parametrize(
    ("now", "allowed"),
    [
        (at(7, 30), True),  # early for a 14:00 appointment: still that day's visit
        (at(13, 55), True),
        (at(17), True),  # late, the same day
        (at(23, 59), True),
        (at(0, 0, DAY + timedelta(days=1)), False),  # the next day: a past day now
        (at(16, 0, DAY - timedelta(days=1)), False),  # tomorrow's appointment
    ],
)
def test_check_in_only_on_the_appointments_day(now: datetime, allowed: bool) -> None:
    found = verdict(BOOKED, ARRIVED, now)
    assert found.allowed is allowed
    assert bool(found) is allowed
    if not allowed:
        assert "only be checked in on its day" in found.reason


def test_the_day_is_the_clinics_not_utcs() -> None:
    # 00:30 in Sydney on the 5th is still the 4th in UTC: the clinic's day decides.
    sydney = ZoneInfo("Australia/Sydney")
    start = at(9, 0, DAY + timedelta(days=1), sydney)
    late_evening_before = at(23, 30, DAY, sydney)
    assert late_evening_before.date() == start.date()  # the same day in UTC
    assert not verdict(BOOKED, ARRIVED, late_evening_before, start=start, zone=sydney)
    assert verdict(BOOKED, ARRIVED, at(0, 30, DAY + timedelta(days=1), sydney), start, zone=sydney)


def test_the_reasons_say_tomorrow_and_the_date() -> None:
    assert "tomorrow" in verdict(BOOKED, ARRIVED, at(9, 0, DAY - timedelta(days=1))).reason
    past = verdict(BOOKED, ARRIVED, at(9, 0, DAY + timedelta(days=3))).reason
    assert "Tue 04 Mar 2031" in past


def test_no_show_only_once_the_start_has_passed() -> None:
    before = verdict(BOOKED, AppointmentStatus.NO_SHOW, at(13, 59))
    assert not before
    assert "once the appointment has started" in before.reason
    assert "14:00 today" in before.reason
    assert verdict(BOOKED, AppointmentStatus.NO_SHOW, at(14))
    assert verdict(BOOKED, AppointmentStatus.NO_SHOW, at(9, 0, DAY + timedelta(days=2)))
    assert not verdict(BOOKED, AppointmentStatus.NO_SHOW, at(9, 0, DAY - timedelta(days=1)))


def test_start_only_on_the_day_and_complete_not_before_it() -> None:
    assert verdict(ARRIVED, IN_PROGRESS, at(13))
    assert not verdict(ARRIVED, IN_PROGRESS, at(9, 0, DAY + timedelta(days=1)))
    assert not verdict(ARRIVED, IN_PROGRESS, at(9, 0, DAY - timedelta(days=1)))
    assert verdict(IN_PROGRESS, AppointmentStatus.COMPLETED, at(14, 20))
    # A visit left open is closed the next morning.
    assert verdict(IN_PROGRESS, AppointmentStatus.COMPLETED, at(8, 0, DAY + timedelta(days=1)))
    early = verdict(ARRIVED, AppointmentStatus.COMPLETED, at(9, 0, DAY - timedelta(days=1)))
    assert not early
    assert "before its day" in early.reason


def test_an_appointment_across_midnight_belongs_to_both_days() -> None:
    start = at(23, 30)
    next_morning = at(0, 15, DAY + timedelta(days=1))
    assert verdict(BOOKED, ARRIVED, next_morning, start=start, minutes=60)
    assert verdict(ARRIVED, IN_PROGRESS, next_morning, start=start, minutes=60)


def test_a_status_that_does_not_lead_there_is_refused_whatever_the_time() -> None:
    found = verdict(AppointmentStatus.COMPLETED, ARRIVED, at(14))
    assert not found
    assert found.reason == "A completed appointment cannot be checked in."
    assert verdict(BOOKED, AppointmentStatus.CONFIRMED, at(9, 0, DAY - timedelta(days=30)))
    assert verdict(BOOKED, AppointmentStatus.CANCELLED, at(9, 0, DAY + timedelta(days=30)))
