"""Admin settings: working hours, rooms, appointment types, exceptions, booking rules.

Each change is a versioned change of a synced row, so every desk of the clinic sees it at
its next pull, and a desk that edited offline sends its edits through the outbox like any
other change. The rules themselves live in ``common.scheduling``, where the desk checks
them before it queues anything.
"""

from __future__ import annotations

import uuid
from datetime import date, time, timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common import scheduling as rules
from common.errors import InvalidInput, NotFound, StaleVersion
from common.roles import Permission
from server import kit
from server.auth.context import AuthContext
from server.changefeed.versioning import changed_by_someone_else
from server.db import Synced, utcnow
from server.scheduling.models import (
    AppointmentType,
    BookingRules,
    Location,
    Provider,
    ScheduleException,
)
from sync.protocol import (
    SaveAppointmentType,
    SaveLocation,
    SaveScheduleException,
    SetBookingRules,
    WorkingHoursEntry,
)

S = TypeVar("S", bound=Synced)
# How PostgreSQL and SQLite name the one-booking-rules-row-per-clinic key when it is hit.
UNIQUE_RULES_KEY = ("uq_booking_rules_clinic", "booking_rules.clinic_id")


def _in_clinic(
    session: Session, ctx: AuthContext, model: type[S], record_id: uuid.UUID, what: str
) -> S | None:
    row = kit.find(session, model, ctx.clinic_id, record_id, lock=True, include_deleted=True)
    if row is not None and row.deleted_at is not None:
        raise NotFound(f"This {what} was removed.")
    return row


def _existing(
    session: Session,
    ctx: AuthContext,
    model: type[S],
    record_id: uuid.UUID,
    base_version: int | None,
    what: str,
) -> S | None:
    """The row to change (None: create it), if nobody else changed it since
    ``base_version``. Ids are chosen by the desk: an id held by a row the caller cannot
    see (another clinic's, or a removed one of its own) gets one answer whoever holds it,
    so an id tells nothing about other clinics."""
    row = _in_clinic(session, ctx, model, record_id, what)
    if row is None:
        if base_version is not None:
            raise kit.not_found(what)
        if session.get(model, record_id) is not None:
            raise InvalidInput(
                f"This {what}'s id cannot be used for a new {what}. Make the change again "
                "(it will get a new id)."
            )
        return None
    if base_version is None:
        raise InvalidInput(f"This {what} already exists.")
    return kit.unchanged(
        row, base_version, ctx.device_id, f"Someone else changed this {what} in the meantime."
    )


def set_working_hours(
    session: Session,
    ctx: AuthContext,
    *,
    provider_id: uuid.UUID,
    base_version: int,
    hours: list[WorkingHoursEntry],
) -> Provider:
    ctx.require(Permission.SETTINGS_MANAGE)
    week = [rules.working_range(h.weekday, h.start, h.end, h.location_id) for h in hours]
    rules.check_week(week)
    for location_id in {h.location_id for h in hours if h.location_id}:
        if _in_clinic(session, ctx, Location, location_id, "room") is None:
            raise kit.not_found("room")
    provider = _existing(session, ctx, Provider, provider_id, base_version, "provider")
    if provider is None:
        raise kit.not_found("provider")
    provider.working_hours = [
        {
            "weekday": r.weekday.value,
            "start": r.start.strftime("%H:%M"),
            "end": r.end.strftime("%H:%M"),
            "location_id": str(r.location_id) if r.location_id else None,
        }
        for r in sorted(week, key=lambda r: (r.weekday, r.start))
    ]
    provider.changed_by_device_id = ctx.device_id
    session.flush()
    return provider


def save_location(session: Session, ctx: AuthContext, command: SaveLocation) -> Location:
    ctx.require(Permission.SETTINGS_MANAGE)
    name = rules.check_name(command.name, "room")
    location = _existing(
        session, ctx, Location, command.location_id, command.base_version, "room"
    ) or Location(id=command.location_id, clinic_id=ctx.clinic_id)
    location.name = name
    location.active = command.active
    location.changed_by_device_id = ctx.device_id
    session.add(location)
    session.flush()
    return location


