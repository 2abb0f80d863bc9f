"""Reading the clinic's scheduling data from the desk's copy: providers' weeks, rooms,
appointment types, exceptions and booking rules, for the diary, the free-slot finder and
the admin settings. All of it is in the local store, so all of it works offline.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.sql import ColumnElement

from common.appointments import AppointmentStatus
from common.availability import Interval
from common.scheduling import (
    AppointmentTypeRules,
    BookingRules,
    ExceptionKind,
    ProviderSchedule,
    ScheduleException,
    Weekday,
    WorkingRange,
    booking_rules,
    check_appointment_type,
    check_exception,
    check_name,
    check_week,
    working_range,
)
from sync.protocol import (
    RemoveScheduleException,
    SaveAppointmentType,
    SaveLocation,
    SaveScheduleException,
    SetBookingRules,
    SettingsCommand,
    SetWorkingHours,
)
from sync.records import epoch_seconds, instant
from sync.schema import (
    appointment_types,
    appointments,
    locations,
    patients,
    providers,
    schedule_exceptions,
)
from sync.schema import (
    booking_rules as booking_rules_table,
)


@dataclass(frozen=True, slots=True)
class ProviderWeek:
    id: uuid.UUID
    version: int
    display_name: str
    colour: str
    week: tuple[WorkingRange, ...]
    pending: bool = False


@dataclass(frozen=True, slots=True)
class LocationRow:
    id: uuid.UUID
    version: int
    name: str
    active: bool
    pending: bool = False


@dataclass(frozen=True, slots=True)
class AppointmentTypeRow:
    id: uuid.UUID
    version: int
    name: str
    colour: str
    duration_minutes: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    provider_ids: frozenset[uuid.UUID]
    bookable_online: bool
    requires_confirmation: bool
    active: bool
    pending: bool = False
    video: bool = False

    @property
    def rules(self) -> AppointmentTypeRules:
        return AppointmentTypeRules(
            id=self.id,
            duration=timedelta(minutes=self.duration_minutes),
            buffer_before=timedelta(minutes=self.buffer_before_minutes),
            buffer_after=timedelta(minutes=self.buffer_after_minutes),
            provider_ids=self.provider_ids,
            bookable_online=self.bookable_online,
            requires_confirmation=self.requires_confirmation,
        )


@dataclass(frozen=True, slots=True)
class ExceptionRow:
    exception: ScheduleException
    version: int
    pending: bool = False


@dataclass(frozen=True, slots=True)
class ClinicSchedule:
    """Everything scheduling the desk knows of its clinic."""

    providers: list[ProviderWeek]
    locations: list[LocationRow]
    appointment_types: list[AppointmentTypeRow]
    exceptions: list[ExceptionRow]
    rules: BookingRules
    rules_version: int | None  # None: the clinic runs on the defaults
    rules_pending: bool = False  # changed here, not yet acknowledged by the server

    def schedules(self) -> list[ProviderSchedule]:
        """Each provider's week with its own and the clinic's exceptions."""
        return [
            ProviderSchedule(
                provider_id=p.id,
                week=p.week,
                exceptions=tuple(
                    row.exception
                    for row in self.exceptions
                    if row.exception.provider_id in (None, p.id)
                ),
            )
            for p in self.providers
        ]


@dataclass(frozen=True, slots=True)
class PatientMatch:
    id: uuid.UUID
    first_name: str
    last_name: str
    date_of_birth: date | None
    phone: str | None
    email: str | None = None
    # The staff alerts on the file ("Latex allergy"): staff booking should see them.
    alerts: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


def week_from_json(text: str) -> tuple[WorkingRange, ...]:
    return tuple(
        WorkingRange(
            Weekday(item["weekday"]),
            time.fromisoformat(item["start"]),
            time.fromisoformat(item["end"]),
            uuid.UUID(item["location_id"]) if item.get("location_id") else None,
        )
        for item in json.loads(text or "[]")
    )


def _clock(text: str | None) -> time | None:
    return time.fromisoformat(text) if text else None


def read_schedule(conn: Connection) -> ClinicSchedule:
    provider_rows = [
        ProviderWeek(
            uuid.UUID(r.id),
            r.version,
            r.display_name,
            r.colour,
            week_from_json(r.working_hours),
            bool(r.pending),
        )
        for r in conn.execute(
            select(providers).where(providers.c.active == 1).order_by(providers.c.display_name)
        )
    ]
    location_rows = [
        LocationRow(uuid.UUID(r.id), r.version, r.name, bool(r.active), bool(r.pending))
        for r in conn.execute(select(locations).order_by(locations.c.name))
    ]
    type_rows = [
        AppointmentTypeRow(
            id=uuid.UUID(r.id),
            version=r.version,
            name=r.name,
            colour=r.colour,
            duration_minutes=r.duration_minutes,
            buffer_before_minutes=r.buffer_before_minutes,
            buffer_after_minutes=r.buffer_after_minutes,
            provider_ids=frozenset(uuid.UUID(p) for p in json.loads(r.provider_ids)),
            bookable_online=bool(r.bookable_online),
            requires_confirmation=bool(r.requires_confirmation),
            active=bool(r.active),
            pending=bool(r.pending),
            video=bool(r.video),
        )
        for r in conn.execute(select(appointment_types).order_by(appointment_types.c.name))
    ]
    exception_rows = [
        ExceptionRow(
            ScheduleException(
                id=uuid.UUID(r.id),
                kind=ExceptionKind(r.kind),
                first_day=date.fromisoformat(r.first_day),
                last_day=date.fromisoformat(r.last_day),
                start=_clock(r.start_time),
                end=_clock(r.end_time),
                provider_id=uuid.UUID(r.provider_id) if r.provider_id else None,
                note=r.note,
            ),
            r.version,
            bool(r.pending),
        )
        for r in conn.execute(select(schedule_exceptions).order_by(schedule_exceptions.c.first_day))
    ]
    found = conn.execute(select(booking_rules_table)).first()
    rules = BookingRules()
    if found is not None:
        rules = booking_rules(
            horizon_days=found.horizon_days,
            min_notice_minutes=found.min_notice_minutes,
            slot_rounding=found.slot_rounding,
            allow_any_provider=bool(found.allow_any_provider),
            daily_cap=found.daily_cap,
            patient_cancel_cutoff_hours=found.patient_cancel_cutoff_hours,
            patient_reschedule_cutoff_hours=found.patient_reschedule_cutoff_hours,
            patients_may_cancel=bool(found.patients_may_cancel),
        )
    return ClinicSchedule(
        providers=provider_rows,
        locations=location_rows,
        appointment_types=type_rows,
        exceptions=exception_rows,
        rules=rules,
        rules_version=found.version if found is not None else None,
        rules_pending=bool(found.pending) if found is not None else False,
    )


def check_setting(command: SettingsCommand) -> None:
    """Refuse, in words, a setting the server would refuse for what it says (not for who
    sends it or what changed meanwhile): the desk asks first, so nothing nonsensical is
    queued, shown as if it were so, or left waiting to be turned down."""
    match command:
        case SetWorkingHours():
            check_week(
                [working_range(h.weekday, h.start, h.end, h.location_id) for h in command.hours]
            )
        case SaveLocation():
            check_name(command.name, "room")
        case SaveAppointmentType():
            check_appointment_type(
                command.name,
                command.duration_minutes,
                command.buffer_before_minutes,
                command.buffer_after_minutes,
            )
        case SaveScheduleException():
            check_exception(
                command.exception_kind,
                command.provider_id,
                command.first_day,
                command.last_day,
                command.start_time,
                command.end_time,
            )
        case SetBookingRules():
            booking_rules(**command.model_dump(exclude={"kind", "base_version"}))
        case RemoveScheduleException():
            pass


def changes_nothing(schedule: ClinicSchedule, command: SettingsCommand) -> bool:
    """True when ``command`` would leave the setting exactly as this desk has it: a form
    opened and saved untouched. Queuing it would still bump the record's version on the
    server, and every other desk's pending edit of it would then be "changed meanwhile"."""
    match command:
        case SetWorkingHours():
            provider = next((p for p in schedule.providers if p.id == command.provider_id), None)
            typed = sorted((h.weekday, h.start, h.end, h.location_id) for h in command.hours)
            return provider is not None and typed == sorted(
                (r.weekday.value, r.start, r.end, r.location_id) for r in provider.week
            )
        case SaveLocation():
            room = next((r for r in schedule.locations if r.id == command.location_id), None)
            return room is not None and (room.name, room.active) == (command.name, command.active)
        case SaveAppointmentType():
            kind = next(
                (t for t in schedule.appointment_types if t.id == command.appointment_type_id),
                None,
            )
            return kind is not None and (
                kind.name,
                kind.colour.lower(),
                kind.duration_minutes,
                kind.buffer_before_minutes,
                kind.buffer_after_minutes,
                kind.provider_ids,
                kind.bookable_online,
                kind.requires_confirmation,
                kind.active,
                kind.video,
            ) == (
                command.name,
                command.colour.lower(),
                command.duration_minutes,
                command.buffer_before_minutes,
                command.buffer_after_minutes,
                frozenset(command.provider_ids),
                command.bookable_online,
                command.requires_confirmation,
                command.active,
                kind.video if command.video is None else command.video,
            )
        case SaveScheduleException():
            row = next(
                (e for e in schedule.exceptions if e.exception.id == command.exception_id), None
            )
            if row is None:
                return False
            item = row.exception
            return (
                item.kind,
                item.provider_id,
                item.first_day,
                item.last_day,
                None if item.all_day else item.start,
                None if item.all_day else item.end,
                item.note,
            ) == (
                command.exception_kind,
                command.provider_id,
                command.first_day,
                command.last_day,
                command.start_time,
                command.end_time,
                command.note,
            )
        case SetBookingRules():
            # The clinic on the standard rules, saved as they are, is a change of nothing too.
            return schedule.rules == booking_rules(
                **command.model_dump(exclude={"kind", "base_version"})
            )
        case RemoveScheduleException():
            return False


