"""The messages the clinic sends on its own: a confirmation at booking, "running late",
and the answer to a web booking request. Each is written from the clinic's template for
its kind and channel (or the default, in the clinic's language), composed in the same
transaction as the change that prompts it, and sent by the dispatcher.

A template is checked when an admin saves it, so an unknown variable is refused then;
should one still fail to render (a value this message lacks), the default is used
instead — never a blank sent to a patient.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.appointments import AppointmentStatus
from common.booking_requests import Applicant
from common.errors import InvalidInput, StaleVersion
from common.message_templates import (
    AppointmentFacts,
    ClinicFacts,
    CommunicationType,
    PatientFacts,
    TemplateContext,
    TemplateProblem,
    check,
    context_for,
    defaults_for,
    render,
    render_html,
)
from common.messaging import Channel, DeliveryStatus
from common.roles import Permission
from server import kit
from server.audit import service as audit
from server.auth.context import AuthContext
from server.changefeed.versioning import changed_by_someone_else
from server.clinics.models import Clinic
from server.db import utcnow
from server.messaging import service
from server.messaging.models import Delivery, Message, MessageTemplate
from server.patients.models import Patient
from server.scheduling.models import Appointment, AppointmentType, Location, Provider
from sync.protocol import SaveMessageTemplate

# The channels each kind goes out on, as the clinic's communication plan has them.
CHANNELS: dict[CommunicationType, tuple[Channel, ...]] = {
    CommunicationType.CONFIRMATION: (Channel.EMAIL, Channel.SMS),
    CommunicationType.REMINDER: (Channel.SMS,),
    CommunicationType.DAY_OF: (Channel.SMS,),
    CommunicationType.RUNNING_LATE: (Channel.SMS,),
    CommunicationType.POST_VISIT: (Channel.EMAIL,),
    CommunicationType.REQUEST_CONFIRMED: (Channel.EMAIL, Channel.SMS),
    CommunicationType.REQUEST_REJECTED: (Channel.EMAIL, Channel.SMS),
}
# Still to come: these are the ones that wait for the patient in the diary.
WAITING = (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED)


# --- facts ------------------------------------------------------------------------------


def clinic_facts(session: Session, clinic: Clinic) -> ClinicFacts:
    settings = service.settings_of(session, clinic.id)
    return ClinicFacts(
        name=service.signature(settings, clinic),
        phone=settings.phone or None,
        email=settings.email or None,
        time_zone=clinic.time_zone,
        language=settings.language,
    )


def appointment_facts(session: Session, appointment: Appointment) -> AppointmentFacts:
    provider = session.get(Provider, appointment.provider_id)
    kind = (
        session.get(AppointmentType, appointment.appointment_type_id)
        if appointment.appointment_type_id
        else None
    )
    room = session.get(Location, appointment.location_id) if appointment.location_id else None
    return AppointmentFacts(
        starts_at=appointment.starts_at,
        provider=provider.display_name if provider else "",
        type_name=kind.name if kind else "",
        location=room.name if room else "",
    )


def patient_facts(patient: Patient) -> PatientFacts:
    return PatientFacts(patient.first_name, patient.last_name)


# --- templates --------------------------------------------------------------------------


def wording(
    session: Session, clinic_id: uuid.UUID, kind: CommunicationType, channel: Channel, language: str
) -> tuple[str | None, str]:
    """The clinic's own template for this kind and channel, else the default."""
    saved = session.scalar(
        select(MessageTemplate).where(
            MessageTemplate.clinic_id == clinic_id,
            MessageTemplate.kind == kind.value,
            MessageTemplate.channel == channel,
            MessageTemplate.deleted_at.is_(None),
        )
    )
    if saved is not None:
        return saved.subject or None, saved.body
    default = defaults_for(language)[kind.value].for_channel(channel)
    return default.subject, default.body


def draft(
    session: Session,
    clinic_id: uuid.UUID,
    kind: CommunicationType,
    channel: Channel,
    context: TemplateContext,
    language: str,
) -> service.Draft | None:
    """This kind of message on this channel, rendered; None if even the default cannot be
    (it then is not sent on this channel)."""
    default = defaults_for(language)[kind.value].for_channel(channel)
    for subject, body in (
        wording(session, clinic_id, kind, channel, language),
        (default.subject, default.body),
    ):
        try:
            if channel is Channel.EMAIL:
                made = render_html(subject, body, context)
                return service.Draft(channel, made.text, made.subject or "", made.html)
            return service.Draft(channel, render(None, body, context).text)
        except TemplateProblem:
            continue
    return None


