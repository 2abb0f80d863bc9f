"""The patient's side of booking links and manage links: what the pages under ``/l/`` and
``/m/`` ask of the database.

A booking link lets one patient book one appointment of the kind its rule offers; a
manage link (sent with the booking's confirmation) shows that appointment and, if the
rule allows, moves it. Both are found by their token's digest only, and each carries its
clinic, so nothing here takes a clinic from the request.

Reading a link (a GET, a HEAD, a mail scanner's preview) changes nothing. Every change
is a patient's POST, in one ``db.writing()``, with the link's row locked first: a double
click acts once. Bookings and moves go through ``server.scheduling.service`` (the
booking guarantee) as the patient's own action (``AuthContext.for_patient``), audited as
such; nothing here writes an appointment row.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.appointments import MOVABLE, AppointmentSource, AppointmentStatus
from common.availability import OfferedSlot
from common.booking_links import BookingLinkStatus
from common.errors import InvalidInput, SlotTaken
from common.message_templates import CommunicationType, context_for
from common.messaging import Channel, DeliveryStatus, Direction, Purpose
from common.scheduling import AppointmentTypeRules, BookingRules
from server import kit
from server.audit import service as audit
from server.auth.context import AuthContext
from server.booking_links.models import BookingLink, BookingLinkEvent, BroadcastRule, ManageLink
from server.clinics.models import Clinic
from server.forms import onboarding
from server.messaging import automated
from server.messaging import service as messaging
from server.messaging.models import Message
from server.patients.models import Patient
from server.scheduling import service as scheduling
from server.scheduling.models import Appointment, AppointmentType, Provider
from server.scheduling.settings import booking_rules_of, type_rules
from server.web import tokens
from server.web.models import PracticeProfile

# A manage link outlives its appointment by a day (the patient may look back at it).
MANAGE_LINK_GRACE = timedelta(days=1)
CODE_DIGITS = 6
CODE_VALID = timedelta(minutes=10)
# Wrong codes before the one sent stops working (a new one must be asked for).
CODE_TRIES = 5
DAYS_SHOWN = 7
# An unread "asked for a new link" note on the patient's conversation is not repeated.
REQUEST_REPEAT = timedelta(days=1)
TAKEN = (
    "Sorry, that time has just been taken by someone else. Please choose another of the "
    "times below."
)
LINK_REQUEST_KIND = "link_request"
STAFF_NOTICE_KIND = "staff_notice"
CONFIRMATION_KIND = CommunicationType.CONFIRMATION.value
CODE_KIND = "verification_code"


class LinkState(StrEnum):
    """What opening a booking link shows."""

    OPEN = "open"  # the welcome page, then the times
    BOOKED = "booked"  # "your appointment is booked"
    EXPIRED = "expired"  # its time ran out, or staff expired it
    DELETED = "deleted"  # staff removed it from the file


def state_of(link: BookingLink, now: datetime) -> LinkState:
    if link.status in (BookingLinkStatus.BOOKED, BookingLinkStatus.RESCHEDULED):
        return LinkState.BOOKED
    if link.status is BookingLinkStatus.DELETED:
        return LinkState.DELETED
    if link.status is BookingLinkStatus.EXPIRED or tokens.expired(link.expires_at, now):
        return LinkState.EXPIRED
    return LinkState.OPEN


# --- what the pages show ----------------------------------------------------------------


@dataclass(frozen=True)
class Visit:
    """An appointment as its patient reads it, in the clinic's time."""

    appointment_id: uuid.UUID
    provider_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    day: str  # "Monday 2 March 2026"
    time: str  # "10:00"
    provider: str
    type_name: str
    status: AppointmentStatus
    past: bool
    video_url: str | None = None  # a video consultation's room

    @property
    def cancelled(self) -> bool:
        return self.status is AppointmentStatus.CANCELLED

    @property
    def when(self) -> str:
        return f"{self.day} at {self.time}"