def busy_between(
    conn: Connection, start: datetime, end: datetime
) -> dict[uuid.UUID, list[Interval]]:
    """Each provider's active appointments overlapping ``[start, end)``, pending changes
    included: the free-slot finder must not offer a time just booked here offline."""
    rows = conn.execute(
        select(appointments.c.provider_id, appointments.c.starts_at, appointments.c.ends_at).where(
            appointments.c.status != AppointmentStatus.CANCELLED.value,
            appointments.c.starts_at < epoch_seconds(end),
            appointments.c.ends_at > epoch_seconds(start),
        )
    )
    busy: dict[uuid.UUID, list[Interval]] = {}
    for r in rows:
        busy.setdefault(uuid.UUID(r.provider_id), []).append(
            (instant(r.starts_at), instant(r.ends_at))
        )
    return busy


def search_patients(conn: Connection, text: str, limit: int = 20) -> list[PatientMatch]:
    """Patients whose name, phone, e-mail or date of birth matches what was typed.

    Every word must match a first or last name (prefix, any case); digits match a phone
    number or, as ``1980-05-17`` / ``17/05/1980``, a date of birth; a word with ``@``
    the start of an e-mail address. A phone matches however it was typed or stored
    (``07700 900123`` finds ``+447700900123``): leading zeros and the country code are
    not compared.
    """
    words = text.strip().split()
    if not words:
        return []
    query = select(
        patients.c.id,
        patients.c.first_name,
        patients.c.last_name,
        patients.c.date_of_birth,
        patients.c.phone,
        patients.c.email,
        patients.c.alerts,
    )
    for word in words:
        born = _as_date(word)
        if born is not None:
            query = query.where(patients.c.date_of_birth == born.isoformat())
        elif "@" in word:
            query = query.where(
                patients.c.email.is_not(None),
                func.lower(patients.c.email).startswith(word.lower(), autoescape=True),
            )
        elif any(ch.isdigit() for ch in word):
            digits = "".join(ch for ch in word if ch.isdigit())
            digits = digits.lstrip("0") or digits  # a national prefix: "07700" is "+447700"
            query = query.where(
                patients.c.phone.is_not(None),
                _digits_of(patients.c.phone).contains(digits, autoescape=True),
            )
        else:
            query = query.where(
                patients.c.first_name.istartswith(word, autoescape=True)
                | patients.c.last_name.istartswith(word, autoescape=True)
            )
    query = query.order_by(patients.c.last_name, patients.c.first_name).limit(limit)
    return [
        PatientMatch(
            uuid.UUID(r.id),
            r.first_name,
            r.last_name,
            date.fromisoformat(r.date_of_birth) if r.date_of_birth else None,
            r.phone,
            r.email,
            tuple(json.loads(r.alerts or "[]")),
        )
        for r in conn.execute(query)
    ]


def _digits_of(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """The phone column without spaces, dashes, brackets or plus, in SQL."""
    stripped = column
    for ch in " -()+":
        stripped = func.replace(stripped, ch, "")
    return stripped


def _as_date(word: str) -> date | None:
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y"):
        try:
            return datetime.strptime(word, pattern).date()
        except ValueError:
            continue
    return None
