"""``within_working_time``: the availability engine's working time (rule 1), asked of one
appointment, as the desk's booking dialog asks it to warn of bookings outside hours."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from common.availability import within_working_time
from common.scheduling import (
    ExceptionKind,
    ProviderSchedule,
    ScheduleException,
    Weekday,
    WorkingRange,
)

ZONE = ZoneInfo("Europe/London")
PROVIDER = uuid.uuid4()
MONDAY = date(2031, 3, 24)  # the clocks go forward on Sunday 30 March 2031
SUNDAY = date(2031, 3, 30)


def exception(kind: ExceptionKind, day: date, start: time | None, end: time | None, who=PROVIDER):
    return ScheduleException(uuid.uuid4(), kind, day, day, start, end, who)


SCHEDULE = ProviderSchedule(
    provider_id=PROVIDER,
    week=(
        WorkingRange(Weekday.MONDAY, time(9), time(12)),
        WorkingRange(Weekday.MONDAY, time(12), time(17)),  # back to back: one stretch
        WorkingRange(Weekday.TUESDAY, time(9), time(12)),
        WorkingRange(Weekday.TUESDAY, time(13), time(17)),  # lunch between
        WorkingRange(Weekday.SUNDAY, time(0, 30), time(3)),  # across the clocks going forward
    ),
    exceptions=(
        exception(ExceptionKind.TIME_OFF, MONDAY + timedelta(days=7), time(14), time(15)),
        exception(ExceptionKind.CLOSURE, MONDAY + timedelta(days=14), None, None, None),
        exception(ExceptionKind.EXTRA_HOURS, MONDAY + timedelta(days=5), time(10), time(12)),
        exception(ExceptionKind.TIME_OFF, MONDAY, None, None, uuid.uuid4()),  # someone else
    ),
)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE).astimezone(UTC)


@pytest.mark.parametrize(
    ("day", "start", "minutes", "inside"),
    [
        (MONDAY, (16, 0), 60, True),
        (MONDAY, (16, 30), 60, False),  # past closing
        (MONDAY, (8, 30), 30, False),  # before opening
        (MONDAY, (11, 30), 60, True),  # across two ranges that touch
        (MONDAY + timedelta(days=1), (11, 30), 60, False),  # across lunch
        (MONDAY + timedelta(days=7), (14, 30), 15, False),  # time off
        (MONDAY + timedelta(days=7), (15, 0), 30, True),
        (MONDAY + timedelta(days=14), (10, 0), 30, False),  # the clinic is closed
        (MONDAY + timedelta(days=5), (10, 0), 120, True),  # extra hours on a Saturday
        (MONDAY + timedelta(days=5), (11, 30), 60, False),
        (SUNDAY, (0, 30), 90, True),  # 00:30–03:00 local is 90 minutes that night
        (SUNDAY, (0, 30), 91, False),
    ],
)
def test_inside_working_time(day, start, minutes, inside):
    starts = local(day, *start)
    ends = starts + timedelta(minutes=minutes)
    assert within_working_time(SCHEDULE, ZONE, starts, ends) is inside
