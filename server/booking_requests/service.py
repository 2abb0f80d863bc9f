"""Web booking requests: a patient asks for a time through the booking widget; staff
confirm (which books it, through the one write path that keeps the booking guarantee)
or reject it. A request must be for a time the availability engine offers patients, so
the web rules (notice, horizon, rounding, working hours, daily caps) bind it.

Also the body of a refused booking (``refusal``), shared with the staff booking
endpoints: the nearest free times, in words.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.appointments import LONGEST_APPOINTMENT, AppointmentSource, AppointmentStatus
from common.errors import Conflict, DomainError, InvalidInput, NotFound, SlotTaken
from common.roles import Permission
from common.scheduling import AppointmentTypeRules
from server import kit
from server.auth.context import AuthContext
from server.booking_requests.models import BookingRequest, BookingRequestStatus
from server.db import utcnow
from server.patients.models import Patient
from server.scheduling import service as scheduling
from server.scheduling.models import Appointment, AppointmentType, Provider
from server.scheduling.settings import booking_rules_of, type_rules
from sync.protocol import ErrorBody, Slot

NOTE_LENGTH = 500
# What a request without an appointment type is checked as (its own length, no buffers).
_NO_TYPE = uuid.UUID(int=0)


# --- refusals, in words a receptionist can act on -------------------------------------


def refusal(
    session: Session, clinic_id: uuid.UUID, error: DomainError, provider_id: uuid.UUID | None
) -> dict[str, Any]:
    """The JSON body of a refused booking: the shared ``{code, message}``, and for a taken
    slot also ``suggestions`` (the nearest free times, also named in the message)."""
    body: dict[str, Any] = ErrorBody(code=error.code, message=error.message).model_dump()
    if isinstance(error, SlotTaken) and provider_id is not None:
        slots = [
            Slot(provider_id=provider_id, starts_at=start, ends_at=end)
            for start, end in error.suggestions
        ]
        body["suggestions"] = [slot.model_dump(mode="json") for slot in slots]
        if slots:
            zone = scheduling.clinic_zone(session, clinic_id)
            times = [f"{s.starts_at.astimezone(zone):%a %d %b %H:%M}" for s in slots]
            body["message"] = f"{error.message} Nearest free times: {', '.join(times)}."
        else:
            body["message"] = f"{error.message} Choose another time."
    return body


# --- web booking requests --------------------------------------------------------------


def create_request(
    session: Session,
    clinic_id: uuid.UUID,
    *,
    patient_id: uuid.UUID,
    provider_id: uuid.UUID,
    starts_at: datetime,
    appointment_type_id: uuid.UUID | None = None,
    ends_at: datetime | None = None,
    note: str = "",
    now: datetime | None = None,
) -> BookingRequest:
    """A patient's request for a time (what the booking widget calls). Only a time the
    availability engine offers patients is accepted: the web rules bind it, and a
    refusal says which one in words."""
    now = now or utcnow()
    kit.require_live(session, Patient, clinic_id, patient_id, what="patient")
    provider = kit.live(session, Provider, clinic_id, provider_id, what="provider")
    if not provider.active:
        raise InvalidInput(f"{provider.display_name} is not taking bookings.")
    note = note.strip()
    if len(note) > NOTE_LENGTH:
        raise InvalidInput(f"A note is at most {NOTE_LENGTH} characters.")
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in note):
        raise InvalidInput("A note must not contain control characters.")
    if starts_at.tzinfo is None or (ends_at is not None and ends_at.tzinfo is None):
        raise InvalidInput("Times must include their UTC offset.")
    _check_timing(session, clinic_id, starts_at, now)
    kind, ends_at = _kind_and_end(
        session, clinic_id, provider, appointment_type_id, starts_at, ends_at
    )
    _check_offered(session, clinic_id, provider, kind, starts_at, now)
    request = BookingRequest(
        clinic_id=clinic_id,
        patient_id=patient_id,
        provider_id=provider_id,
        appointment_type_id=appointment_type_id,
        starts_at=starts_at,
        ends_at=ends_at,
        status=BookingRequestStatus.PENDING,
        note=note,
    )
    session.add(request)
    session.flush()
    return request


def _kind_and_end(
    session: Session,
    clinic_id: uuid.UUID,
    provider: Provider,
    appointment_type_id: uuid.UUID | None,
    starts_at: datetime,
    ends_at: datetime | None,
) -> tuple[AppointmentTypeRules, datetime]:
    if appointment_type_id is None:
        if ends_at is None:
            raise InvalidInput("Say when the appointment ends, or choose an appointment type.")
        if ends_at <= starts_at:
            raise InvalidInput("An appointment must end after it starts.")
        if ends_at - starts_at > LONGEST_APPOINTMENT:
            raise InvalidInput("An appointment cannot be longer than 12 hours.")
        return AppointmentTypeRules(id=_NO_TYPE, duration=ends_at - starts_at), ends_at
    kind = kit.live(
        session, AppointmentType, clinic_id, appointment_type_id, what="appointment type"
    )
    if not kind.active or not kind.bookable_online:
        raise InvalidInput(f"{kind.name} cannot be booked online. Call the clinic to book it.")
    rules = type_rules(kind)
    if not rules.offered_by(provider.id):
        raise InvalidInput(f"{provider.display_name} does not offer {kind.name}.")
    expected = starts_at + rules.duration
    if ends_at is not None and ends_at != expected:
        raise InvalidInput(
            f"{kind.name} takes {kind.duration_minutes} minutes; the requested end does not match."
        )
    return rules, expected


def _check_timing(
    session: Session, clinic_id: uuid.UUID, starts_at: datetime, now: datetime
) -> None:
    """Notice and horizon, checked first (and in UTC first: a start centuries ahead must
    not reach local-time or duration arithmetic)."""
    rules = booking_rules_of(session, clinic_id)
    if starts_at < now + rules.min_notice:
        raise InvalidInput(
            f"That is too soon to book online: the clinic needs {_hours(rules.min_notice)} "
            "notice. Choose a later time, or call the clinic."
        )
    zone = scheduling.clinic_zone(session, clinic_id)
    horizon = now.astimezone(zone).date() + timedelta(days=rules.horizon_days)
    if starts_at - now > timedelta(days=rules.horizon_days + 2) or (
        starts_at.astimezone(zone).date() > horizon
    ):
        raise InvalidInput(
            f"Online booking is open up to {rules.horizon_days} days ahead. Choose an earlier day."
        )


def _check_offered(
    session: Session,
    clinic_id: uuid.UUID,
    provider: Provider,
    kind: AppointmentTypeRules,
    starts_at: datetime,
    now: datetime,
) -> None:
    """Accept the time if patients are offered it; otherwise say which rule refuses it
    (after ``_check_timing``: notice and horizon are fine)."""
    rules = booking_rules_of(session, clinic_id)
    zone = scheduling.clinic_zone(session, clinic_id)
    day = starts_at.astimezone(zone).date()

    def offered(*, for_staff: bool = False, ignore_busy: bool = False) -> bool:
        slots = scheduling.offered_slots(
            session,
            clinic_id,
            kind,
            first_day=day,
            last_day=day,
            now=now,
            provider_id=provider.id,
            for_staff=for_staff,
            ignore_busy=ignore_busy,
        )
        return any(s.starts_at == starts_at for s in slots)

    if offered():
        return
    local = starts_at.astimezone(zone)
    if (local.hour * 60 + local.minute) % rules.slot_rounding or local.second or local.microsecond:
        raise InvalidInput(
            f"Appointments start every {rules.slot_rounding} minutes on the clinic's clock "
            f"(for example {local:%H}:00); choose one of the times offered."
        )
    if not offered(for_staff=True, ignore_busy=True):
        raise InvalidInput(
            f"{provider.display_name} is not working then. Choose one of the times offered."
        )
    if not offered(for_staff=True):
        raise SlotTaken(
            f"{provider.display_name} already has an appointment then. "
            "Choose another of the times offered."
        )
    raise SlotTaken(f"{provider.display_name} is fully booked online that day. Choose another day.")


def _hours(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes % 60:
        return f"{minutes} minutes'"
    hours = minutes // 60
    return "1 hour's" if hours == 1 else f"{hours} hours'"


def list_requests(
    session: Session, ctx: AuthContext, status: BookingRequestStatus, *, limit: int
) -> list[BookingRequest]:
    ctx.require(Permission.DIARY_READ)
    ctx.require(Permission.PATIENTS_READ)
    return list(
        session.scalars(
            select(BookingRequest)
            .where(BookingRequest.clinic_id == ctx.clinic_id, BookingRequest.status == status)
            .order_by(BookingRequest.starts_at, BookingRequest.id)
            .limit(limit)
        )
    )


def confirm(
    session: Session, ctx: AuthContext, request_id: uuid.UUID, *, now: datetime | None = None
) -> tuple[BookingRequest, Appointment]:
    """Book the requested time (confirmed, source "widget") and mark the request
    confirmed. A slot taken in the meantime is a 409 ``slot_taken`` and the request stays
    pending, so staff can offer the patient another time."""
    ctx.require(Permission.DIARY_BOOK)
    now = now or utcnow()
    request = _pending(session, ctx, request_id)
    if request.starts_at <= now:
        raise InvalidInput(
            "The requested time has passed. Reject the request and offer the patient another time."
        )
    appointment = scheduling.book(
        session,
        ctx,
        appointment_id=uuid.uuid4(),
        provider_id=request.provider_id,
        patient_id=request.patient_id,
        starts_at=request.starts_at,
        ends_at=request.ends_at,
        source=AppointmentSource.WIDGET,
        appointment_type_id=request.appointment_type_id,
        status=AppointmentStatus.CONFIRMED,
    )
    _decide(request, BookingRequestStatus.CONFIRMED, ctx.staff_id, now)
    request.appointment_id = appointment.id
    session.flush()
    return request, appointment


def reject(
    session: Session, ctx: AuthContext, request_id: uuid.UUID, *, now: datetime | None = None
) -> BookingRequest:
    ctx.require(Permission.DIARY_BOOK)
    request = _pending(session, ctx, request_id)
    _decide(request, BookingRequestStatus.REJECTED, ctx.staff_id, now or utcnow())
    session.flush()
    return request


def withdraw(
    session: Session,
    clinic_id: uuid.UUID,
    request_id: uuid.UUID,
    *,
    patient_id: uuid.UUID,
    now: datetime | None = None,
) -> BookingRequest:
    """The patient takes their request back (the widget and the portal, later)."""
    request = kit.find(session, BookingRequest, clinic_id, request_id, lock=True)
    if request is None or request.patient_id != patient_id:
        raise NotFound("There is no such booking request.")
    _still_pending(request)
    _decide(request, BookingRequestStatus.WITHDRAWN, None, now or utcnow())
    session.flush()
    return request


def _pending(session: Session, ctx: AuthContext, request_id: uuid.UUID) -> BookingRequest:
    """The request, locked (two staff deciding at once are answered one after the other)."""
    request = kit.live(
        session, BookingRequest, ctx.clinic_id, request_id, what="booking request", lock=True
    )
    _still_pending(request)
    return request


def _still_pending(request: BookingRequest) -> None:
    if request.status is not BookingRequestStatus.PENDING:
        raise Conflict(f"This booking request was already {request.status.value}.")


def _decide(
    request: BookingRequest,
    status: BookingRequestStatus,
    staff_id: uuid.UUID | None,
    now: datetime,
) -> None:
    request.status = status
    request.decided_by_staff_id = staff_id
    request.decided_at = now
