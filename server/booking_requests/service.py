"""Web booking requests: a patient asks for a time through the booking widget; staff
confirm (which books it, through the one write path that keeps the booking guarantee)
or reject it. A request must be for a time the availability engine offers patients, so
the web rules (notice, horizon, rounding, working hours, daily caps) bind it.

Also the body of a refused booking (``refusal``), shared with the staff booking
endpoints: the nearest free times, in words.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from common.appointments import LONGEST_APPOINTMENT, AppointmentSource, AppointmentStatus
from common.booking_requests import NOTE_LENGTH, Applicant, check_reason, clean_applicant
from common.errors import Conflict, DomainError, InvalidInput, NotFound, SlotTaken
from common.message_templates import AppointmentFacts
from common.patients import duplicates
from common.roles import Permission
from common.scheduling import AppointmentTypeRules
from server import kit
from server.audit import service as audit
from server.auth.context import AuthContext
from server.booking_requests.models import BookingRequest, BookingRequestStatus
from server.changefeed import live
from server.clinics.models import Clinic
from server.crypto import e164_form, phone_index
from server.db import utcnow
from server.forms import onboarding
from server.messaging import automated
from server.patients import service as patients
from server.patients.models import Patient
from server.scheduling import service as scheduling
from server.scheduling.models import Appointment, AppointmentType, Provider
from server.scheduling.settings import booking_rules_of, type_rules
from server.staff.models import StaffUser
from sync.protocol import ErrorBody, PatientFields, PatientMatch, RegisterPatient, Slot

__all__ = ["NOTE_LENGTH"]
# What a request without an appointment type is checked as (its own length, no buffers).
_NO_TYPE = uuid.UUID(int=0)
# Where free times are looked for when a request's time was taken: days either side.
SEARCH_BACK_DAYS, SEARCH_AHEAD_DAYS = 3, 14
AUDIT_REASON_LENGTH = 200  # ``AuditEvent.reason``
MATCHES_LIMIT = 50  # patients a request's applicant is compared with


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
    provider_id: uuid.UUID,
    starts_at: datetime,
    applicant: Applicant | None = None,
    patient_id: uuid.UUID | None = None,
    appointment_type_id: uuid.UUID | None = None,
    ends_at: datetime | None = None,
    note: str = "",
    ip_hash: str | None = None,
    form_key: str | None = None,
    now: datetime | None = None,
) -> BookingRequest:
    """A request for a time: from the booking widget, by an ``applicant`` who may not be
    a patient yet (staff match or register them on confirming), or for a known
    ``patient_id``. Only a time the availability engine offers patients is accepted: the
    web rules bind it, and a refusal says which one in words.

    ``form_key``: the widget form's own key; the same form sent again is the request
    already made (returned as it is, nothing checked or written again)."""
    now = now or utcnow()
    if (applicant is None) == (patient_id is None):
        raise InvalidInput("A booking request is for a patient or from an applicant.")
    if form_key is not None:
        made = session.scalar(
            select(BookingRequest).where(
                BookingRequest.clinic_id == clinic_id, BookingRequest.form_key == form_key
            )
        )
        if made is not None:
            return made
    if patient_id is not None:
        kit.require_live(session, Patient, clinic_id, patient_id, what="patient")
    if applicant is not None:
        applicant = clean_applicant(applicant, **_country_today(session, clinic_id, now))
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
        ip_hash=ip_hash,
        form_key=form_key,
    )
    if applicant is not None:
        request.first_name = applicant.first_name
        request.last_name = applicant.last_name
        request.date_of_birth = applicant.date_of_birth
        request.phone = applicant.phone
        request.email = applicant.email
        request.insurance = applicant.insurance
    session.add(request)
    session.flush()
    live.note_changed(session, clinic_id)  # connected desks list it within moments
    return request


def _country_today(session: Session, clinic_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    """The clinic's country (phones are read in it) and the latest "today" on earth (a
    birth today is allowed wherever the clinic is)."""
    clinic = session.get(Clinic, clinic_id)
    if clinic is None:
        raise NotFound("There is no such clinic.")
    today = max(now.astimezone(ZoneInfo(clinic.time_zone)).date(), now.astimezone(UTC).date())
    return {"country": clinic.country, "today": today}


def applicant_of(request: BookingRequest) -> Applicant:
    return Applicant(
        first_name=request.first_name,
        last_name=request.last_name,
        date_of_birth=request.date_of_birth,
        phone=request.phone,
        email=request.email,
        insurance=request.insurance,
    )


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


def check_timing(
    session: Session, clinic_id: uuid.UUID, starts_at: datetime, now: datetime
) -> None:
    """Refuse, in words, a start too soon or too far ahead to book online."""
    _check_timing(session, clinic_id, starts_at, now)


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


def pending_mark(session: Session, clinic_id: uuid.UUID) -> tuple[int, object]:
    """What changes whenever the clinic's pending requests do: a new one has the latest
    ``modified_at`` and a decided one leaves the count (read on the pending index, for
    the event stream, which asks every few seconds)."""
    count, latest = session.execute(
        select(func.count(), func.max(BookingRequest.modified_at)).where(
            BookingRequest.clinic_id == clinic_id,
            BookingRequest.status == BookingRequestStatus.PENDING,
        )
    ).one()
    return int(count), latest


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
    session: Session,
    ctx: AuthContext,
    request_id: uuid.UUID,
    *,
    starts_at: datetime | None = None,
    provider_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    new_patient: PatientFields | None = None,
    now: datetime | None = None,
    public_base_url: str | None = None,
) -> tuple[BookingRequest, Appointment]:
    """Book the requested time (confirmed, source "widget") and mark the request
    confirmed. A slot taken in the meantime is a 409 ``slot_taken`` and the request stays
    pending, so staff can offer the patient another time.

    ``starts_at`` (and perhaps ``provider_id``) books another time instead, for the
    request's length: one the provider works (staff are exempt from the web rules, as
    when they book at the desk), still through ``scheduling.book`` and its guarantee.

    A request from someone not yet linked to a patient needs one: ``patient_id`` (an
    existing patient staff matched) or ``new_patient`` (registered here, in the same
    transaction, so a refused booking registers nobody).
    """
    ctx.require(Permission.DIARY_BOOK)
    now = now or utcnow()
    request = _pending(session, ctx, request_id)
    _link_patient(session, ctx, request, patient_id, new_patient)
    assert request.patient_id is not None
    chosen = provider_id or request.provider_id
    if starts_at is None:
        if request.starts_at <= now:
            raise InvalidInput(
                "The requested time has passed. Confirm it at another time, or reject the "
                "request and tell the patient why."
            )
        start = request.starts_at
    else:
        if starts_at.tzinfo is None:
            raise InvalidInput("Times must include their UTC offset.")
        if starts_at <= now:
            raise InvalidInput("That time has passed. Choose a later one.")
        start = starts_at
        _check_works_then(session, ctx.clinic_id, request, chosen, start, now)
    appointment = scheduling.book(
        session,
        ctx,
        appointment_id=uuid.uuid4(),
        provider_id=chosen,
        patient_id=request.patient_id,
        starts_at=start,
        ends_at=start + (request.ends_at - request.starts_at),
        source=AppointmentSource.WIDGET,
        appointment_type_id=request.appointment_type_id,
        status=AppointmentStatus.CONFIRMED,
    )
    _decide(session, request, BookingRequestStatus.CONFIRMED, ctx.staff_id, now)
    request.appointment_id = appointment.id
    as_asked = start == request.starts_at and chosen == request.provider_id
    moved = "" if as_asked else " at another time"
    audit.record(
        session,
        ctx,
        action="confirm",
        entity="booking_requests",
        entity_id=request.id,
        reason=f"booking request confirmed{moved}",
    )
    session.flush()
    automated.request_decided(
        session, ctx.clinic_id, request.patient_id, appointment=appointment, staff_id=ctx.staff_id
    )
    if public_base_url is not None:
        # A first booking from the web: the patient's portal account, and an e-mail
        # with their forms (if the clinic sends any) and their video room.
        onboarding.welcome(
            session,
            ctx,
            appointment,
            scheduling.clinic_zone(session, ctx.clinic_id),
            now=now,
            public_base_url=public_base_url,
        )
    return request, appointment


def _link_patient(
    session: Session,
    ctx: AuthContext,
    request: BookingRequest,
    patient_id: uuid.UUID | None,
    new_patient: PatientFields | None,
) -> None:
    if patient_id is not None and new_patient is not None:
        raise InvalidInput("Choose an existing patient or a new one, not both.")
    if request.patient_id is not None:
        if new_patient is not None or (patient_id is not None and patient_id != request.patient_id):
            raise InvalidInput("This request is already for a patient on file.")
        return
    if patient_id is not None:
        kit.require_live(session, Patient, ctx.clinic_id, patient_id, what="patient")
        request.patient_id = patient_id
    elif new_patient is not None:
        command = RegisterPatient(patient_id=uuid.uuid4(), **new_patient.model_dump())
        request.patient_id = patients.register(session, ctx, command).id
    else:
        raise InvalidInput(
            f"{request.first_name} {request.last_name} is not linked to a patient yet: choose "
            "the patient on file who asked, or register them as a new patient."
        )


def matches(session: Session, ctx: AuthContext, request_id: uuid.UUID) -> list[PatientMatch]:
    """Patients on file who may be the applicant (same name and birth date, same phone,
    same e-mail), for staff to choose from before confirming. A warning to weigh, never a
    rule: twins share a phone, families an e-mail."""
    ctx.require(Permission.PATIENTS_READ)
    request = kit.live(session, BookingRequest, ctx.clinic_id, request_id, what="booking request")
    applicant = applicant_of(request)
    wanted = [
        and_(
            func.lower(Patient.first_name) == applicant.first_name.casefold(),
            func.lower(Patient.last_name) == applicant.last_name.casefold(),
        )
    ]
    number = e164_form(applicant.phone)
    if number is not None:
        wanted.append(Patient.phone_index == phone_index(number))
    if applicant.email:
        wanted.append(func.lower(Patient.email) == applicant.email.casefold())
    on_file = list(
        session.scalars(
            select(Patient)
            .where(Patient.clinic_id == ctx.clinic_id, Patient.deleted_at.is_(None), or_(*wanted))
            .order_by(Patient.last_name, Patient.first_name, Patient.id)
            .limit(MATCHES_LIMIT)
        )
    )
    country = _country_today(session, ctx.clinic_id, utcnow())["country"]
    found = duplicates(applicant.details(), on_file, country=country)
    by_id = {p.id: p for p in on_file}
    return [
        PatientMatch(
            patient_id=d.patient_id,
            name=f"{by_id[d.patient_id].first_name} {by_id[d.patient_id].last_name}",
            date_of_birth=by_id[d.patient_id].date_of_birth,
            phone=by_id[d.patient_id].phone,
            email=by_id[d.patient_id].email,
            reasons=list(d.reasons),
        )
        for d in found
    ]


def _rules_of(
    session: Session, clinic_id: uuid.UUID, request: BookingRequest
) -> tuple[AppointmentTypeRules, str | None]:
    """What the request is checked as: its type (whatever it offers online now: staff
    are booking it), or its own length."""
    if request.appointment_type_id is None:
        return AppointmentTypeRules(id=_NO_TYPE, duration=request.ends_at - request.starts_at), None
    kind = kit.live(
        session, AppointmentType, clinic_id, request.appointment_type_id, what="appointment type"
    )
    return type_rules(kind), kind.name


def _check_works_then(
    session: Session,
    clinic_id: uuid.UUID,
    request: BookingRequest,
    provider_id: uuid.UUID,
    starts_at: datetime,
    now: datetime,
) -> None:
    """Another time for a request must be one the provider works and offers the type
    (free or not: a taken one is the booking guarantee's 409, with free times named)."""
    provider = kit.live(session, Provider, clinic_id, provider_id, what="provider")
    if not provider.active:
        raise InvalidInput(f"{provider.display_name} is not taking bookings.")
    kind, kind_name = _rules_of(session, clinic_id, request)
    if kind_name is not None and not kind.offered_by(provider.id):
        raise InvalidInput(f"{provider.display_name} does not offer {kind_name}.")
    zone = scheduling.clinic_zone(session, clinic_id)
    local = starts_at.astimezone(zone)
    slots = scheduling.offered_slots(
        session,
        clinic_id,
        kind,
        first_day=local.date(),
        last_day=local.date(),
        now=now,
        provider_id=provider.id,
        for_staff=True,
        ignore_busy=True,
    )
    if any(s.starts_at == starts_at for s in slots):
        return
    rounding = booking_rules_of(session, clinic_id).slot_rounding
    if (local.hour * 60 + local.minute) % rounding or local.second or local.microsecond:
        raise InvalidInput(
            f"Appointments start every {rounding} minutes on the clinic's clock "
            f"(for example {local:%H}:00); choose one of the times offered."
        )
    raise InvalidInput(
        f"{provider.display_name} is not working at {local:%H:%M} on {local:%a %d %b}. "
        "Choose one of the free times offered."
    )


def free_times_near(
    session: Session,
    clinic_id: uuid.UUID,
    request: BookingRequest,
    provider_id: uuid.UUID,
    around: datetime,
    *,
    count: int = 3,
    now: datetime | None = None,
) -> list[tuple[datetime, datetime]]:
    """The free times nearest ``around`` that the provider works, for the request's type
    and length (what staff may confirm instead), nearest first; ties go to the later."""
    now = now or utcnow()
    try:
        kind, _name = _rules_of(session, clinic_id, request)
    except NotFound:
        return []
    zone = scheduling.clinic_zone(session, clinic_id)
    day = around.astimezone(zone).date()
    slots = scheduling.offered_slots(
        session,
        clinic_id,
        kind,
        first_day=max(day - timedelta(days=SEARCH_BACK_DAYS), now.astimezone(zone).date()),
        last_day=day + timedelta(days=SEARCH_AHEAD_DAYS),
        now=now,
        provider_id=provider_id,
        for_staff=True,
    )
    nearest = sorted(slots, key=lambda s: (abs(s.starts_at - around), s.starts_at < around))
    return [(s.starts_at, s.ends_at) for s in nearest[:count]]


def reject(
    session: Session,
    ctx: AuthContext,
    request_id: uuid.UUID,
    reason: str,
    *,
    now: datetime | None = None,
) -> BookingRequest:
    """Turn a request down, with the reason the patient is told (required, bounded)."""
    ctx.require(Permission.DIARY_BOOK)
    reason = check_reason(reason)
    request = _pending(session, ctx, request_id)
    _decide(session, request, BookingRequestStatus.REJECTED, ctx.staff_id, now or utcnow())
    request.reason = reason
    audit.record(
        session,
        ctx,
        action="reject",
        entity="booking_requests",
        entity_id=request.id,
        reason=f"booking request rejected: {reason}"[:AUDIT_REASON_LENGTH],
    )
    session.flush()
    asked = _asked(session, request)
    if request.patient_id is None:
        # Not a patient yet: told at the number or address they gave on the widget.
        automated.applicant_rejected(
            session,
            ctx.clinic_id,
            applicant_of(request),
            reason=reason,
            asked=asked,
            staff_id=ctx.staff_id,
        )
    else:
        automated.request_decided(
            session,
            ctx.clinic_id,
            request.patient_id,
            appointment=None,
            reason=reason,
            staff_id=ctx.staff_id,
            asked=asked,
        )
    return request


def _asked(session: Session, request: BookingRequest) -> AppointmentFacts:
    """The time a request named, as a rejection's wording tells it."""
    provider = session.get(Provider, request.provider_id)
    kind = (
        session.get(AppointmentType, request.appointment_type_id)
        if request.appointment_type_id
        else None
    )
    return AppointmentFacts(
        starts_at=request.starts_at,
        provider=provider.display_name if provider else "",
        type_name=kind.name if kind else "",
        location="",
    )


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
    _still_pending(session, request)
    _decide(session, request, BookingRequestStatus.WITHDRAWN, None, now or utcnow())
    session.flush()
    return request


def _pending(session: Session, ctx: AuthContext, request_id: uuid.UUID) -> BookingRequest:
    """The request, locked (two staff deciding at once are answered one after the other)."""
    request = kit.live(
        session, BookingRequest, ctx.clinic_id, request_id, what="booking request", lock=True
    )
    _still_pending(session, request)
    return request


def _still_pending(session: Session, request: BookingRequest) -> None:
    """A decided request is a 409 saying who decided it and when (two desks deciding
    at once: the second is told, in words, what the first did)."""
    if request.status is BookingRequestStatus.PENDING:
        return
    if request.status is BookingRequestStatus.WITHDRAWN:
        who = "by the patient"
    else:
        staff = (
            session.get(StaffUser, request.decided_by_staff_id)
            if request.decided_by_staff_id
            else None
        )
        who = f"by {staff.display_name}" if staff else "by staff"
    when = ""
    if request.decided_at is not None:
        local = request.decided_at.astimezone(scheduling.clinic_zone(session, request.clinic_id))
        when = f" at {local:%H:%M} on {local:%a %d %b}"
    raise Conflict(f"This booking request was already {request.status.value} {who}{when}.")


def _decide(
    session: Session,
    request: BookingRequest,
    status: BookingRequestStatus,
    staff_id: uuid.UUID | None,
    now: datetime,
) -> None:
    request.status = status
    request.decided_by_staff_id = staff_id
    request.decided_at = now
    live.note_changed(session, request.clinic_id)  # other desks' lists drop it
