"""The .ics that goes with an appointment's confirmation e-mail, made when it is sent (so
a confirmation that waited shows the appointment as it now stands)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from server.clinics.models import Clinic
from server.messaging import service
from server.messaging.calendar import appointment_ics
from server.messaging.models import Delivery
from server.messaging.providers.base import Attachment
from server.scheduling.models import Appointment, AppointmentType, Location, Provider


def confirmation_attachments(session: Session, delivery: Delivery) -> tuple[Attachment, ...]:
    if delivery.channel.value != "email" or delivery.calendar_appointment_id is None:
        return ()
    appointment = session.get(Appointment, delivery.calendar_appointment_id)
    clinic = session.get(Clinic, delivery.clinic_id)
    if appointment is None or appointment.deleted_at is not None or clinic is None:
        return ()
    provider = session.get(Provider, appointment.provider_id)
    kind = (
        session.get(AppointmentType, appointment.appointment_type_id)
        if appointment.appointment_type_id
        else None
    )
    room = session.get(Location, appointment.location_id) if appointment.location_id else None
    settings = service.settings_of(session, clinic.id)
    name = service.signature(settings, clinic)
    what = kind.name if kind else "Appointment"
    ics = appointment_ics(
        uid=f"{appointment.id}@clinicdesk",
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        summary=f"{what} at {name}",
        location=appointment.video_url
        or ", ".join(part for part in (name, room.name if room else "") if part),
        description=(f"With {provider.display_name}." if provider else "")
        + (
            f" A video consultation: join it at {appointment.video_url}"
            if appointment.video_url
            else ""
        ),
        organizer_name=name,
        organizer_email=settings.email or f"no-reply@{clinic.slug}.invalid",
        time_zone=clinic.time_zone,
        sequence=appointment.version,
    )
    return (Attachment("appointment.ics", "text/calendar; method=REQUEST", ics),)
