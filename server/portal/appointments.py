"""The portal's appointments: a patient's and their family members' visits at one
clinic, as they read them, and what they may do with them: book, cancel, move.

Patients are bound by the clinic's booking rules (notice, horizon, cut-offs, whether
they may cancel online at all); staff at the desk are not, so every refusal names the
clinic's phone. Every change goes through ``server.scheduling.service`` (the booking
guarantee) as the patient's own action (``Viewer.ctx``), audited in its transaction, and
is based on the version of the appointment the patient saw: a change made at the desk
in the meantime is never overwritten."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.appointments import MOVABLE, AppointmentSource, AppointmentStatus, CancelledBy
from common.booking_requests import BookingRequestStatus
from common.errors import Conflict, NotFound, SlotTaken
from common.portal import Relation
from common.scheduling import BookingRules
from server import kit
from server.audit import service as audit
from server.booking_links.patient import TAKEN, Offer, Visit, long_day, offering, visit_of
from server.booking_requests.models import BookingRequest
from server.booking_requests.service import create_request
from server.clinics.models import Clinic
from server.db import utcnow
from server.messaging import automated
from server.messaging.calendar import appointment_ics
from server.portal import forms
from server.portal.forms import Listed
from server.portal.viewer import Person, Viewer
from server.scheduling import service as scheduling
from server.scheduling.models import Appointment, AppointmentType, Provider
from server.scheduling.service import clinic_zone
from server.scheduling.settings import booking_rules_of, type_rules
from server.web.pages import Brand, profile_of


@dataclass(frozen=True)
class PortalVisit:
    """A visit and whose it is (``for_name`` is empty for the account holder's own)."""

    visit: Visit
    person: Person
    version: int

    @property
    def for_name(self) -> str:
        return "" if self.person.relation is Relation.SELF else self.person.name

    def __getattr__(self, name: str) -> object:
        return getattr(self.visit, name)


def visits(
    session: Session, viewer: Viewer, now: datetime, *, upcoming: bool = True, limit: int = 100
) -> list[PortalVisit]:
    """The viewer's people's appointments at this clinic: upcoming soonest first (past:
    latest first). Only this clinic's rows of these patients are ever read."""
    people = {p.patient_id: p for p in viewer.people}
    query = select(Appointment).where(
        Appointment.clinic_id == viewer.clinic_id,
        Appointment.patient_id.in_(list(people)),
        Appointment.deleted_at.is_(None),
    )
    if upcoming:
        query = query.where(Appointment.ends_at > now).order_by(Appointment.starts_at)
    else:
        query = query.where(Appointment.ends_at <= now).order_by(Appointment.starts_at.desc())
    zone = clinic_zone(session, viewer.clinic_id)
    return [
        PortalVisit(visit_of(session, row, zone, now), people[row.patient_id], row.version)
        for row in session.scalars(query.limit(limit))
    ]


# --- one appointment --------------------------------------------------------------------

NOT_YOURS = "There is no appointment like that on your account. Check the link, or call the clinic."
CHANGED = (
    "This appointment was changed by the clinic while you were looking at it. This is how "
    "it stands now; nothing you asked for has been done."
)


def appointment_id_of(text: str) -> uuid.UUID:
    """An appointment id from the address; anything else is simply not found."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotFound(NOT_YOURS) from None


def mine(
    session: Session, viewer: Viewer, appointment_id: uuid.UUID, *, lock: bool = False
) -> Appointment:
    """One of the viewer's people's appointments at this clinic. Any other id (another
    patient's, another clinic's, a removed one, none at all) gets the same 404, so an id
    tells nothing about anyone else."""
    row = kit.find(session, Appointment, viewer.clinic_id, appointment_id, lock=lock)
    if row is None or row.patient_id not in {p.patient_id for p in viewer.people}:
        raise NotFound(NOT_YOURS)
    return row


class Change(StrEnum):
    CANCEL = "cancel"
    RESCHEDULE = "reschedule"


def refusal(
    rules: BookingRules,
    appointment: Appointment,
    now: datetime,
    change: Change,
    brand: Brand,
) -> str | None:
    """Why the patient may not cancel (or move) this appointment online now, in words
    with the clinic's phone (None: they may). Patients are bound by the clinic's
    cut-offs; staff at the desk are not, so the answer always says whom to call.
    (``booking_links.patient.reschedule_refusal`` answers for a manage link, whose own
    ``allow_reschedule`` decides too; the portal has no link, so its words are here.)"""
    call = f" Call {brand.name} on {brand.phone}." if brand.phone else f" Call {brand.name}."
    verb = "cancelled" if change is Change.CANCEL else "changed"
    if appointment.status is AppointmentStatus.CANCELLED:
        return "This appointment was cancelled."
    if appointment.starts_at <= now:
        return "This appointment has already taken place."
    if appointment.status not in MOVABLE:
        return f"This appointment can no longer be {verb} online.{call}"
    if change is Change.RESCHEDULE and appointment.appointment_type_id is None:
        return f"This appointment cannot be {verb} online.{call}"
    if not rules.patients_may_cancel:
        return f"{brand.name} does not take cancellations or changes online.{call}"
    cutoff = (
        rules.patient_cancel_cutoff if change is Change.CANCEL else rules.patient_reschedule_cutoff
    )
    if appointment.starts_at - now < cutoff:
        return (
            f"This appointment is less than {_span(cutoff)} away, so it can no longer be "
            f"{verb} online.{call}"
        )
    return None


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes % 60:
        return f"{minutes} minutes"
    hours = minutes // 60
    return "1 hour" if hours == 1 else f"{hours} hours"


@dataclass(frozen=True)
class Detail:
    """One appointment's page: the visit, the policy, and what the patient may do."""

    visit: PortalVisit
    cancellation_policy: str
    why_no_cancel: str  # empty: they may cancel online
    why_no_reschedule: str  # empty: they may move it online
    # A video consultation's room, from its booking until it ends (empty otherwise).
    video_url: str = ""
    forms: tuple[Listed, ...] = ()  # the forms wanted for it

    @property
    def may_cancel(self) -> bool:
        return not self.why_no_cancel

    @property
    def may_reschedule(self) -> bool:
        return not self.why_no_reschedule


def detail(session: Session, viewer: Viewer, appointment: Appointment, now: datetime) -> Detail:
    zone = clinic_zone(session, viewer.clinic_id)
    person = viewer.person(appointment.patient_id)
    rules = booking_rules_of(session, viewer.clinic_id)
    profile = profile_of(session, viewer.clinic_id)
    joinable = (
        appointment.status not in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW)
        and appointment.ends_at > now
    )
    return Detail(
        visit=PortalVisit(visit_of(session, appointment, zone, now), person, appointment.version),
        cancellation_policy=profile.cancellation_policy if profile else "",
        why_no_cancel=refusal(rules, appointment, now, Change.CANCEL, viewer.brand) or "",
        why_no_reschedule=refusal(rules, appointment, now, Change.RESCHEDULE, viewer.brand)
        or _not_online(session, viewer, appointment),
        video_url=(appointment.video_url or "") if joinable else "",
        forms=tuple(forms.for_appointment(session, viewer, appointment)),
    )