def save_template(
    session: Session, ctx: AuthContext, command: SaveMessageTemplate
) -> MessageTemplate:
    """A clinic admin's wording, refused in words if it names anything a message cannot
    include (never a blank at sending)."""
    ctx.require(Permission.COMMS_MANAGE_TEMPLATES)
    try:
        kind = CommunicationType(command.message_kind)
    except ValueError:
        raise InvalidInput(
            f"There is no kind of message called {command.message_kind!r}."
        ) from None
    subject = command.subject.strip() if command.channel is Channel.EMAIL else ""
    problems = check(subject or None, command.body, channel=command.channel)
    if problems:
        raise InvalidInput(" ".join(problems))
    found = session.scalar(
        select(MessageTemplate)
        .where(
            MessageTemplate.clinic_id == ctx.clinic_id,
            MessageTemplate.kind == kind.value,
            MessageTemplate.channel == command.channel,
        )
        .with_for_update()
    )
    if found is None:
        found = MessageTemplate(
            id=command.template_id,
            clinic_id=ctx.clinic_id,
            kind=kind.value,
            channel=command.channel,
            purpose=kind.purpose,
        )
        session.add(found)
    elif command.base_version is None:
        # Saved twice at this desk before the first save was answered: still its own.
        if found.id != command.template_id or found.changed_by_device_id != ctx.device_id:
            raise StaleVersion("Someone else changed this template in the meantime.")
    elif changed_by_someone_else(found, command.base_version, ctx.device_id):
        raise StaleVersion("Someone else changed this template in the meantime.")
    if found.subject == subject and found.body == command.body and found.deleted_at is None:
        return found  # saved unchanged: nothing new for the desks
    found.subject = subject
    found.body = command.body
    found.deleted_at = None
    found.changed_by_device_id = ctx.device_id
    audit.record(
        session,
        ctx,
        action="template_saved",
        entity="message_templates",
        entity_id=found.id,
        reason=f"{kind.label} ({command.channel.label})",
    )
    session.flush()
    return found


# --- the messages -----------------------------------------------------------------------


def _send(
    session: Session,
    clinic: Clinic,
    patient: Patient | None,
    kind: CommunicationType,
    context_extra: dict[str, object],
    *,
    appointment: Appointment | None = None,
    staff_id: uuid.UUID | None = None,
    urgent: bool = False,
    applicant: Applicant | None = None,
    asked: AppointmentFacts | None = None,
) -> Message | None:
    """``patient``, or with none the ``applicant`` (who asked on the web and is not a
    patient yet) at the number and address they gave. ``asked``: the time a request
    named, for a message about one that was not booked."""
    facts = clinic_facts(session, clinic)
    if patient is not None:
        who = patient_facts(patient)
    elif applicant is not None:
        who = PatientFacts(applicant.first_name, applicant.last_name)
    else:
        return None

    def address(channel: Channel) -> str | None:
        if patient is not None:
            return service.address_of(patient, channel)
        assert applicant is not None
        return applicant.phone if channel is Channel.SMS else applicant.email

    context = context_for(
        clinic=facts,
        patient=who,
        appointment=appointment_facts(session, appointment) if appointment else asked,
        **context_extra,  # type: ignore[arg-type]
    )
    drafts = [
        made
        for channel in CHANNELS[kind]
        if address(channel)
        and (made := draft(session, clinic.id, kind, channel, context, facts.language))
    ]
    if not drafts:
        return None  # no number and no address: nothing to send, nothing to hold
    if appointment is not None and appointment.video_url and kind in VIDEO_KINDS:
        drafts = [_with_room(made, appointment.video_url) for made in drafts]
    return service.compose(
        session,
        clinic.id,
        patient=patient,
        number=address(Channel.SMS) if patient is None else None,
        email=address(Channel.EMAIL) if patient is None else None,
        purpose=kind.purpose,
        kind=kind.value,
        drafts=drafts,
        staff_id=staff_id,
        urgent=urgent,
        appointment_id=appointment.id if appointment else None,
        calendar=appointment is not None and kind is not CommunicationType.RUNNING_LATE,
    )


# The messages that lead up to a visit: a video consultation's carry its room.
VIDEO_KINDS = frozenset(
    {
        CommunicationType.CONFIRMATION,
        CommunicationType.REMINDER,
        CommunicationType.DAY_OF,
        CommunicationType.RUNNING_LATE,
        CommunicationType.REQUEST_CONFIRMED,
    }
)


def _with_room(made: service.Draft, url: str) -> service.Draft:
    """A clinic's wording says nothing of video; the room's link is added after it."""
    line = f"This is a video consultation. At its time, join it here: {url}"
    html = made.html
    if html is not None:
        link = (
            "<p>This is a video consultation. At its time, "
            f'<a href="{escape(url)}">join it here</a>.</p>'
        )
        html = html.replace("</body>", f"{link}</body>") if "</body>" in html else html + link
    return dataclasses.replace(made, text=f"{made.text.rstrip()}\n\n{line}", html=html)


def confirm_booking(
    session: Session, clinic_id: uuid.UUID, appointment: Appointment
) -> Message | None:
    """The confirmation of a new booking, by e-mail (with the .ics) and SMS as the
    patient's consent allows. None for a visit recorded after the fact, or when the
    clinic sends no confirmations."""
    clinic = session.get(Clinic, clinic_id)
    if clinic is None or appointment.starts_at <= utcnow():
        return None
    if not service.settings_of(session, clinic_id).send_confirmations:
        return None
    patient = session.get(Patient, appointment.patient_id)
    if patient is None:
        return None
    return _send(
        session, clinic, patient, CommunicationType.CONFIRMATION, {}, appointment=appointment
    )