def save_appointment_type(
    session: Session, ctx: AuthContext, command: SaveAppointmentType
) -> AppointmentType:
    ctx.require(Permission.SETTINGS_MANAGE)
    rules.check_appointment_type(
        command.name,
        command.duration_minutes,
        command.buffer_before_minutes,
        command.buffer_after_minutes,
    )
    name = rules.check_name(command.name, "appointment type")
    wanted = set(command.provider_ids)
    if wanted:
        found = set(
            session.scalars(
                select(Provider.id).where(
                    Provider.clinic_id == ctx.clinic_id,
                    Provider.id.in_(wanted),
                    Provider.deleted_at.is_(None),
                )
            )
        )
        if found != wanted:
            raise NotFound("Some of the chosen providers are not in this clinic.")
    kind = _existing(
        session,
        ctx,
        AppointmentType,
        command.appointment_type_id,
        command.base_version,
        "appointment type",
    ) or AppointmentType(id=command.appointment_type_id, clinic_id=ctx.clinic_id)
    kind.name = name
    kind.colour = command.colour
    kind.duration_minutes = command.duration_minutes
    kind.buffer_before_minutes = command.buffer_before_minutes
    kind.buffer_after_minutes = command.buffer_after_minutes
    kind.provider_ids = sorted(str(p) for p in wanted)
    kind.bookable_online = command.bookable_online
    kind.requires_confirmation = command.requires_confirmation
    kind.active = command.active
    if command.video is not None:
        kind.video = command.video
    elif kind.video is None:
        kind.video = False  # a new type, from a desk that does not know of video
    kind.changed_by_device_id = ctx.device_id
    session.add(kind)
    session.flush()
    return kind


def save_schedule_exception(
    session: Session, ctx: AuthContext, command: SaveScheduleException
) -> ScheduleException:
    ctx.require(Permission.SETTINGS_MANAGE)
    start, end = command.start_time, command.end_time
    rules.check_exception(
        command.exception_kind, command.provider_id, command.first_day, command.last_day, start, end
    )
    if command.provider_id is not None and (
        _in_clinic(session, ctx, Provider, command.provider_id, "provider") is None
    ):
        raise kit.not_found("provider")
    row = _existing(
        session, ctx, ScheduleException, command.exception_id, command.base_version, "exception"
    ) or ScheduleException(id=command.exception_id, clinic_id=ctx.clinic_id)
    row.provider_id = command.provider_id
    row.kind = command.exception_kind
    row.first_day = command.first_day
    row.last_day = command.last_day
    row.start_time = start
    row.end_time = end
    row.note = command.note.strip()
    row.changed_by_device_id = ctx.device_id
    session.add(row)
    session.flush()
    return row


def remove_schedule_exception(
    session: Session, ctx: AuthContext, *, exception_id: uuid.UUID, base_version: int
) -> ScheduleException:
    """A tombstone, so the desks drop it too."""
    ctx.require(Permission.SETTINGS_MANAGE)
    row = _existing(session, ctx, ScheduleException, exception_id, base_version, "exception")
    if row is None:
        raise kit.not_found("exception")
    row.deleted_at = utcnow()
    row.changed_by_device_id = ctx.device_id
    session.flush()
    return row