def _not_online(session: Session, viewer: Viewer, appointment: Appointment) -> str:
    """A kind the clinic books only at the desk is moved only there too."""
    kind = kit.find(session, AppointmentType, viewer.clinic_id, appointment.appointment_type_id)
    if kind is not None and kind.active and type_rules(kind).bookable_online:
        return ""
    call = f" Call {viewer.brand.name} on {viewer.brand.phone}." if viewer.brand.phone else ""
    return f"{viewer.brand.name} books this kind of appointment at the desk.{call}"


class Stale(Exception):
    """The appointment changed since the page was drawn (at the desk, or in another tab):
    nothing was done."""


def _check_version(appointment: Appointment, base_version: int) -> None:
    if appointment.version != base_version:
        raise Stale()


def cancel(
    session: Session, viewer: Viewer, appointment_id: uuid.UUID, base_version: int, now: datetime
) -> Appointment:
    """Cancel as the patient, inside the clinic's rules (``Conflict`` with the reason
    otherwise; ``Stale`` if it changed meanwhile). The row is locked first, so the rules
    are checked against the appointment as it stands."""
    appointment = mine(session, viewer, appointment_id, lock=True)
    _check_version(appointment, base_version)
    why_not = refusal(
        booking_rules_of(session, viewer.clinic_id), appointment, now, Change.CANCEL, viewer.brand
    )
    if why_not is not None:
        raise Conflict(why_not)
    ctx = viewer.ctx(appointment.patient_id)
    done = scheduling.set_status(
        session,
        ctx,
        appointment_id=appointment.id,
        base_version=base_version,
        status=AppointmentStatus.CANCELLED,
        cancelled_by=CancelledBy.PATIENT,
    )
    audit.record(
        session,
        ctx,
        action="cancel",
        entity="appointments",
        entity_id=done.id,
        reason=f"cancelled by {viewer.actor()}",
    )
    session.flush()
    automated.appointment_changed(session, viewer.clinic_id, done, moved=False)
    return done


