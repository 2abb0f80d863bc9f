"""Booking links and manage links made straight in the database, as the staff side
makes them (a rule, a link copied from it with a ``sent`` event, the raw token kept
only here), for the patient's pages to open."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.appointments import AppointmentSource, AppointmentStatus
from common.booking_links import BookingLinkStatus
from server.booking_links.models import BookingLink, BookingLinkEvent, BroadcastRule, ManageLink
from server.clinics.models import Clinic
from server.patients.models import Patient
from server.scheduling.models import Appointment, AppointmentType, Provider
from server.web import tokens
from server.web.models import PracticeProfile

CLINIC_PHONE = "+44 20 7946 0000"
BORN = date(1984, 5, 17)
WEEK = [{"weekday": d, "start": "08:00", "end": "18:00", "location_id": None} for d in range(7)]


@dataclass(frozen=True)
class Practice:
    clinic_id: uuid.UUID
    provider_ids: list[uuid.UUID]
    type_id: uuid.UUID
    patient_id: uuid.UUID
    zone: ZoneInfo


def practice(
    session: Session, clinic_id: uuid.UUID, *, name: str = "North Physio", slug: str = "north"
) -> Practice:
    """Two providers working every day 08:00–18:00, a 30-minute type both offer, a
    patient with a birthday and a mobile, and a public profile with a phone."""
    clinic = session.get(Clinic, clinic_id)
    assert clinic is not None
    providers = [
        Provider(clinic_id=clinic_id, display_name=who, working_hours=WEEK)
        for who in ("Dr Ada Brook", "Dr Ben Carr")
    ]
    kind = AppointmentType(clinic_id=clinic_id, name="Follow-up", duration_minutes=30)
    patient = Patient(
        clinic_id=clinic_id,
        first_name="Rosa",
        last_name="Lind",
        date_of_birth=BORN,
        phone="+447400900123",
        email="rosa@example.org",
    )
    session.add_all([*providers, kind, patient])
    session.add(
        PracticeProfile(
            clinic_id=clinic_id,
            slug=slug,
            display_name=name,
            phone=CLINIC_PHONE,
            cancellation_policy="Tell us a day ahead.",
            published=True,
        )
    )
    session.flush()
    return Practice(
        clinic_id, [p.id for p in providers], kind.id, patient.id, ZoneInfo(clinic.time_zone)
    )


def booking_link(
    session: Session,
    where: Practice,
    *,
    provider_ids: list[uuid.UUID] | None = None,
    days: int = 14,
    expires_in: timedelta = timedelta(days=14),
    allow_reschedule: bool = True,
    status: BookingLinkStatus = BookingLinkStatus.SENT,
    welcome_text: str = "We look forward to seeing you again.",
    confirmation_text: str = "Please bring your exercise sheet.",
) -> tuple[str, uuid.UUID]:
    """A rule and a link sent under it: (the raw token, the link's id)."""
    now = datetime.now(UTC)
    today = now.astimezone(where.zone).date()
    rule = BroadcastRule(
        clinic_id=where.clinic_id,
        title="Book your follow-up",
        appointment_type_id=where.type_id,
        provider_ids=[str(p) for p in provider_ids or []],
        latest_days=days,
        welcome_text=welcome_text,
        sms_text="Book here: {link}",
        confirmation_text=confirmation_text,
        allow_reschedule=allow_reschedule,
    )
    session.add(rule)
    session.flush()
    token = tokens.new_token()
    link = BookingLink(
        clinic_id=where.clinic_id,
        patient_id=where.patient_id,
        rule_id=rule.id,
        token_hash=tokens.digest(token),
        status=status,
        appointment_type_id=where.type_id,
        provider_ids=rule.provider_ids,
        first_day=today,
        last_day=today + timedelta(days=days),
        allow_reschedule=allow_reschedule,
        expires_at=now + expires_in,
    )
    session.add(link)
    session.flush()
    session.add(
        BookingLinkEvent(
            clinic_id=where.clinic_id, link_id=link.id, at=now, status=BookingLinkStatus.SENT
        )
    )
    session.flush()
    return token, link.id


def booked(
    session: Session,
    where: Practice,
    *,
    starts_in: timedelta,
    provider: int = 0,
    allow_reschedule: bool = True,
) -> tuple[str, uuid.UUID]:
    """An appointment booked through a link, with its manage link: (raw manage token,
    appointment id). ``starts_in`` is rounded to the next hour on the clinic's clock."""
    _token, link_id = booking_link(session, where, allow_reschedule=allow_reschedule)
    local = (datetime.now(UTC) + starts_in).astimezone(where.zone)
    start = datetime.combine(local.date(), time(local.hour), where.zone) + timedelta(hours=1)
    # Inside working hours: that morning, or the next.
    if start.hour < 8:  # early morning (perhaps already the next day): at 10 that day
        start = datetime.combine(start.date(), time(10), where.zone)
    elif start.hour >= 17:
        start = datetime.combine(local.date() + timedelta(days=1), time(10), where.zone)
    appointment = Appointment(
        clinic_id=where.clinic_id,
        provider_id=where.provider_ids[provider],
        patient_id=where.patient_id,
        appointment_type_id=where.type_id,
        starts_at=start.astimezone(UTC),
        ends_at=(start + timedelta(minutes=30)).astimezone(UTC),
        status=AppointmentStatus.CONFIRMED,
        source=AppointmentSource.LINK,
    )
    session.add(appointment)
    session.flush()
    link = session.get(BookingLink, link_id)
    assert link is not None
    link.status = BookingLinkStatus.BOOKED
    link.appointment_id = appointment.id
    manage_token = tokens.new_token()
    session.add(
        ManageLink(
            clinic_id=where.clinic_id,
            appointment_id=appointment.id,
            patient_id=where.patient_id,
            booking_link_id=link_id,
            token_hash=tokens.digest(manage_token),
            allow_reschedule=allow_reschedule,
            expires_at=appointment.ends_at + timedelta(days=1),
        )
    )
    session.flush()
    return manage_token, appointment.id


def link_of(session: Session, link_id: uuid.UUID) -> BookingLink:
    found = session.scalar(select(BookingLink).where(BookingLink.id == link_id))
    assert found is not None
    return found