def visit_of(session: Session, appointment: Appointment, zone: ZoneInfo, now: datetime) -> Visit:
    provider = session.get(Provider, appointment.provider_id)
    kind = (
        session.get(AppointmentType, appointment.appointment_type_id)
        if appointment.appointment_type_id
        else None
    )
    local = appointment.starts_at.astimezone(zone)
    return Visit(
        appointment_id=appointment.id,
        provider_id=appointment.provider_id,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        day=long_day(local.date()),
        time=f"{local:%H:%M}",
        provider=provider.display_name if provider else "",
        type_name=kind.name if kind else "Appointment",
        status=appointment.status,
        past=appointment.ends_at <= now,
        video_url=appointment.video_url,
    )


def long_day(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def short_when(moment: datetime, zone: ZoneInfo) -> str:
    """ "Mon 3 Mar 10:00": what a text message or a desk's note says."""
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %H:%M}"


@dataclass(frozen=True)
class LinkView:
    link_id: uuid.UUID
    clinic_id: uuid.UUID
    state: LinkState
    title: str
    type_name: str
    welcome_text: str
    confirmation_text: str
    cancellation_policy: str
    visit: Visit | None


def find_link(session: Session, token: str, *, lock: bool = False) -> BookingLink | None:
    """The link a token opens (None for anything else, however odd the token)."""
    if not tokens.plausible(token):
        return None
    query = select(BookingLink).where(BookingLink.token_hash == tokens.digest(token))
    return session.scalar(query.with_for_update() if lock else query)


def view_link(session: Session, link: BookingLink, now: datetime) -> LinkView:
    rule = session.get(BroadcastRule, link.rule_id)
    kind = session.get(AppointmentType, link.appointment_type_id)
    visit = None
    if link.appointment_id is not None:
        appointment = kit.find(session, Appointment, link.clinic_id, link.appointment_id)
        if appointment is not None:
            visit = visit_of(
                session, appointment, scheduling.clinic_zone(session, link.clinic_id), now
            )
    return LinkView(
        link_id=link.id,
        clinic_id=link.clinic_id,
        state=state_of(link, now),
        title=rule.title if rule else "",
        type_name=kind.name if kind else "Appointment",
        welcome_text=rule.welcome_text if rule else "",
        confirmation_text=rule.confirmation_text if rule else "",
        cancellation_policy=_cancellation_policy(session, link.clinic_id),
        visit=visit,
    )


def _cancellation_policy(session: Session, clinic_id: uuid.UUID) -> str:
    profile = session.scalar(select(PracticeProfile).where(PracticeProfile.clinic_id == clinic_id))
    return profile.cancellation_policy if profile else ""


def _event(
    session: Session,
    link: BookingLink,
    status: BookingLinkStatus,
    now: datetime,
    detail: str = "",
    appointment: Appointment | None = None,
) -> None:
    session.add(
        BookingLinkEvent(
            clinic_id=link.clinic_id,
            link_id=link.id,
            at=now,
            status=status,
            detail=detail[:200],
            appointment_id=appointment.id if appointment else None,
            starts_at=appointment.starts_at if appointment else None,
            provider_id=appointment.provider_id if appointment else None,
        )
    )


def begin(session: Session, token: str, now: datetime) -> LinkState | None:
    """The patient pressed "Continue to book appointment": a sent link becomes accessed
    (once, however often it is pressed). None: no such link."""
    link = find_link(session, token, lock=True)
    if link is None:
        return None
    state = state_of(link, now)
    if state is LinkState.OPEN and link.status is BookingLinkStatus.SENT:
        link.status = BookingLinkStatus.ACCESSED
        link.accessed_at = now
        _event(session, link, BookingLinkStatus.ACCESSED, now, "opened by the patient")
        session.flush()
    return state


# --- free times -------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """One time a patient may pick: a radio button's value and words."""

    value: str
    provider_id: uuid.UUID
    provider: str
    starts_at: datetime
    time: str


@dataclass(frozen=True)
class Day:
    label: str
    by_provider: list[tuple[str, list[Choice]]]


@dataclass(frozen=True)
class Week:
    first: date
    last: date
    days: list[Day]
    earlier: date | None
    later: date | None
    several_providers: bool

    @property
    def label(self) -> str:
        return f"{self.first.day} {self.first:%B} to {self.last.day} {self.last:%B %Y}"