def reschedule_offer(
    session: Session, viewer: Viewer, appointment: Appointment, now: datetime
) -> Offer | None:
    """Where an appointment may move: its own type, with the same provider (or any who
    offer the type, when the clinic lets patients choose "no preference"), from today
    up to the patients' booking horizon (notice and rounding bind through the engine)."""
    kind = kit.find(session, AppointmentType, viewer.clinic_id, appointment.appointment_type_id)
    if kind is None or not kind.active or not type_rules(kind).bookable_online:
        return None
    rules = booking_rules_of(session, viewer.clinic_id)
    everyone = offering(session, viewer.clinic_id, kind, [])
    providers = (
        everyone
        if rules.allow_any_provider
        else [p for p in everyone if p.id == appointment.provider_id]
    )
    today = now.astimezone(clinic_zone(session, viewer.clinic_id)).date()
    return Offer(
        viewer.clinic_id, kind, providers, today, today + timedelta(days=rules.horizon_days)
    )


def move(
    session: Session,
    viewer: Viewer,
    appointment_id: uuid.UUID,
    base_version: int,
    *,
    provider_id: uuid.UUID,
    starts_at: datetime,
    now: datetime,
) -> Appointment:
    """Move as the patient to a time on offer (``SlotTaken`` if it is not, any more;
    ``Conflict`` if the rules refuse; ``Stale`` if it changed meanwhile)."""
    appointment = mine(session, viewer, appointment_id, lock=True)
    _check_version(appointment, base_version)
    why_not = refusal(
        booking_rules_of(session, viewer.clinic_id),
        appointment,
        now,
        Change.RESCHEDULE,
        viewer.brand,
    )
    if why_not is not None:
        raise Conflict(why_not)
    offer = reschedule_offer(session, viewer, appointment, now)
    if offer is None or not offer.has(session, provider_id, starts_at, now):
        raise SlotTaken(TAKEN)
    ctx = viewer.ctx(appointment.patient_id)
    try:
        moved = scheduling.move(
            session,
            ctx,
            appointment_id=appointment.id,
            base_version=base_version,
            provider_id=provider_id,
            starts_at=starts_at,
            ends_at=starts_at + (appointment.ends_at - appointment.starts_at),
        )
    except SlotTaken:
        raise SlotTaken(TAKEN) from None
    audit.record(
        session,
        ctx,
        action="move",
        entity="appointments",
        entity_id=moved.id,
        reason=f"moved by {viewer.actor()}",
    )
    session.flush()
    automated.appointment_changed(
        session, viewer.clinic_id, moved, moved=True, confirm_new_time=True
    )
    return moved


def calendar_file(session: Session, viewer: Viewer, appointment: Appointment) -> bytes:
    """The appointment as an .ics (the same event the confirmation e-mail carries: one
    UID per appointment, its version as the sequence, so a later one updates it)."""
    clinic = session.get(Clinic, viewer.clinic_id)
    zone_name = clinic.time_zone if clinic else "UTC"
    visit = visit_of(session, appointment, ZoneInfo(zone_name), utcnow())
    profile = profile_of(session, viewer.clinic_id)
    where_words = ", ".join(
        part for part in (viewer.brand.name, profile.address if profile else "") if part
    )
    return appointment_ics(
        uid=f"{appointment.id}@clinicdesk",
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        summary=f"{visit.type_name} with {visit.provider}",
        location=appointment.video_url or where_words,
        description=f"{visit.type_name} at {viewer.brand.name}. Phone: {viewer.brand.phone}"
        + (
            f". A video consultation: join it at {appointment.video_url}"
            if appointment.video_url
            else ""
        ),
        organizer_name=viewer.brand.name,
        organizer_email=viewer.brand.email or "no-reply@clinicdesk.invalid",
        time_zone=zone_name,
        sequence=max(appointment.version, 0),
    )


