"""What a clinic's week looks like: working hours, exceptions, appointment types, booking
rules. Plain values shared by the server (which enforces them for patients), the desk
(which shows them and finds free time offline) and the availability engine.

Every rule is in the clinic's local wall-clock time: "Tuesdays 9:00–13:00"
means 9:00 by the clinic's clock in summer and in winter alike.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from enum import IntEnum, StrEnum

from common.errors import InvalidInput

SLOT_ROUNDINGS = (5, 10, 15, 20, 30, 60)
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class Weekday(IntEnum):
    """``date.weekday()`` numbering: Monday is 0."""

    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6

    @property
    def label(self) -> str:
        return WEEKDAY_NAMES[self.value]


@dataclass(frozen=True, slots=True)
class WorkingRange:
    """One stretch of a provider's usual week, e.g. Tuesday 09:00–13:00 (local time).

    A day may have several (a split shift); ``end`` of ``time(0, 0)`` is not allowed: a
    range ends on the day it starts, at the latest at 23:59.
    """

    weekday: Weekday
    start: time
    end: time
    location_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(
                f"{self.weekday.label} {self.start:%H:%M}–{self.end:%H:%M}: a working range "
                "must end after it starts, on the same day."
            )


class ExceptionKind(StrEnum):
    TIME_OFF = "time_off"  # the provider is away: no slots in the range
    EXTRA_HOURS = "extra_hours"  # the provider works outside the usual week
    CLOSURE = "closure"  # the whole clinic is closed (``provider_id`` is None)

    @property
    def label(self) -> str:
        return {"time_off": "Time off", "extra_hours": "Extra hours", "closure": "Clinic closed"}[
            self.value
        ]


@dataclass(frozen=True, slots=True)
class ScheduleException:
    """A change to the usual week on the days ``first_day``..``last_day`` (inclusive),
    all day when ``start``/``end`` are None, else between those local times each day.

    ``provider_id`` None means the whole clinic (closures).
    """

    id: uuid.UUID
    kind: ExceptionKind
    first_day: date
    last_day: date
    start: time | None = None
    end: time | None = None
    provider_id: uuid.UUID | None = None
    note: str = ""

    @property
    def all_day(self) -> bool:
        return self.start is None or self.end is None

    def covers(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day


@dataclass(frozen=True, slots=True)
class AppointmentTypeRules:
    """What the availability engine needs of an appointment type."""

    id: uuid.UUID
    duration: timedelta
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)
    provider_ids: frozenset[uuid.UUID] = frozenset()  # empty: every provider offers it
    bookable_online: bool = True
    requires_confirmation: bool = False

    def offered_by(self, provider_id: uuid.UUID) -> bool:
        return not self.provider_ids or provider_id in self.provider_ids


@dataclass(frozen=True, slots=True)
class BookingRules:
    """A clinic's online booking rules. Staff at the desk are exempt from the
    notice, horizon and cut-offs; the booking guarantee binds everyone."""

    horizon_days: int = 60  # how far ahead patients may book
    min_notice: timedelta = timedelta(hours=2)  # how soon the first bookable slot is
    slot_rounding: int = 15  # starts land on :00/:15/:30/:45 of the local clock
    allow_any_provider: bool = True  # patients may choose "no preference"
    daily_cap: int | None = None  # most appointments per provider per local day
    patient_cancel_cutoff: timedelta = timedelta(hours=24)
    patient_reschedule_cutoff: timedelta = timedelta(hours=24)
    patients_may_cancel: bool = True

    def __post_init__(self) -> None:
        if self.slot_rounding not in SLOT_ROUNDINGS:
            raise ValueError(f"slot rounding must be one of {SLOT_ROUNDINGS} minutes")
        if not 1 <= self.horizon_days <= 730:
            raise ValueError("the booking horizon must be between 1 and 730 days")
        if self.daily_cap is not None and self.daily_cap < 1:
            raise ValueError("a daily cap must be at least 1")


@dataclass(frozen=True, slots=True)
class ProviderSchedule:
    """One provider's usual week and the exceptions that touch them (their own and the
    clinic's closures)."""

    provider_id: uuid.UUID
    week: tuple[WorkingRange, ...] = ()
    exceptions: tuple[ScheduleException, ...] = field(default_factory=tuple)


# --- checks shared by the server (which enforces them) and the desk (which asks first) ---

MAX_DURATION_MINUTES = 12 * 60
MAX_BUFFER_MINUTES = 4 * 60
NAME_LENGTH = 120  # what the server keeps of a room's or appointment type's name


def check_name(value: str, what: str) -> str:
    """The name, trimmed, if it is one."""
    name = value.strip()
    if not name:
        raise InvalidInput(f"A {what} needs a name.")
    if len(name) > NAME_LENGTH:
        raise InvalidInput(f"A {what}'s name is at most {NAME_LENGTH} characters.")
    return name