def slot_value(provider_id: uuid.UUID, starts_at: datetime) -> str:
    return f"{provider_id}.{int(starts_at.timestamp())}"


def parse_slot(value: str) -> tuple[uuid.UUID, datetime] | None:
    """A radio button's value back to (provider, start); None if it is not one."""
    provider, _, seconds = value.partition(".")
    try:
        starts_at = datetime.fromtimestamp(int(seconds), UTC)
        provider_id = uuid.UUID(provider)
    except (ValueError, OverflowError, OSError):
        return None
    return (provider_id, starts_at) if _plausible_year(starts_at) else None


def _plausible_year(moment: datetime) -> bool:
    # Anything may arrive in a URL; far-off years would overflow local-time arithmetic.
    return 2000 <= moment.year <= 2200


def parse_start(provider: str, start: str) -> tuple[uuid.UUID, datetime] | None:
    """``?provider=…&start=…`` (an ISO instant with its offset) as a slot."""
    try:
        starts_at = datetime.fromisoformat(start)
        provider_id = uuid.UUID(provider)
    except ValueError:
        return None
    if starts_at.tzinfo is None or not _plausible_year(starts_at):
        return None
    return provider_id, starts_at.astimezone(UTC)


def offering(
    session: Session, clinic_id: uuid.UUID, kind: AppointmentType, wanted: list[str]
) -> list[Provider]:
    """The active providers who offer ``kind``, limited to ``wanted`` (empty: all)."""
    rules = type_rules(kind)
    rows = session.scalars(
        select(Provider)
        .where(Provider.clinic_id == clinic_id, Provider.deleted_at.is_(None), Provider.active)
        .order_by(Provider.display_name, Provider.id)
    )
    return [p for p in rows if rules.offered_by(p.id) and (not wanted or str(p.id) in wanted)]


def link_rules(kind: AppointmentType) -> AppointmentTypeRules:
    """What a link offers of its type: the clinic chose to send this patient a link for
    it, so it is offered even if the type is not open to the public booking widget; the
    patients' rules (notice, horizon, rounding, caps) still bind."""
    return dataclasses.replace(type_rules(kind), bookable_online=True)


def _offered(
    session: Session,
    clinic_id: uuid.UUID,
    kind: AppointmentType,
    providers: list[Provider],
    first_day: date,
    last_day: date,
    now: datetime,
    limit: int | None = None,
) -> list[tuple[OfferedSlot, Provider]]:
    if not kind.active or kind.deleted_at is not None or first_day > last_day:
        return []
    rules = link_rules(kind)
    found = [
        (slot, provider)
        for provider in providers
        for slot in scheduling.offered_slots(
            session,
            clinic_id,
            rules,
            first_day=first_day,
            last_day=last_day,
            now=now,
            provider_id=provider.id,
            limit=limit,
        )
    ]
    return sorted(found, key=lambda pair: (pair[0].starts_at, pair[1].display_name))


@dataclass(frozen=True)
class Offer:
    """What a link (or a manage link's move) may book: a type, its providers, days."""

    clinic_id: uuid.UUID
    kind: AppointmentType
    providers: list[Provider]
    first_day: date
    last_day: date

    def slots(
        self, session: Session, now: datetime, first_day: date, last_day: date
    ) -> list[tuple[OfferedSlot, Provider]]:
        return _offered(
            session,
            self.clinic_id,
            self.kind,
            self.providers,
            max(first_day, self.first_day),
            min(last_day, self.last_day),
            now,
        )

    def first_free_day(self, session: Session, now: datetime) -> date | None:
        """The first day with a free time (each provider asked for one slot only)."""
        zone = scheduling.clinic_zone(session, self.clinic_id)
        found = _offered(
            session,
            self.clinic_id,
            self.kind,
            self.providers,
            self.first_day,
            self.last_day,
            now,
            limit=1,
        )
        return found[0][0].starts_at.astimezone(zone).date() if found else None

    def has(
        self, session: Session, provider_id: uuid.UUID, starts_at: datetime, now: datetime
    ) -> bool:
        """Whether this exact time is offered now (checked again when it is booked)."""
        chosen = [p for p in self.providers if p.id == provider_id]
        zone = scheduling.clinic_zone(session, self.clinic_id)
        day = starts_at.astimezone(zone).date()
        if not chosen or not self.first_day <= day <= self.last_day:
            return False
        offered = _offered(session, self.clinic_id, self.kind, chosen, day, day, now)
        return any(slot.starts_at == starts_at for slot, _ in offered)