def request_decided(
    session: Session,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    *,
    appointment: Appointment | None,
    reason: str | None = None,
    staff_id: uuid.UUID | None = None,
    asked: AppointmentFacts | None = None,
) -> Message | None:
    """Tell the patient what became of their web booking request: the appointment, or
    the reason it was turned down (with ``asked``, the time they asked for, which the
    wording names)."""
    clinic = session.get(Clinic, clinic_id)
    patient = session.get(Patient, patient_id)
    if clinic is None or patient is None:
        return None
    if appointment is not None:
        return _send(
            session,
            clinic,
            patient,
            CommunicationType.REQUEST_CONFIRMED,
            {},
            appointment=appointment,
            staff_id=staff_id,
        )
    return _send(
        session,
        clinic,
        patient,
        CommunicationType.REQUEST_REJECTED,
        {"reason": reason or ""},
        staff_id=staff_id,
        asked=asked,
    )


def applicant_rejected(
    session: Session,
    clinic_id: uuid.UUID,
    applicant: Applicant,
    *,
    reason: str,
    asked: AppointmentFacts,
    staff_id: uuid.UUID | None = None,
) -> Message | None:
    """Tell someone who asked on the web, and is not a patient, that their request was
    turned down and why: at the mobile and e-mail they gave (consent as for care
    messages; a number that texted STOP stays held)."""
    clinic = session.get(Clinic, clinic_id)
    if clinic is None:
        return None
    return _send(
        session,
        clinic,
        None,
        CommunicationType.REQUEST_REJECTED,
        {"reason": reason},
        staff_id=staff_id,
        applicant=applicant,
        asked=asked,
    )


def running_late(
    session: Session, ctx: AuthContext, *, provider_id: uuid.UUID, minutes: int, after: datetime
) -> int:
    """Text each patient still to come today for this provider that the clinic runs
    ``minutes`` late, once each (about their next visit). Urgent: not held by quiet
    hours. Returns how many were told."""
    ctx.require(Permission.COMMS_SEND_MESSAGE)
    provider = kit.live(session, Provider, ctx.clinic_id, provider_id, what="provider")
    clinic = session.get(Clinic, ctx.clinic_id)
    assert clinic is not None
    zone = ZoneInfo(clinic.time_zone)
    now = utcnow()
    if after.astimezone(zone).date() != now.astimezone(zone).date():
        # Asked offline and sent a day late: those patients' visits are over.
        raise InvalidInput(
            "Running late is told on the day it happens; this was asked on another day, so "
            "nobody was told."
        )
    after = max(after, now)  # patients whose appointments started meanwhile are in
    local = after.astimezone(zone)
    end = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    later = session.scalars(
        select(Appointment)
        .where(
            Appointment.clinic_id == ctx.clinic_id,
            Appointment.provider_id == provider.id,
            Appointment.deleted_at.is_(None),
            Appointment.starts_at >= after,
            Appointment.starts_at < end,
            Appointment.status.in_([status.value for status in WAITING]),
        )
        .order_by(Appointment.starts_at)
    ).all()
    told = 0
    seen: set[uuid.UUID] = set()
    for appointment in later:  # earliest first: a patient hears of their next visit once
        patient = session.get(Patient, appointment.patient_id)
        if patient is None or patient.id in seen:
            continue
        seen.add(patient.id)
        sent = _send(
            session,
            clinic,
            patient,
            CommunicationType.RUNNING_LATE,
            {"minutes_late": minutes},
            appointment=appointment,
            staff_id=ctx.staff_id,
            urgent=True,
        )
        told += sent is not None
    audit.record(
        session,
        ctx,
        action="running_late",
        entity="appointments",
        record_count=told,
        reason=f"{provider.display_name} running {minutes} minutes late",
    )
    return told


def appointment_changed(
    session: Session,
    clinic_id: uuid.UUID,
    appointment: Appointment,
    *,
    moved: bool,
    confirm_new_time: bool = False,
) -> None:
    """A confirmation still waiting (for the morning, or for a retry) says what is no
    longer true once its appointment is cancelled or moved: it is held, and a moved
    appointment is confirmed afresh. ``confirm_new_time``: confirm a moved appointment
    even when nothing was waiting (the patient moved it themselves, online, and the
    text and calendar entry they have name the old time)."""
    waiting = session.scalars(
        select(Delivery)
        .join(Message, Message.id == Delivery.message_id)
        .where(
            Delivery.clinic_id == clinic_id,
            Delivery.status == DeliveryStatus.QUEUED,
            Message.appointment_id == appointment.id,
            Message.kind.in_(
                [CommunicationType.CONFIRMATION.value, CommunicationType.REQUEST_CONFIRMED.value]
            ),
        )
    ).all()
    reason = "The appointment was moved" if moved else "The appointment was cancelled"
    service.hold(session, waiting, f"{reason} before this was sent.")
    if moved and (waiting or confirm_new_time):
        confirm_booking(session, clinic_id, appointment)