def local_clock(value: time) -> time:
    """A local wall-clock time to the minute. An offset would make comparisons with
    naive times fail; seconds would be cut off when a week is stored (turning
    09:00–09:00:30 into an empty range)."""
    if value.tzinfo is not None:
        raise InvalidInput(f"{value:%H:%M} must be a local clock time, without a time zone.")
    if value.second or value.microsecond:
        raise InvalidInput(f"Times are whole minutes; {value.isoformat()} is not.")
    return value


def check_week(ranges: Sequence[WorkingRange]) -> None:
    """A usual week: ranges of one day must not overlap (a split shift is two ranges)."""
    by_day: dict[Weekday, list[WorkingRange]] = {}
    for item in ranges:
        by_day.setdefault(item.weekday, []).append(item)
    for day, items in by_day.items():
        items.sort(key=lambda r: r.start)
        for before, after in itertools.pairwise(items):
            if after.start < before.end:
                raise InvalidInput(
                    f"{day.label}: {before.start:%H:%M}–{before.end:%H:%M} and "
                    f"{after.start:%H:%M}–{after.end:%H:%M} overlap. Make them one range."
                )


def working_range(
    weekday: int, start: time, end: time, location_id: uuid.UUID | None = None
) -> WorkingRange:
    """A ``WorkingRange`` from loose values, with the reason in words if it is not one."""
    if not 0 <= weekday <= 6:
        raise InvalidInput("A weekday is a number from 0 (Monday) to 6 (Sunday).")
    try:
        return WorkingRange(Weekday(weekday), local_clock(start), local_clock(end), location_id)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def check_exception(
    kind: ExceptionKind,
    provider_id: uuid.UUID | None,
    first_day: date,
    last_day: date,
    start: time | None,
    end: time | None,
) -> None:
    if last_day < first_day:
        raise InvalidInput("The last day must not be before the first day.")
    if (last_day - first_day).days > 366:
        raise InvalidInput("An exception covers at most a year; add another for longer.")
    if (start is None) != (end is None):
        raise InvalidInput("Give both a start and an end time, or neither (all day).")
    for clock in (start, end):
        if clock is not None:
            local_clock(clock)
    if start is not None and end is not None and end <= start:
        raise InvalidInput("The end time must be after the start time.")
    if kind is ExceptionKind.CLOSURE and provider_id is not None:
        raise InvalidInput("A clinic closure applies to everyone; leave the provider empty.")
    if kind is not ExceptionKind.CLOSURE and provider_id is None:
        raise InvalidInput(f"{kind.label} needs a provider.")
    if kind is ExceptionKind.EXTRA_HOURS and start is None:
        raise InvalidInput("Extra hours need a start and an end time.")


def check_appointment_type(
    name: str, duration_minutes: int, buffer_before_minutes: int, buffer_after_minutes: int
) -> None:
    check_name(name, "appointment type")
    if not 5 <= duration_minutes <= MAX_DURATION_MINUTES:
        raise InvalidInput("An appointment lasts between 5 minutes and 12 hours.")
    for label, minutes in (("before", buffer_before_minutes), ("after", buffer_after_minutes)):
        if not 0 <= minutes <= MAX_BUFFER_MINUTES:
            raise InvalidInput(f"The buffer {label} is between 0 minutes and 4 hours.")


def booking_rules(
    *,
    horizon_days: int,
    min_notice_minutes: int,
    slot_rounding: int,
    allow_any_provider: bool,
    daily_cap: int | None,
    patient_cancel_cutoff_hours: int,
    patient_reschedule_cutoff_hours: int,
    patients_may_cancel: bool,
) -> BookingRules:
    """``BookingRules`` from stored or typed values, with the reason in words if not."""
    if min_notice_minutes > 60 * 24 * 60:
        raise InvalidInput("The minimum notice is at most 60 days.")
    for hours in (patient_cancel_cutoff_hours, patient_reschedule_cutoff_hours):
        if hours > 24 * 60:
            raise InvalidInput("A cut-off is at most 60 days (1440 hours).")
    try:
        return BookingRules(
            horizon_days=horizon_days,
            min_notice=timedelta(minutes=min_notice_minutes),
            slot_rounding=slot_rounding,
            allow_any_provider=allow_any_provider,
            daily_cap=daily_cap,
            patient_cancel_cutoff=timedelta(hours=patient_cancel_cutoff_hours),
            patient_reschedule_cutoff=timedelta(hours=patient_reschedule_cutoff_hours),
            patients_may_cancel=patients_may_cancel,
        )
    except ValueError as exc:
        raise InvalidInput(str(exc).capitalize() + ".") from None