def link_offer(session: Session, link: BookingLink, now: datetime) -> Offer | None:
    kind = kit.find(session, AppointmentType, link.clinic_id, link.appointment_type_id)
    if kind is None:
        return None
    today = now.astimezone(scheduling.clinic_zone(session, link.clinic_id)).date()
    return Offer(
        clinic_id=link.clinic_id,
        kind=kind,
        providers=offering(session, link.clinic_id, kind, list(link.provider_ids or [])),
        first_day=max(link.first_day, today),
        last_day=link.last_day,
    )


def week_of(session: Session, offer: Offer | None, wanted: date | None, now: datetime) -> Week:
    """One week of an offer's free times, from ``wanted`` (default: the week of the
    first free time), with the weeks before and after if the offer reaches them."""
    if offer is None:
        today = now.date()
        return Week(today, today, [], None, None, False)
    zone = scheduling.clinic_zone(session, offer.clinic_id)
    first = offer.first_day
    if wanted is None:
        start = offer.first_free_day(session, now) or first
    else:
        start = min(max(wanted, first), max(first, offer.last_day))
    index = (start - first).days // DAYS_SHOWN
    week_first = first + timedelta(days=index * DAYS_SHOWN)
    week_last = min(week_first + timedelta(days=DAYS_SHOWN - 1), offer.last_day)
    slots = offer.slots(session, now, week_first, week_last)
    several = len(offer.providers) > 1
    days: dict[date, dict[str, list[Choice]]] = {}
    for slot, provider in slots:
        local = slot.starts_at.astimezone(zone)
        if not week_first <= local.date() <= week_last:
            continue
        days.setdefault(local.date(), {}).setdefault(provider.display_name, []).append(
            Choice(
                value=slot_value(provider.id, slot.starts_at),
                provider_id=provider.id,
                provider=provider.display_name,
                starts_at=slot.starts_at,
                time=f"{local:%H:%M}",
            )
        )
    shown = [Day(long_day(day), sorted(groups.items())) for day, groups in sorted(days.items())]
    earlier = week_first - timedelta(days=DAYS_SHOWN) if week_first > first else None
    later = week_first + timedelta(days=DAYS_SHOWN) if week_last < offer.last_day else None
    return Week(week_first, week_last, shown, earlier, later, several)


def describe(
    session: Session, offer: Offer, provider_id: uuid.UUID, starts_at: datetime, now: datetime
) -> Visit | None:
    """A time the patient picked, for the review page (None: not one on offer)."""
    if not offer.has(session, provider_id, starts_at, now):
        return None
    provider = next(p for p in offer.providers if p.id == provider_id)
    zone = scheduling.clinic_zone(session, offer.clinic_id)
    local = starts_at.astimezone(zone)
    return Visit(
        appointment_id=uuid.UUID(int=0),
        provider_id=provider_id,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=offer.kind.duration_minutes),
        day=long_day(local.date()),
        time=f"{local:%H:%M}",
        provider=provider.display_name,
        type_name=offer.kind.name,
        status=AppointmentStatus.BOOKED,
        past=False,
    )


# --- booking ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Booked:
    state: LinkState
    manage_token: str | None = None  # only when this call booked it