# --- booking ----------------------------------------------------------------------------

ANY_PROVIDER = "any"


def bookable_types(session: Session, clinic_id: uuid.UUID) -> list[AppointmentType]:
    """The clinic's types patients may book online (active, open to online booking)."""
    rows = session.scalars(
        select(AppointmentType)
        .where(
            AppointmentType.clinic_id == clinic_id,
            AppointmentType.deleted_at.is_(None),
            AppointmentType.active,
        )
        .order_by(AppointmentType.name, AppointmentType.id)
    )
    return [kind for kind in rows if type_rules(kind).bookable_online]


def bookable_type(session: Session, clinic_id: uuid.UUID, type_id: str) -> AppointmentType:
    """One bookable type by the id a form sent; anything else is not found."""
    for kind in bookable_types(session, clinic_id):
        if str(kind.id) == type_id:
            return kind
    raise NotFound("That kind of appointment cannot be booked online. Choose another.")


def booking_offer(
    session: Session, clinic_id: uuid.UUID, kind: AppointmentType, provider: str, now: datetime
) -> Offer:
    """The times a patient may book: the chosen provider (or everyone offering the type,
    for "no preference" where the clinic allows it), today to the booking horizon."""
    rules = booking_rules_of(session, clinic_id)
    everyone = offering(session, clinic_id, kind, [])
    if provider == ANY_PROVIDER and rules.allow_any_provider:
        chosen = everyone
    else:
        chosen = [p for p in everyone if str(p.id) == provider]
        if not chosen:
            raise NotFound("Choose one of the people offered for this appointment.")
    today = now.astimezone(clinic_zone(session, clinic_id)).date()
    return Offer(clinic_id, kind, chosen, today, today + timedelta(days=rules.horizon_days))


@dataclass(frozen=True)
class Made:
    """What the confirm button did: an appointment booked, or a request sent."""

    appointment_id: uuid.UUID | None = None
    request_id: uuid.UUID | None = None


def appointment_id_for(clinic_id: uuid.UUID, form_key: str) -> uuid.UUID:
    """The id a review form's booking gets: the same form sent twice (a double click, a
    reload after a lost answer) names the same appointment, so it is booked once."""
    return uuid.uuid5(_PORTAL_BOOKINGS, f"{clinic_id}:{form_key}")


_PORTAL_BOOKINGS = uuid.UUID("5b0f1d1e-7a51-4c1c-9a3e-9c1f1d6b2f40")


def already_booked(
    session: Session,
    viewer: Viewer,
    form_key: str,
    *,
    patient_id: uuid.UUID | None = None,
    provider_id: uuid.UUID | None = None,
    starts_at: datetime | None = None,
) -> Made | None:
    """The booking (or request) this review form made already, if it made one; or,
    given the time chosen, the same person's live appointment then with that provider
    (the review page reloaded after booking, Back pressed: it is theirs already, not
    "taken by someone else")."""
    if patient_id is not None and provider_id is not None and starts_at is not None:
        same = session.scalar(
            select(Appointment.id).where(
                Appointment.clinic_id == viewer.clinic_id,
                Appointment.patient_id == viewer.person(patient_id).patient_id,
                Appointment.provider_id == provider_id,
                Appointment.starts_at == starts_at,
                Appointment.status != AppointmentStatus.CANCELLED,
                Appointment.deleted_at.is_(None),
            )
        )
        if same is not None:
            return Made(appointment_id=same)
    made = session.scalar(
        select(Appointment.id).where(
            Appointment.id == appointment_id_for(viewer.clinic_id, form_key),
            Appointment.clinic_id == viewer.clinic_id,
            Appointment.patient_id.in_([p.patient_id for p in viewer.people]),
        )
    )
    if made is not None:
        return Made(appointment_id=made)
    asked = session.scalar(
        select(BookingRequest.id).where(
            BookingRequest.clinic_id == viewer.clinic_id,
            BookingRequest.form_key == form_key,
            BookingRequest.patient_id.in_([p.patient_id for p in viewer.people]),
        )
    )
    return Made(request_id=asked) if asked is not None else None


