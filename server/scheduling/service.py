"""The diary's write path: book, move, cancel, check in, no-show.

Every entry point (a desk online or replayed from offline, and later the web side) comes
through here, one transaction per command. The booking guarantee: a provider never has
two active appointments that overlap. The provider's row is locked first, so two
bookings for one provider are checked one after the other (SQLite serialises every
write already; on PostgreSQL this is the ``FOR UPDATE``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.appointments import LONGEST_APPOINTMENT, AppointmentSource, AppointmentStatus
from common.errors import InvalidInput, NotFound, SlotTaken, StaleVersion
from common.roles import Permission
from common.slots import Interval, nearest_free_slots
from server.auth.context import AuthContext
from server.changefeed.versioning import changed_by_someone_else
from server.clinics.models import Clinic
from server.db import utcnow
from server.patients import repository as patients
from server.scheduling.models import Appointment, Provider

INACTIVE = (AppointmentStatus.CANCELLED,)
# Which statuses each status change may start from.
ALLOWED_FROM: dict[AppointmentStatus, tuple[AppointmentStatus, ...]] = {
    AppointmentStatus.ARRIVED: (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED),
    AppointmentStatus.NO_SHOW: (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED),
    AppointmentStatus.CANCELLED: (
        AppointmentStatus.BOOKED,
        AppointmentStatus.CONFIRMED,
        AppointmentStatus.ARRIVED,
    ),
}
MOVABLE = (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED)


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
) -> Appointment:
    ctx.require(Permission.DIARY_BOOK)
    _check_times(starts_at, ends_at)
    existing = session.get(Appointment, appointment_id)
    if existing is not None:
        raise InvalidInput("An appointment with this id already exists.")
    if patients.in_clinic(session, ctx.clinic_id, patient_id) is None:
        raise NotFound("There is no such patient in this clinic.")
    _ensure_free(session, ctx, provider_id, (starts_at, ends_at), ignore=None)
    appointment = Appointment(
        id=appointment_id,
        clinic_id=ctx.clinic_id,
        provider_id=provider_id,
        patient_id=patient_id,
        starts_at=starts_at,
        ends_at=ends_at,
        status=AppointmentStatus.BOOKED,
        source=source,
        changed_by_device_id=ctx.device_id,
    )
    session.add(appointment)
    session.flush()
    return appointment


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
    _ensure_free(session, ctx, provider_id, (starts_at, ends_at), ignore=appointment.id)
    appointment.provider_id = provider_id
    appointment.starts_at = starts_at
    appointment.ends_at = ends_at
    appointment.changed_by_device_id = ctx.device_id
    session.flush()
    return appointment


def set_status(
    session: Session,
    ctx: AuthContext,
    *,
    appointment_id: uuid.UUID,
    base_version: int,
    status: AppointmentStatus,
) -> Appointment:
    """Check in, mark no-show or cancel, from the statuses that allow it."""
    ctx.require(Permission.DIARY_BOOK)
    appointment = _for_change(session, ctx, appointment_id, base_version)
    allowed = ALLOWED_FROM.get(status, ())
    if appointment.status not in allowed:
        raise InvalidInput(
            f"A {appointment.status.label.lower()} appointment cannot be marked "
            f"{status.label.lower()}."
        )
    appointment.status = status
    appointment.changed_by_device_id = ctx.device_id
    session.flush()
    return appointment


def current(session: Session, ctx: AuthContext, appointment_id: uuid.UUID) -> Appointment | None:
    return session.scalar(
        select(Appointment).where(
            Appointment.id == appointment_id, Appointment.clinic_id == ctx.clinic_id
        )
    )


def _check_times(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise InvalidInput("An appointment must end after it starts.")
    if ends_at - starts_at > LONGEST_APPOINTMENT:
        raise InvalidInput("An appointment cannot be longer than 12 hours.")


def _for_change(
    session: Session, ctx: AuthContext, appointment_id: uuid.UUID, base_version: int
) -> Appointment:
    """The appointment, locked, if nobody else changed it since ``base_version``."""
    appointment = session.scalar(
        select(Appointment)
        .where(
            Appointment.id == appointment_id,
            Appointment.clinic_id == ctx.clinic_id,
            Appointment.deleted_at.is_(None),
        )
        .with_for_update()
    )
    if appointment is None:
        raise NotFound("There is no such appointment in this clinic.")
    if changed_by_someone_else(appointment, base_version, ctx.device_id):
        raise StaleVersion("Someone else changed this appointment in the meantime.")
    return appointment


def _ensure_free(
    session: Session,
    ctx: AuthContext,
    provider_id: uuid.UUID,
    wanted: Interval,
    ignore: uuid.UUID | None,
) -> None:
    provider = session.scalar(
        select(Provider)
        .where(
            Provider.id == provider_id,
            Provider.clinic_id == ctx.clinic_id,
            Provider.deleted_at.is_(None),
        )
        .with_for_update()
    )
    if provider is None:
        raise NotFound("There is no such provider in this clinic.")
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
    clinic = session.get(Clinic, ctx.clinic_id)
    assert clinic is not None
    suggestions = nearest_free_slots(busy, wanted, now=utcnow(), zone=ZoneInfo(clinic.time_zone))
    raise SlotTaken(f"{provider.display_name} already has an appointment then.", suggestions)
