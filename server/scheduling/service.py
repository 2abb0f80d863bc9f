"""The diary's write path: book, move, cancel, check in, no-show.

Every entry point (a desk online or replayed from offline, and later the web side) comes
through here, one transaction per command. The booking guarantee: a provider never has
two active appointments that overlap. The provider's row is locked first, so two
bookings for one provider are checked one after the other (SQLite serialises every
write already; on PostgreSQL this is the ``FOR UPDATE``).
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common.appointments import (
    LONGEST_APPOINTMENT,
    MOVABLE,
    AppointmentSource,
    AppointmentStatus,
    CancelledBy,
    status_change_allowed,
)
from common.availability import OfferedSlot, available_slots, is_late_cancellation
from common.errors import InvalidInput, SlotTaken
from common.roles import Permission
from common.scheduling import MAX_BUFFER_MINUTES, AppointmentTypeRules
from common.slots import SEARCH_DAYS, Interval, nearest
from server import kit
from server.auth.context import AuthContext
from server.clinics.models import Clinic
from server.db import utcnow
from server.forms import service as forms
from server.patients.models import Patient
from server.scheduling.models import Appointment, AppointmentType, Location, Provider
from server.scheduling.settings import booking_rules_of, schedules_of, type_rules
from sync.protocol import FIRST_YEAR, LAST_YEAR

INACTIVE = (AppointmentStatus.CANCELLED,)


def book(
    session: Session,
    ctx: AuthContext,
    *,
    appointment_id: uuid.UUID,
    provider_id: uuid.UUID,
    patient_id: uuid.UUID,
    starts_at: datetime,
    ends_at: datetime,
    source: AppointmentSource,
    appointment_type_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    status: AppointmentStatus = AppointmentStatus.BOOKED,
) -> Appointment:
    """Book one appointment: the one write path of every entry point (desk, web request
    confirmed by staff, booking link, portal). Overlaps are refused under the provider's
    lock, and on PostgreSQL by the exclusion constraint as well."""
    ctx.require(Permission.DIARY_BOOK)
    _check_times(starts_at, ends_at)
    _check_id_unused(session, ctx, appointment_id)
    kit.require_live(session, Patient, ctx.clinic_id, patient_id, what="patient")
    _check_type_and_room(session, ctx, provider_id, appointment_type_id, location_id)
    _ensure_free(
        session, ctx, provider_id, (starts_at, ends_at), ignore=None, kind=appointment_type_id
    )
    appointment = Appointment(
        id=appointment_id,
        clinic_id=ctx.clinic_id,
        provider_id=provider_id,
        patient_id=patient_id,
        appointment_type_id=appointment_type_id,
        location_id=location_id,
        starts_at=starts_at,
        ends_at=ends_at,
        status=status,
        source=source,
        changed_by_device_id=ctx.device_id,
    )
    session.add(appointment)
    _flush_guarded(session, appointment)
    forms.booked(session, appointment, utcnow())
    return appointment


# What a desk is told when the id it chose for a new appointment is taken by a row it may
# not see: one of its clinic's removed appointments, or any appointment of another clinic.
# Both get these same words, so an id tells a caller nothing about other clinics.
ID_UNUSABLE = (
    "This appointment's id cannot be used for a new booking. Book the appointment again "
    "(it will get a new id)."
)


def _check_id_unused(session: Session, ctx: AuthContext, appointment_id: uuid.UUID) -> None:
    """Ids are chosen by the desk, so a new one may collide with an existing row. Only a
    live appointment of the caller's own clinic is named as such; every other holder of
    the id (a tombstone, another clinic's row) gets the one answer for an unusable id."""
    holder = session.execute(
        select(Appointment.clinic_id, Appointment.deleted_at).where(
            Appointment.id == appointment_id
        )
    ).one_or_none()
    if holder is None:
        return
    if holder.clinic_id == ctx.clinic_id and holder.deleted_at is None:
        raise InvalidInput("An appointment with this id already exists.")
    raise InvalidInput(ID_UNUSABLE)


def _check_type_and_room(
    session: Session,
    ctx: AuthContext,
    provider_id: uuid.UUID,
    appointment_type_id: uuid.UUID | None,
    location_id: uuid.UUID | None,
) -> None:
    if appointment_type_id is not None:
        kind = kit.live(
            session, AppointmentType, ctx.clinic_id, appointment_type_id, what="appointment type"
        )
        if kind.provider_ids and str(provider_id) not in kind.provider_ids:
            raise InvalidInput(f"This provider does not offer {kind.name}.")
    if location_id is not None:
        kit.require_live(session, Location, ctx.clinic_id, location_id, what="room")


def _flush_guarded(session: Session, appointment: Appointment) -> None:
    """Flush in a savepoint, turning the database's own overlap refusal (PostgreSQL's
    exclusion constraint, the backstop behind the provider lock) into a clear 409."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        if "ex_appointments_no_overlap" not in str(exc.orig):
            raise
        raise SlotTaken("The provider already has an appointment then.") from None


def move(
    session: Session,
    ctx: AuthContext,
    *,
    appointment_id: uuid.UUID,
    base_version: int,
    provider_id: uuid.UUID,
    starts_at: datetime,
    ends_at: datetime,
) -> Appointment:
    ctx.require(Permission.DIARY_BOOK)
    _check_times(starts_at, ends_at)
    appointment = _for_change(session, ctx, appointment_id, base_version)
    if appointment.status not in MOVABLE:
        raise InvalidInput(f"A {appointment.status.label.lower()} appointment cannot be moved.")
    _ensure_free(
        session,
        ctx,
        provider_id,
        (starts_at, ends_at),
        ignore=appointment.id,
        kind=appointment.appointment_type_id,
    )
    appointment.provider_id = provider_id
    appointment.starts_at = starts_at
    appointment.ends_at = ends_at
    appointment.changed_by_device_id = ctx.device_id
    _flush_guarded(session, appointment)
    return appointment


def set_status(
    session: Session,
    ctx: AuthContext,
    *,
    appointment_id: uuid.UUID,
    base_version: int,
    status: AppointmentStatus,
    cancelled_by: CancelledBy = CancelledBy.STAFF,
    now: datetime | None = None,
) -> Appointment:
    """Confirm, check in, start, complete, mark no-show or cancel, from the statuses that
    allow it and at a moment that fits (``common.appointments.status_change_allowed``).
    A cancellation records who called it off and whether it was late (inside the clinic's
    patient cancellation cut-off).

    ``now`` is when the change was made: a desk's change made offline counts at the time
    it was made there (never later than this server's clock), so a check-in made at
    10:00 and sent at 11:00 is still a 10:00 arrival. Arrival, start and finish are
    stamped with it, which is what the waiting room measures from."""
    ctx.require(Permission.DIARY_BOOK)
    server_now = utcnow()
    at = server_now if now is None else min(now, server_now)
    appointment = _for_change(session, ctx, appointment_id, base_version)
    verdict = status_change_allowed(
        appointment.status,
        status,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        zone=clinic_zone(session, ctx.clinic_id),
        now=at,
    )
    if not verdict.allowed:
        raise InvalidInput(verdict.reason)
    appointment.status = status
    if status is AppointmentStatus.ARRIVED:
        appointment.arrived_at = at
    elif status is AppointmentStatus.IN_PROGRESS:
        appointment.started_at = at
    elif status is AppointmentStatus.COMPLETED:
        appointment.finished_at = at
    elif status is AppointmentStatus.CANCELLED:
        appointment.cancelled_at = server_now
        appointment.cancelled_by = cancelled_by
        appointment.cancelled_late = is_late_cancellation(
            booking_rules_of(session, ctx.clinic_id), appointment.starts_at, server_now
        )
        forms.cancelled(session, appointment)
    appointment.changed_by_device_id = ctx.device_id
    session.flush()
    return appointment


def current(session: Session, ctx: AuthContext, appointment_id: uuid.UUID) -> Appointment | None:
    """The appointment as it stands, tombstone or not."""
    return kit.find(session, Appointment, ctx.clinic_id, appointment_id, include_deleted=True)


def _check_times(starts_at: datetime, ends_at: datetime) -> None:
    # Refused at the door already (``sync.protocol.Instant``); checked again here because
    # this is every entry point's one write path, and the ends of the calendar overflow
    # date arithmetic.
    if not all(FIRST_YEAR <= moment.year <= LAST_YEAR for moment in (starts_at, ends_at)):
        raise InvalidInput(f"An appointment must be between {FIRST_YEAR} and {LAST_YEAR}.")
    if ends_at <= starts_at:
        raise InvalidInput("An appointment must end after it starts.")
    if ends_at - starts_at > LONGEST_APPOINTMENT:
        raise InvalidInput("An appointment cannot be longer than 12 hours.")


def _for_change(
    session: Session, ctx: AuthContext, appointment_id: uuid.UUID, base_version: int
) -> Appointment:
    """The appointment, locked, if nobody else changed it since ``base_version``."""
    return kit.for_change(
        session,
        Appointment,
        ctx.clinic_id,
        appointment_id,
        base_version,
        ctx.device_id,
        what="appointment",
        stale="Someone else changed this appointment in the meantime.",
    )


def _ensure_free(
    session: Session,
    ctx: AuthContext,
    provider_id: uuid.UUID,
    wanted: Interval,
    ignore: uuid.UUID | None,
    kind: uuid.UUID | None,
) -> None:
    provider = kit.live(session, Provider, ctx.clinic_id, provider_id, what="provider", lock=True)
    around = timedelta(days=8)
    query = select(Appointment.starts_at, Appointment.ends_at).where(
        Appointment.clinic_id == ctx.clinic_id,
        Appointment.provider_id == provider_id,
        Appointment.status.not_in(INACTIVE),
        Appointment.deleted_at.is_(None),
        Appointment.starts_at < wanted[1] + around,
        Appointment.ends_at > wanted[0] - around,
    )
    if ignore is not None:
        query = query.where(Appointment.id != ignore)
    busy: list[Interval] = [(row.starts_at, row.ends_at) for row in session.execute(query)]
    if not any(start < wanted[1] and wanted[0] < end for start, end in busy):
        return
    suggestions = nearest_free(
        session, ctx.clinic_id, provider_id, wanted, ignore=ignore, kind=kind
    )
    raise SlotTaken(f"{provider.display_name} already has an appointment then.", suggestions)


def nearest_free(
    session: Session,
    clinic_id: uuid.UUID,
    provider_id: uuid.UUID,
    wanted: Interval,
    *,
    ignore: uuid.UUID | None = None,
    kind: uuid.UUID | None = None,
    count: int = 3,
) -> list[Interval]:
    """The free times nearest ``wanted`` with this provider, as staff may book them: from
    the availability engine over the provider's real week and exceptions, the clinic's
    rules (rounding) and time zone, the appointments around (less ``ignore``, the one
    being moved), for the same length and the type's buffers. Never outside working
    hours, never in the past; none at all for a provider with no hours set up."""
    zone = clinic_zone(session, clinic_id)
    day = wanted[0].astimezone(zone).date()
    first_day, last_day = day - timedelta(days=SEARCH_DAYS), day + timedelta(days=SEARCH_DAYS)
    margin = timedelta(days=2)  # covers any zone's offset and a day's DST shift
    busy = busy_intervals(
        session,
        clinic_id,
        datetime.combine(first_day, time(), zone) - margin,
        datetime.combine(last_day, time(), zone) + margin,
        provider_id=provider_id,
        ignore=ignore,
    )
    length = wanted[1] - wanted[0]
    found = kit.find(session, AppointmentType, clinic_id, kind) if kind is not None else None
    rules = AppointmentTypeRules(id=kind or uuid.uuid4(), duration=length)
    if found is not None:
        rules = dataclasses.replace(type_rules(found), duration=length, provider_ids=frozenset())
    offered = available_slots(
        schedules_of(session, clinic_id, first_day, last_day),
        busy,
        rules,
        booking_rules_of(session, clinic_id),
        zone=zone,
        now=utcnow(),
        first_day=first_day,
        last_day=last_day,
        provider_id=provider_id,
        for_staff=True,
    )
    return nearest(((s.starts_at, s.ends_at) for s in offered), wanted, count=count)


# --- free time, for the availability endpoint and web booking requests ----------------


def clinic_zone(session: Session, clinic_id: uuid.UUID) -> ZoneInfo:
    clinic = session.get(Clinic, clinic_id)
    assert clinic is not None  # every context and request names an existing clinic
    return ZoneInfo(clinic.time_zone)


def busy_intervals(
    session: Session,
    clinic_id: uuid.UUID,
    start: datetime,
    end: datetime,
    *,
    provider_id: uuid.UUID | None = None,
    ignore: uuid.UUID | None = None,
) -> dict[uuid.UUID, list[Interval]]:
    """Each provider's active appointments reaching into ``[start, end)``, widened by
    their own type's buffers: the room is being set up or cleaned then, so nothing else
    may go there (the requested type's own buffers are the availability engine's job)."""
    reach = timedelta(minutes=MAX_BUFFER_MINUTES)
    query = (
        select(
            Appointment.provider_id,
            Appointment.starts_at,
            Appointment.ends_at,
            AppointmentType.buffer_before_minutes,
            AppointmentType.buffer_after_minutes,
        )
        .outerjoin(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
        .where(
            Appointment.clinic_id == clinic_id,
            Appointment.status.not_in(INACTIVE),
            Appointment.deleted_at.is_(None),
            Appointment.starts_at < end + reach,
            Appointment.ends_at > start - reach,
        )
    )
    if provider_id is not None:
        query = query.where(Appointment.provider_id == provider_id)
    if ignore is not None:
        query = query.where(Appointment.id != ignore)
    busy: dict[uuid.UUID, list[Interval]] = {}
    for row in session.execute(query):
        before = timedelta(minutes=row.buffer_before_minutes or 0)
        after = timedelta(minutes=row.buffer_after_minutes or 0)
        busy.setdefault(row.provider_id, []).append((row.starts_at - before, row.ends_at + after))
    return busy


def offered_slots(
    session: Session,
    clinic_id: uuid.UUID,
    appointment_type: AppointmentTypeRules,
    *,
    first_day: date,
    last_day: date,
    now: datetime,
    provider_id: uuid.UUID | None = None,
    for_staff: bool = False,
    limit: int | None = None,
    ignore_busy: bool = False,
) -> list[OfferedSlot]:
    """The availability engine over this clinic's data: working weeks and exceptions,
    active appointments, booking rules and time zone. ``ignore_busy`` asks only whether
    the provider works then (to explain a refusal in the right words)."""
    zone = clinic_zone(session, clinic_id)
    margin = timedelta(days=2)  # covers any zone's offset and a day's DST shift
    busy: dict[uuid.UUID, list[Interval]] = {}
    if not ignore_busy:
        busy = busy_intervals(
            session,
            clinic_id,
            datetime.combine(first_day, time(), zone) - margin,
            datetime.combine(last_day, time(), zone) + margin,
            provider_id=provider_id,
        )
    return available_slots(
        schedules_of(session, clinic_id, first_day, last_day),
        busy,
        appointment_type,
        booking_rules_of(session, clinic_id),
        zone=zone,
        now=now,
        first_day=first_day,
        last_day=last_day,
        provider_id=provider_id,
        for_staff=for_staff,
        limit=limit,
    )