def confirm(
    session: Session,
    token: str,
    *,
    provider_id: uuid.UUID,
    starts_at: datetime,
    now: datetime,
    public_base_url: str,
) -> Booked | None:
    """Book the chosen time through the link, once. A link booked already (a double
    click, a reload) answers as booked and books nothing more; a closed link books
    nothing; a time no longer offered is ``SlotTaken`` (the caller's transaction rolls
    back, the link stays open). None: no such link."""
    link = find_link(session, token, lock=True)
    if link is None:
        return None
    state = state_of(link, now)
    if state is not LinkState.OPEN:
        return Booked(state)
    offer = link_offer(session, link, now)
    if offer is None or not offer.has(session, provider_id, starts_at, now):
        raise SlotTaken(TAKEN)
    ctx = AuthContext.for_patient(link.clinic_id, link.patient_id)
    kind = offer.kind
    try:
        appointment = scheduling.book(
            session,
            ctx,
            appointment_id=uuid.uuid4(),
            provider_id=provider_id,
            patient_id=link.patient_id,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=kind.duration_minutes),
            source=AppointmentSource.LINK,
            appointment_type_id=kind.id,
            status=(
                AppointmentStatus.BOOKED
                if kind.requires_confirmation
                else AppointmentStatus.CONFIRMED
            ),
        )
    except SlotTaken:
        raise SlotTaken(TAKEN) from None
    link.status = BookingLinkStatus.BOOKED
    link.booked_at = now
    link.accessed_at = link.accessed_at or now
    link.appointment_id = appointment.id
    provider = next(p for p in offer.providers if p.id == provider_id)
    _event(
        session,
        link,
        BookingLinkStatus.BOOKED,
        now,
        f"booked with {provider.display_name}",
        appointment,
    )
    manage_token = tokens.new_token()
    session.add(
        ManageLink(
            clinic_id=link.clinic_id,
            appointment_id=appointment.id,
            patient_id=link.patient_id,
            booking_link_id=link.id,
            token_hash=tokens.digest(manage_token),
            allow_reschedule=link.allow_reschedule,
            expires_at=appointment.ends_at + MANAGE_LINK_GRACE,
        )
    )
    audit.record(
        session,
        ctx,
        action="book",
        entity="appointments",
        entity_id=appointment.id,
        reason="booked by the patient through a booking link",
    )
    session.flush()
    send_confirmation(
        session, appointment, manage_url(public_base_url, manage_token), secret=manage_token
    )
    onboarding.welcome(
        session,
        ctx,
        appointment,
        scheduling.clinic_zone(session, link.clinic_id),
        now=now,
        public_base_url=public_base_url,
    )
    return Booked(LinkState.BOOKED, manage_token)


def manage_url(public_base_url: str, token: str) -> str:
    return f"{public_base_url.rstrip('/')}/m/{token}"


def confirmation_sms(clinic_name: str, visit_words: str, url: str) -> str:
    return (
        f"{clinic_name}: your appointment is booked for {visit_words}. To view or change it: {url}"
    )


def send_confirmation(
    session: Session, appointment: Appointment, url: str, *, secret: str
) -> Message | None:
    """One confirmation for a booking made through a link: a text with the day, the time
    and the manage link, and the clinic's usual confirmation e-mail (with the .ics) as
    one message, so the patient never gets two texts for one booking. Sent as the
    clinic's other confirmations are: not when it sends none, not without an address.
    ``secret`` (the manage link's token) is masked in the desks' copy of the message."""
    clinic = session.get(Clinic, appointment.clinic_id)
    patient = session.get(Patient, appointment.patient_id)
    if clinic is None or patient is None:
        return None
    if not messaging.settings_of(session, clinic.id).send_confirmations:
        return None
    facts = automated.clinic_facts(session, clinic)
    zone = ZoneInfo(clinic.time_zone)
    local = appointment.starts_at.astimezone(zone)
    drafts: list[messaging.Draft] = []
    if messaging.address_of(patient, Channel.EMAIL):
        context = context_for(
            clinic=facts,
            patient=automated.patient_facts(patient),
            appointment=automated.appointment_facts(session, appointment),
        )
        made = automated.draft(
            session,
            clinic.id,
            CommunicationType.CONFIRMATION,
            Channel.EMAIL,
            context,
            facts.language,
        )
        if made is not None:
            drafts.append(made)
    if messaging.address_of(patient, Channel.SMS):
        words = f"{local:%a} {local.day} {local:%b} at {local:%H:%M}"
        drafts.append(messaging.Draft(Channel.SMS, confirmation_sms(facts.name, words, url)))
    if not drafts:
        return None
    return messaging.compose(
        session,
        clinic.id,
        patient=patient,
        purpose=Purpose.CARE,
        kind=CONFIRMATION_KIND,
        drafts=drafts,
        appointment_id=appointment.id,
        calendar=True,
        conceal=[secret],
    )