def book(
    session: Session,
    viewer: Viewer,
    *,
    patient_id: uuid.UUID,
    kind: AppointmentType,
    offer: Offer,
    provider_id: uuid.UUID,
    starts_at: datetime,
    form_key: str,
    now: datetime,
) -> Made:
    """Book the reviewed time for one of the viewer's people: confirmed at once, or, for
    a type the clinic confirms itself, a booking request for the desk. ``SlotTaken``
    when the time is no longer on offer; the same form twice makes one booking."""
    done = already_booked(session, viewer, form_key)
    if done is not None:
        return done
    ctx = viewer.ctx(patient_id)
    if not offer.has(session, provider_id, starts_at, now):
        raise SlotTaken(TAKEN)
    if kind.requires_confirmation:
        request = create_request(
            session,
            viewer.clinic_id,
            provider_id=provider_id,
            starts_at=starts_at,
            patient_id=patient_id,
            appointment_type_id=kind.id,
            form_key=form_key,
            now=now,
        )
        audit.record(
            session,
            ctx,
            action="request",
            entity="booking_requests",
            entity_id=request.id,
            reason=f"booking requested by {viewer.actor()}",
        )
        return Made(request_id=request.id)
    try:
        appointment = scheduling.book(
            session,
            ctx,
            appointment_id=appointment_id_for(viewer.clinic_id, form_key),
            provider_id=provider_id,
            patient_id=patient_id,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=kind.duration_minutes),
            source=AppointmentSource.PORTAL,
            appointment_type_id=kind.id,
            status=AppointmentStatus.CONFIRMED,
        )
    except SlotTaken:
        raise SlotTaken(TAKEN) from None
    audit.record(
        session,
        ctx,
        action="book",
        entity="appointments",
        entity_id=appointment.id,
        reason=f"booked by {viewer.actor()}",
    )
    session.flush()
    automated.confirm_booking(session, viewer.clinic_id, appointment)
    return Made(appointment_id=appointment.id)


@dataclass(frozen=True)
class Waiting:
    """A request the clinic has not answered yet, as the patient reads it."""

    when: str
    type_name: str
    provider: str
    for_name: str


def waiting(session: Session, viewer: Viewer, now: datetime) -> list[Waiting]:
    """The people's requests still waiting for the clinic (types that need its
    confirmation), soonest first: they are not appointments yet, but they are not gone."""
    people = {p.patient_id: p for p in viewer.people}
    zone = clinic_zone(session, viewer.clinic_id)
    rows = session.scalars(
        select(BookingRequest)
        .where(
            BookingRequest.clinic_id == viewer.clinic_id,
            BookingRequest.patient_id.in_(list(people)),
            BookingRequest.status == BookingRequestStatus.PENDING,
            BookingRequest.starts_at > now,
        )
        .order_by(BookingRequest.starts_at)
    )
    found = []
    for row in rows:
        provider = session.get(Provider, row.provider_id)
        kind = (
            session.get(AppointmentType, row.appointment_type_id)
            if row.appointment_type_id
            else None
        )
        person = people[row.patient_id]  # type: ignore[index]
        local = row.starts_at.astimezone(zone)
        found.append(
            Waiting(
                when=f"{long_day(local.date())} at {local:%H:%M}",
                type_name=kind.name if kind else "Appointment",
                provider=provider.display_name if provider else "",
                for_name="" if person.relation is Relation.SELF else person.name,
            )
        )
    return found


def change_window(session: Session, viewer: Viewer, starts_at: datetime, now: datetime) -> str:
    """What the review page says before booking: until when the patient may cancel or
    move it online (the clinic's cut-off), or that they will not be able to at all."""
    rules = booking_rules_of(session, viewer.clinic_id)
    brand = viewer.brand
    call = f" (call {brand.name} on {brand.phone})" if brand.phone else f" (call {brand.name})"
    if not rules.patients_may_cancel:
        return f"Once booked, changes and cancellations go through the clinic{call}."
    until = starts_at - rules.patient_cancel_cutoff
    if until <= now:
        return (
            f"This time is less than {_span(rules.patient_cancel_cutoff)} away: once booked, "
            f"it cannot be cancelled online{call}."
        )
    zone = clinic_zone(session, viewer.clinic_id)
    local = until.astimezone(zone)
    return (
        f"You can cancel it online until {long_day(local.date())} at {local:%H:%M}; "
        f"after that{call}."
    )