def set_booking_rules(session: Session, ctx: AuthContext, command: SetBookingRules) -> BookingRules:
    ctx.require(Permission.SETTINGS_MANAGE)
    values = command.model_dump(exclude={"kind", "base_version"})
    rules.booking_rules(**values)  # refuses nonsense in words
    row = session.scalar(
        select(BookingRules).where(BookingRules.clinic_id == ctx.clinic_id).with_for_update()
    )
    stale = StaleVersion("Someone else changed the booking rules in the meantime.")
    if row is None:
        if command.base_version is not None:
            raise NotFound("This clinic has no booking rules to change; it uses the defaults.")
        row = BookingRules(clinic_id=ctx.clinic_id)
        session.add(row)
    elif command.base_version is None:
        # The desk knew only the defaults. Fine if the rules since set were its own
        # (several edits made offline, the first of which created the row).
        if ctx.device_id is None or row.changed_by_device_id != ctx.device_id:
            raise stale
    elif changed_by_someone_else(row, command.base_version, ctx.device_id):
        raise stale
    for name, value in values.items():
        setattr(row, name, value)
    row.changed_by_device_id = ctx.device_id
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        # Two desks set the first rules at the same moment (PostgreSQL: the row lock
        # above cannot lock a row that does not exist yet); the one-per-clinic key keeps
        # one, and the other is told, as for any change that came second.
        if not any(key in str(exc.orig) for key in UNIQUE_RULES_KEY):
            raise
        raise stale from None
    return row


# --- reading, for the availability engine ----------------------------------------------


def booking_rules_of(session: Session, clinic_id: uuid.UUID) -> rules.BookingRules:
    row = session.scalar(select(BookingRules).where(BookingRules.clinic_id == clinic_id))
    if row is None:
        return rules.BookingRules()
    return rules.booking_rules(
        horizon_days=row.horizon_days,
        min_notice_minutes=row.min_notice_minutes,
        slot_rounding=row.slot_rounding,
        allow_any_provider=row.allow_any_provider,
        daily_cap=row.daily_cap,
        patient_cancel_cutoff_hours=row.patient_cancel_cutoff_hours,
        patient_reschedule_cutoff_hours=row.patient_reschedule_cutoff_hours,
        patients_may_cancel=row.patients_may_cancel,
    )


def week_of(provider: Provider) -> tuple[rules.WorkingRange, ...]:
    return tuple(
        rules.WorkingRange(
            rules.Weekday(item["weekday"]),
            time.fromisoformat(item["start"]),
            time.fromisoformat(item["end"]),
            uuid.UUID(item["location_id"]) if item.get("location_id") else None,
        )
        for item in provider.working_hours or []
    )


def schedules_of(
    session: Session, clinic_id: uuid.UUID, first_day: date, last_day: date
) -> list[rules.ProviderSchedule]:
    """Every active provider's week and the exceptions touching ``first_day..last_day``."""
    providers = session.scalars(
        select(Provider)
        .where(Provider.clinic_id == clinic_id, Provider.deleted_at.is_(None), Provider.active)
        .order_by(Provider.display_name, Provider.id)
    ).all()
    exceptions = session.scalars(
        select(ScheduleException).where(
            ScheduleException.clinic_id == clinic_id,
            ScheduleException.deleted_at.is_(None),
            ScheduleException.first_day <= last_day,
            ScheduleException.last_day >= first_day,
        )
    ).all()
    as_rules = [
        rules.ScheduleException(
            id=e.id,
            kind=e.kind,
            first_day=e.first_day,
            last_day=e.last_day,
            start=e.start_time,
            end=e.end_time,
            provider_id=e.provider_id,
            note=e.note,
        )
        for e in exceptions
    ]
    return [
        rules.ProviderSchedule(
            provider_id=p.id,
            week=week_of(p),
            exceptions=tuple(e for e in as_rules if e.provider_id in (None, p.id)),
        )
        for p in providers
    ]


def type_rules(kind: AppointmentType) -> rules.AppointmentTypeRules:
    return rules.AppointmentTypeRules(
        id=kind.id,
        duration=timedelta(minutes=kind.duration_minutes),
        buffer_before=timedelta(minutes=kind.buffer_before_minutes),
        buffer_after=timedelta(minutes=kind.buffer_after_minutes),
        provider_ids=frozenset(uuid.UUID(p) for p in kind.provider_ids or []),
        bookable_online=kind.bookable_online,
        requires_confirmation=kind.requires_confirmation,
    )