# --- notes for the desk -----------------------------------------------------------------


def note_for_desk(
    session: Session,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    *,
    kind: str,
    body: str,
    now: datetime,
    appointment_id: uuid.UUID | None = None,
) -> Message:
    """A line on the patient's conversation in the desk's Messages, unread, as a text
    from the patient would be: the inbox is where the front desk already looks, and it
    needs no new table. Nothing is sent to anyone (no channel, no delivery)."""
    message = Message(
        id=uuid.uuid4(),
        clinic_id=clinic_id,
        patient_id=patient_id,
        direction=Direction.IN,
        purpose=Purpose.CARE,
        kind=kind,
        channels=[],
        body=body,
        counterpart=None,
        appointment_id=appointment_id,
        due_at=now,
        deliveries=[],
    )
    session.add(message)
    session.flush()
    return message


def ask_for_new_link(session: Session, token: str, now: datetime) -> LinkState | None:
    """The patient of an expired (or removed) link asks the clinic for a fresh one: a
    note on their conversation, once while it waits unread. None: no such link; an open
    or booked link asks for nothing."""
    link = find_link(session, token, lock=True)
    if link is None:
        return None
    state = state_of(link, now)
    if state not in (LinkState.EXPIRED, LinkState.DELETED):
        return state
    waiting = session.scalar(
        select(Message.id).where(
            Message.clinic_id == link.clinic_id,
            Message.patient_id == link.patient_id,
            Message.kind == LINK_REQUEST_KIND,
            Message.read_at.is_(None),
            Message.deleted_at.is_(None),
            Message.due_at > now - REQUEST_REPEAT,
        )
    )
    if waiting is None:
        rule = session.get(BroadcastRule, link.rule_id)
        patient = session.get(Patient, link.patient_id)
        name = patient.first_name if patient else "The patient"
        what = f" ({rule.title})" if rule and rule.title else ""
        note_for_desk(
            session,
            link.clinic_id,
            link.patient_id,
            kind=LINK_REQUEST_KIND,
            body=f"{name} asked for a new booking link{what}: the one they had has {state.value}.",
            now=now,
        )
    return state


# --- manage links -----------------------------------------------------------------------


def find_manage(session: Session, token: str, *, lock: bool = False) -> ManageLink | None:
    if not tokens.plausible(token):
        return None
    query = select(ManageLink).where(ManageLink.token_hash == tokens.digest(token))
    return session.scalar(query.with_for_update() if lock else query)


def manage_usable(session: Session, link: ManageLink, now: datetime) -> Appointment | None:
    """The link's appointment, if the link still works (None: expired, or the
    appointment was removed). It works until a day after the appointment as it stands
    now: staff may have moved it later since the link was made."""
    appointment = kit.find(session, Appointment, link.clinic_id, link.appointment_id)
    if appointment is None:
        return None
    if tokens.expired(max(link.expires_at, appointment.ends_at + MANAGE_LINK_GRACE), now):
        return None
    return appointment


@dataclass(frozen=True)
class ManageView:
    visit: Visit
    information: str
    cancellation_policy: str
    may_reschedule: bool
    why_not: str  # when it may not be moved online, in words


def reschedule_refusal(
    rules: BookingRules, link: ManageLink, appointment: Appointment, now: datetime
) -> str | None:
    """Why this appointment cannot be moved online now (None: it can)."""
    if appointment.status is AppointmentStatus.CANCELLED:
        return "This appointment was cancelled."
    if appointment.starts_at <= now:
        return "This appointment has already taken place."
    if not link.allow_reschedule or not rules.patients_may_cancel:
        return "This appointment cannot be changed online."
    if appointment.status not in MOVABLE or appointment.appointment_type_id is None:
        return "This appointment cannot be changed online."
    if appointment.starts_at - now < rules.patient_reschedule_cutoff:
        hours = int(rules.patient_reschedule_cutoff.total_seconds() // 3600)
        return (
            f"Appointments can be changed online up to {hours} hours before they start, "
            "and this one is sooner than that."
        )
    return None


def view_manage(
    session: Session, link: ManageLink, appointment: Appointment, now: datetime
) -> ManageView:
    zone = scheduling.clinic_zone(session, link.clinic_id)
    rule_text = ""
    if link.booking_link_id is not None:
        booking_link = session.get(BookingLink, link.booking_link_id)
        rule = session.get(BroadcastRule, booking_link.rule_id) if booking_link else None
        rule_text = rule.confirmation_text if rule else ""
    why_not = reschedule_refusal(booking_rules_of(session, link.clinic_id), link, appointment, now)
    return ManageView(
        visit=visit_of(session, appointment, zone, now),
        information=rule_text,
        cancellation_policy=_cancellation_policy(session, link.clinic_id),
        may_reschedule=why_not is None,
        why_not=why_not or "",
    )


def manage_offer(
    session: Session, link: ManageLink, appointment: Appointment, now: datetime
) -> Offer | None:
    """Where an appointment may move: its own type, with the booking link's providers
    (without one, any provider offering the type), up to the patients' booking horizon."""
    if appointment.appointment_type_id is None:
        return None
    kind = kit.find(session, AppointmentType, link.clinic_id, appointment.appointment_type_id)
    if kind is None:
        return None
    wanted: list[str] = []
    if link.booking_link_id is not None:
        booking_link = session.get(BookingLink, link.booking_link_id)
        wanted = list(booking_link.provider_ids or []) if booking_link else []
    zone = scheduling.clinic_zone(session, link.clinic_id)
    today = now.astimezone(zone).date()
    rules = booking_rules_of(session, link.clinic_id)
    return Offer(
        clinic_id=link.clinic_id,
        kind=kind,
        providers=offering(session, link.clinic_id, kind, wanted),
        first_day=today,
        last_day=today + timedelta(days=rules.horizon_days),
    )


def date_of_birth_matches(session: Session, link: ManageLink, typed: date) -> bool:
    patient = session.get(Patient, link.patient_id)
    return (
        patient is not None and patient.date_of_birth is not None and patient.date_of_birth == typed
    )


def has_date_of_birth(session: Session, link: ManageLink) -> bool:
    patient = session.get(Patient, link.patient_id)
    return patient is not None and patient.date_of_birth is not None


def code_digest(secret: str, link_id: uuid.UUID, code: str) -> str:
    """What is kept of a code: keyed, so six digits cannot be tried against a copy of
    the database."""
    return hmac.new(
        secret.encode(), f"manage-code:{link_id}:{code}".encode(), hashlib.sha256
    ).hexdigest()


class CodeSent(StrEnum):
    SENT = "sent"
    NO_PHONE = "no_phone"
    HELD = "held"  # the patient's number may not be texted (opted out, no country code)


def send_code(session: Session, token: str, *, secret: str, now: datetime) -> CodeSent | None:
    """Text a fresh code to the patient's mobile (the last one sent stops working).
    None: no usable link."""
    link = find_manage(session, token, lock=True)
    if link is None or manage_usable(session, link, now) is None:
        return None
    patient = session.get(Patient, link.patient_id)
    if patient is None or not patient.phone:
        return CodeSent.NO_PHONE
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    link.code_hash = code_digest(secret, link.id, code)
    link.code_expires_at = now + CODE_VALID
    link.code_attempts = 0
    name = messaging.sender_name(session, link.clinic_id)
    message = messaging.compose(
        session,
        link.clinic_id,
        patient=patient,
        purpose=Purpose.CARE,
        kind=CODE_KIND,
        drafts=[
            messaging.Draft(
                Channel.SMS,
                f"{name}: your code to see your appointment is {code}. It works for 10 "
                "minutes. If you did not ask for it, ignore this text.",
            )
        ],
        urgent=True,  # asked for now: not held for the morning
        conceal=[code],  # the desks see that a code went, not the code
    )
    held = any(entry.get("status") == DeliveryStatus.HELD.value for entry in message.deliveries)
    return CodeSent.HELD if held else CodeSent.SENT


def code_matches(session: Session, token: str, code: str, *, secret: str, now: datetime) -> bool:
    """Check a typed code against the one sent; a wrong one counts, and after
    ``CODE_TRIES`` the code stops working. A right one works once."""
    link = find_manage(session, token, lock=True)
    if link is None or link.code_hash is None or link.code_expires_at is None:
        return False
    if link.code_expires_at <= now or link.code_attempts >= CODE_TRIES:
        link.code_hash = None
        return False
    typed = "".join(code.split())
    if (
        len(typed) == CODE_DIGITS
        and typed.isdigit()
        and hmac.compare_digest(code_digest(secret, link.id, typed), link.code_hash)
    ):
        link.code_hash = None
        link.code_expires_at = None
        link.code_attempts = 0
        return True
    link.code_attempts += 1
    return False


@dataclass(frozen=True)
class Moved:
    visit: Visit
    provider_changed: bool


def reschedule(
    session: Session,
    token: str,
    *,
    provider_id: uuid.UUID,
    starts_at: datetime,
    now: datetime,
) -> Moved | None:
    """Move the link's appointment to a time on offer, through ``scheduling.move`` (the
    booking guarantee decides). A move to another provider leaves them a note in the
    desk's Messages. None: no usable link. Refusals are ``InvalidInput`` (not allowed
    now, in words) or ``SlotTaken``."""
    link = find_manage(session, token, lock=True)
    if link is None:
        return None
    appointment = manage_usable(session, link, now)
    if appointment is None:
        return None
    why_not = reschedule_refusal(booking_rules_of(session, link.clinic_id), link, appointment, now)
    if why_not is not None:
        raise InvalidInput(why_not)
    offer = manage_offer(session, link, appointment, now)
    if offer is None or not offer.has(session, provider_id, starts_at, now):
        raise SlotTaken(TAKEN)
    ctx = AuthContext.for_patient(link.clinic_id, link.patient_id)
    zone = scheduling.clinic_zone(session, link.clinic_id)
    before_provider, before_start = appointment.provider_id, appointment.starts_at
    try:
        moved = scheduling.move(
            session,
            ctx,
            appointment_id=appointment.id,
            base_version=appointment.version,
            provider_id=provider_id,
            starts_at=starts_at,
            ends_at=starts_at + (appointment.ends_at - appointment.starts_at),
        )
    except SlotTaken:
        raise SlotTaken(TAKEN) from None
    link.expires_at = moved.ends_at + MANAGE_LINK_GRACE
    audit.record(
        session,
        ctx,
        action="move",
        entity="appointments",
        entity_id=moved.id,
        reason="moved by the patient through their manage link",
    )
    if link.booking_link_id is not None:
        booking_link = session.get(BookingLink, link.booking_link_id, with_for_update=True)
        if booking_link is not None:
            booking_link.status = BookingLinkStatus.RESCHEDULED
            _event(
                session,
                booking_link,
                BookingLinkStatus.RESCHEDULED,
                now,
                f"moved by the patient from {short_when(before_start, zone)}",
                moved,
            )
    changed = before_provider != provider_id
    if changed:
        old = session.get(Provider, before_provider)
        new = session.get(Provider, provider_id)
        patient = session.get(Patient, link.patient_id)
        who = f"{patient.first_name} {patient.last_name}" if patient else "A patient"
        note_for_desk(
            session,
            link.clinic_id,
            link.patient_id,
            kind=STAFF_NOTICE_KIND,
            body=(
                f"For {new.display_name if new else 'the provider'}: {who} booked online with "
                f"you: {short_when(moved.starts_at, zone)} (moved from "
                f"{old.display_name if old else 'another provider'}, "
                f"{short_when(before_start, zone)})."
            ),
            now=now,
            appointment_id=moved.id,
        )
    session.flush()
    automated.appointment_changed(session, link.clinic_id, moved, moved=True, confirm_new_time=True)
    return Moved(visit_of(session, moved, zone, now), changed)
