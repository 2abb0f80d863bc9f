"""The staff side of booking links: the broadcast rules clinic admins set up, and the
links sent, re-sent, expired and deleted from a patient's file.

A link's address is made here and handed back once, in the answer to sending it; only its
digest is kept (``server.web.tokens``), so a copy of the link tables opens nothing. The
text that carries it goes through ``messaging.service.compose``, which holds it, with the
reason, when the patient has no mobile number or asked for no texts.

Expiry is computed when read: an open link (sent or accessed) whose time ran out reads
"expired" in every answer, and the history shows when it ran out, though no GET writes
anything. The next change to the patient's links (sending another under the same rule,
re-sending, expiring) writes it down for good, with its event.

Services flush, never commit: the endpoint's ``db.writing()`` commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.booking_links import BookingLinkStatus
from common.broadcast_rules import RuleDays, check_rule, fill, link_url, refuse
from common.errors import Conflict, InvalidInput
from common.messaging import Channel, Purpose
from common.roles import Permission
from server import kit
from server.audit import service as audit
from server.auth.context import AuthContext
from server.booking_links.models import BookingLink, BookingLinkEvent, BroadcastRule
from server.db import utcnow
from server.messaging import service as messaging
from server.patients.models import Patient
from server.scheduling.models import Appointment, AppointmentType, Provider
from server.scheduling.service import clinic_zone
from server.staff.models import StaffUser
from server.web import tokens
from sync.protocol import (
    BookingLinkEventRecord,
    BookingLinkRecord,
    BroadcastRuleRecord,
    SaveBroadcastRule,
)

MESSAGE_KIND = "booking_link"
OPEN = (BookingLinkStatus.SENT, BookingLinkStatus.ACCESSED)
RAN_OUT = "The link's time ran out."


# --- rules ------------------------------------------------------------------------------


def _rule(
    session: Session, clinic_id: uuid.UUID, rule_id: uuid.UUID, *, lock: bool = False
) -> BroadcastRule:
    row = kit.find(session, BroadcastRule, clinic_id, rule_id, lock=lock)
    if row is None or row.deleted_at is not None:
        raise kit.not_found("broadcast rule")
    return row


def list_rules(
    session: Session, ctx: AuthContext, *, include_inactive: bool = False
) -> list[BroadcastRule]:
    """The active rules (the send menu, for any staff); every live one for admins."""
    if include_inactive:
        ctx.require(Permission.SETTINGS_MANAGE)
    query = select(BroadcastRule).where(
        BroadcastRule.clinic_id == ctx.clinic_id, BroadcastRule.deleted_at.is_(None)
    )
    if not include_inactive:
        query = query.where(BroadcastRule.active.is_(True))
    return list(session.scalars(query.order_by(func.lower(BroadcastRule.title))))


def _check(
    session: Session,
    ctx: AuthContext,
    body: SaveBroadcastRule,
    *,
    base_url: str,
    rule_id: uuid.UUID | None,
) -> list[str]:
    """Every problem with ``body``, in words, including what only the server knows: the
    type and the providers, and the other rules' titles."""
    clinic = messaging.sender_name(session, ctx.clinic_id)
    problems = check_rule(
        title=body.title,
        days=RuleDays(body.earliest_days, body.latest_days, body.link_valid_days),
        welcome_text=body.welcome_text,
        sms_text=body.sms_text,
        confirmation_text=body.confirmation_text,
        clinic=clinic,
        base=base_url,
    )
    kind = kit.find(session, AppointmentType, ctx.clinic_id, body.appointment_type_id)
    if kind is None:
        problems.append("There is no such appointment type in this clinic.")
    elif not kind.active:
        problems.append(f"The appointment type “{kind.name}” is no longer in use.")
    wanted = list(dict.fromkeys(body.provider_ids))
    found = {
        p.id: p
        for p in session.scalars(
            select(Provider).where(
                Provider.clinic_id == ctx.clinic_id,
                Provider.id.in_(wanted),
                Provider.deleted_at.is_(None),
            )
        )
    }
    if len(found) != len(wanted):
        problems.append("Some of the chosen providers are not in this clinic.")
    if kind is not None and kind.provider_ids:
        offering = set(kind.provider_ids)
        outside = [p.display_name for p in found.values() if str(p.id) not in offering]
        if outside:
            problems.append(f"{', '.join(sorted(outside))} do not offer “{kind.name}”.")
    title = body.title.strip()
    if title:
        same = select(BroadcastRule.id).where(
            BroadcastRule.clinic_id == ctx.clinic_id,
            BroadcastRule.deleted_at.is_(None),
            BroadcastRule.active.is_(True),
            func.lower(BroadcastRule.title) == title.lower(),
        )
        if rule_id is not None:
            same = same.where(BroadcastRule.id != rule_id)
        if session.scalar(same) is not None:
            problems.append(f"Another active rule is called “{title}”: choose another title.")
    return problems


def save_rule(
    session: Session,
    ctx: AuthContext,
    body: SaveBroadcastRule,
    *,
    base_url: str,
    rule_id: uuid.UUID | None = None,
) -> BroadcastRule:
    """Create a rule, or replace one (``rule_id``); links already sent keep what they
    were sent with."""
    ctx.require(Permission.SETTINGS_MANAGE)
    rule = _rule(session, ctx.clinic_id, rule_id, lock=True) if rule_id else None
    refuse(_check(session, ctx, body, base_url=base_url, rule_id=rule_id))
    if rule is None:
        rule = BroadcastRule(clinic_id=ctx.clinic_id, active=True)
        session.add(rule)
    rule.title = body.title.strip()
    rule.appointment_type_id = body.appointment_type_id
    rule.provider_ids = [str(p) for p in dict.fromkeys(body.provider_ids)]
    rule.earliest_days = body.earliest_days
    rule.latest_days = body.latest_days
    rule.link_valid_days = body.link_valid_days
    rule.welcome_text = body.welcome_text.strip()
    rule.sms_text = body.sms_text.strip()
    rule.confirmation_text = body.confirmation_text.strip()
    rule.allow_reschedule = body.allow_reschedule
    audit.record(
        session,
        ctx,
        action="broadcast_rule_saved",
        entity="broadcast_rules",
        entity_id=rule.id,
        reason=f"rule “{rule.title}”",
    )
    session.flush()
    return rule


def set_rule_active(
    session: Session, ctx: AuthContext, rule_id: uuid.UUID, active: bool
) -> BroadcastRule:
    """Out of the send menu (links already sent still work), or back into it."""
    ctx.require(Permission.SETTINGS_MANAGE)
    rule = _rule(session, ctx.clinic_id, rule_id, lock=True)
    if active and not rule.active:
        taken = session.scalar(
            select(BroadcastRule.id).where(
                BroadcastRule.clinic_id == ctx.clinic_id,
                BroadcastRule.deleted_at.is_(None),
                BroadcastRule.active.is_(True),
                func.lower(BroadcastRule.title) == rule.title.lower(),
            )
        )
        if taken is not None:
            raise InvalidInput(
                f"Another active rule is called “{rule.title}”: rename one of them first."
            )
    rule.active = active
    session.flush()
    return rule


def delete_rule(session: Session, ctx: AuthContext, rule_id: uuid.UUID) -> None:
    """Gone from the settings and the menu; kept underneath for the links sent under it."""
    ctx.require(Permission.SETTINGS_MANAGE)
    rule = _rule(session, ctx.clinic_id, rule_id, lock=True)
    rule.active = False
    rule.deleted_at = utcnow()
    session.flush()


def rule_records(session: Session, rules: Sequence[BroadcastRule]) -> list[BroadcastRuleRecord]:
    names = _Names(session)
    return [
        BroadcastRuleRecord(
            id=rule.id,
            title=rule.title,
            appointment_type_id=rule.appointment_type_id,
            type_name=names.kind(rule.appointment_type_id),
            provider_ids=[uuid.UUID(p) for p in rule.provider_ids],
            provider_names=names.providers(rule.provider_ids),
            earliest_days=rule.earliest_days,
            latest_days=rule.latest_days,
            link_valid_days=rule.link_valid_days,
            welcome_text=rule.welcome_text,
            sms_text=rule.sms_text,
            confirmation_text=rule.confirmation_text,
            allow_reschedule=rule.allow_reschedule,
            active=rule.active,
        )
        for rule in rules
    ]


# --- links ------------------------------------------------------------------------------


def effective_status(link: BookingLink, now: datetime) -> BookingLinkStatus:
    """The status as true at ``now``: an open link past its expiry has expired."""
    if link.status in OPEN and tokens.expired(link.expires_at, now):
        return BookingLinkStatus.EXPIRED
    return link.status


def window_of(
    session: Session, clinic_id: uuid.UUID, rule: BroadcastRule, now: datetime
) -> tuple[date, date, datetime]:
    """First and last bookable day (from the clinic's today) and the expiry: the rule's
    validity, but never past the end of the last bookable day in the clinic's zone."""
    zone = clinic_zone(session, clinic_id)
    today = now.astimezone(zone).date()
    first_day = today + timedelta(days=rule.earliest_days)
    last_day = today + timedelta(days=rule.latest_days)
    day_after = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=zone)
    return first_day, last_day, min(now + timedelta(days=rule.link_valid_days), day_after)


@dataclass(frozen=True)
class Sent:
    link: BookingLink
    url: str
    text: str
    held: str | None


def _may_send(ctx: AuthContext) -> None:
    ctx.require(Permission.COMMS_SEND_MESSAGE)
    ctx.require(Permission.DIARY_BOOK)


def _event(
    session: Session,
    link: BookingLink,
    status: BookingLinkStatus,
    *,
    at: datetime,
    detail: str = "",
    staff_id: uuid.UUID | None = None,
) -> None:
    session.add(
        BookingLinkEvent(
            clinic_id=link.clinic_id,
            link_id=link.id,
            at=at,
            status=status,
            detail=detail[:200],
            staff_id=staff_id,
        )
    )


def _settle_expiry(session: Session, links: Iterable[BookingLink], now: datetime) -> None:
    """Write down what reads already say: open links past their time have expired."""
    for link in links:
        if effective_status(link, now) is not link.status:
            link.status = BookingLinkStatus.EXPIRED
            _event(session, link, BookingLinkStatus.EXPIRED, at=link.expires_at, detail=RAN_OUT)


def _text(
    session: Session,
    ctx: AuthContext,
    patient: Patient,
    link: BookingLink,
    rule: BroadcastRule,
    url: str,
    token: str,
) -> tuple[str, str | None]:
    """Compose the link's text (care: it is about the patient's own appointment). The
    token is concealed: the desks' copy of the message shows that a link went, not one
    that opens."""
    clinic = messaging.sender_name(session, ctx.clinic_id)
    text = fill(rule.sms_text, link=url, clinic=clinic, first_name=patient.first_name)
    message = messaging.compose(
        session,
        ctx.clinic_id,
        patient=patient,
        purpose=Purpose.CARE,
        kind=MESSAGE_KIND,
        drafts=[messaging.Draft(Channel.SMS, text)],
        staff_id=ctx.staff_id,
        device_id=ctx.device_id,
        conceal=[token],
    )
    link.message_id = message.id
    held = next(
        (d.get("error") for d in message.deliveries or [] if d.get("status") == "held"), None
    )
    return text, held or None


def send(
    session: Session,
    ctx: AuthContext,
    patient_id: uuid.UUID,
    rule_id: uuid.UUID,
    *,
    base_url: str,
) -> Sent:
    """A new link under ``rule_id`` for the patient, and its text. One open link per
    patient and rule: another while one is open is refused, offering to re-send it."""
    _may_send(ctx)
    # Locking the patient's row queues two sends for one patient, so only one link opens.
    patient = kit.live(session, Patient, ctx.clinic_id, patient_id, what="patient", lock=True)
    rule = _rule(session, ctx.clinic_id, rule_id)
    if not rule.active:
        raise InvalidInput(f"The rule “{rule.title}” is no longer in use: choose another.")
    now = utcnow()
    earlier = session.scalars(
        select(BookingLink).where(
            BookingLink.clinic_id == ctx.clinic_id,
            BookingLink.patient_id == patient.id,
            BookingLink.rule_id == rule.id,
            BookingLink.status.in_(OPEN),
        )
    ).all()
    _settle_expiry(session, earlier, now)
    if any(link.status in OPEN for link in earlier):
        raise Conflict(
            f"{patient.first_name} {patient.last_name} already has an open “{rule.title}” "
            "link. Re-send it instead, or expire it first."
        )
    first_day, last_day, expires_at = window_of(session, ctx.clinic_id, rule, now)
    token = tokens.new_token()
    link = BookingLink(
        id=uuid.uuid4(),
        clinic_id=ctx.clinic_id,
        patient_id=patient.id,
        rule_id=rule.id,
        token_hash=tokens.digest(token),
        status=BookingLinkStatus.SENT,
        appointment_type_id=rule.appointment_type_id,
        provider_ids=list(rule.provider_ids),
        first_day=first_day,
        last_day=last_day,
        allow_reschedule=rule.allow_reschedule,
        expires_at=expires_at,
        sent_by_staff_id=ctx.staff_id,
        created_at=now,
    )
    session.add(link)
    session.flush()
    url = link_url(base_url, token)
    text, held = _text(session, ctx, patient, link, rule, url, token)
    _event(session, link, BookingLinkStatus.SENT, at=now, staff_id=ctx.staff_id, detail=held or "")
    audit.record(
        session,
        ctx,
        action="booking_link_sent",
        entity="patients",
        entity_id=patient.id,
        reason=f"booking link “{rule.title}”",
    )
    session.flush()
    return Sent(link, url, text, held)


def _link(
    session: Session, ctx: AuthContext, patient_id: uuid.UUID, link_id: uuid.UUID
) -> BookingLink:
    """The patient's link, locked; another clinic's or another patient's is not found."""
    kit.require_live(session, Patient, ctx.clinic_id, patient_id, what="patient")
    link = kit.find(session, BookingLink, ctx.clinic_id, link_id, lock=True)
    if link is None or link.patient_id != patient_id:
        raise kit.not_found("booking link")
    return link


def resend(
    session: Session,
    ctx: AuthContext,
    patient_id: uuid.UUID,
    link_id: uuid.UUID,
    *,
    base_url: str,
) -> Sent:
    """The same offer under a new address: the old one stops working at once. The
    window and expiry stay those of the link first sent."""
    _may_send(ctx)
    link = _link(session, ctx, patient_id, link_id)
    now = utcnow()
    if effective_status(link, now) is not link.status:
        _settle_expiry(session, [link], now)
        session.flush()
    if link.status not in OPEN:
        raise Conflict(
            f"This link is {link.status.label.lower()}, so it cannot be re-sent: "
            "send a new one instead."
        )
    patient = kit.live(session, Patient, ctx.clinic_id, patient_id, what="patient")
    rule = _rule_any(session, ctx.clinic_id, link.rule_id)
    token = tokens.new_token()
    link.token_hash = tokens.digest(token)
    url = link_url(base_url, token)
    text, held = _text(session, ctx, patient, link, rule, url, token)
    _event(
        session,
        link,
        BookingLinkStatus.SENT,
        at=now,
        staff_id=ctx.staff_id,
        detail="Re-sent; the earlier address no longer works." + (f" {held}" if held else ""),
    )
    audit.record(
        session,
        ctx,
        action="booking_link_resent",
        entity="patients",
        entity_id=patient.id,
        reason=f"booking link “{rule.title}”",
    )
    session.flush()
    return Sent(link, url, text, held)


def _rule_any(session: Session, clinic_id: uuid.UUID, rule_id: uuid.UUID) -> BroadcastRule:
    """A link's rule, even deactivated or deleted (its texts still apply)."""
    rule = kit.find(session, BroadcastRule, clinic_id, rule_id)
    if rule is None:  # pragma: no cover - a link's rule is never removed
        raise kit.not_found("broadcast rule")
    return rule


def expire(
    session: Session, ctx: AuthContext, patient_id: uuid.UUID, link_id: uuid.UUID
) -> BookingLink:
    """Staff end an open link (the patient booked by phone, say)."""
    ctx.require(Permission.DIARY_BOOK)
    link = _link(session, ctx, patient_id, link_id)
    now = utcnow()
    status = effective_status(link, now)
    if status not in OPEN:
        raise Conflict(f"This link is {status.label.lower()} already.")
    link.status = BookingLinkStatus.EXPIRED
    _event(
        session,
        link,
        BookingLinkStatus.EXPIRED,
        at=now,
        staff_id=ctx.staff_id,
        detail="Expired by staff.",
    )
    audit.record(
        session,
        ctx,
        action="booking_link_expired",
        entity="patients",
        entity_id=patient_id,
        reason="booking link expired by staff",
    )
    session.flush()
    return link


def delete(
    session: Session, ctx: AuthContext, patient_id: uuid.UUID, link_id: uuid.UUID
) -> BookingLink:
    """Out of use for good, marked deleted in the history (nothing is erased)."""
    ctx.require(Permission.DIARY_BOOK)
    link = _link(session, ctx, patient_id, link_id)
    if link.status is BookingLinkStatus.DELETED:
        raise Conflict("This link was deleted already.")
    now = utcnow()
    _settle_expiry(session, [link], now)
    link.status = BookingLinkStatus.DELETED
    _event(
        session,
        link,
        BookingLinkStatus.DELETED,
        at=now,
        staff_id=ctx.staff_id,
        detail="Deleted by staff.",
    )
    audit.record(
        session,
        ctx,
        action="booking_link_deleted",
        entity="patients",
        entity_id=patient_id,
        reason="booking link deleted by staff",
    )
    session.flush()
    return link


def links_of(session: Session, ctx: AuthContext, patient_id: uuid.UUID) -> list[BookingLink]:
    """The patient's links, newest first."""
    ctx.require(Permission.PATIENTS_READ)
    kit.require_live(session, Patient, ctx.clinic_id, patient_id, what="patient")
    return list(
        session.scalars(
            select(BookingLink)
            .where(BookingLink.clinic_id == ctx.clinic_id, BookingLink.patient_id == patient_id)
            .order_by(BookingLink.created_at.desc(), BookingLink.id)
        )
    )


def link_of(
    session: Session, ctx: AuthContext, patient_id: uuid.UUID, link_id: uuid.UUID
) -> BookingLink:
    ctx.require(Permission.PATIENTS_READ)
    kit.require_live(session, Patient, ctx.clinic_id, patient_id, what="patient")
    link = kit.find(session, BookingLink, ctx.clinic_id, link_id)
    if link is None or link.patient_id != patient_id:
        raise kit.not_found("booking link")
    return link


def link_records(
    session: Session, links: Sequence[BookingLink], now: datetime | None = None
) -> list[BookingLinkRecord]:
    moment = now or utcnow()
    names = _Names(session)
    rules = {
        r.id: r.title
        for r in session.scalars(
            select(BroadcastRule).where(BroadcastRule.id.in_({link.rule_id for link in links}))
        )
    }
    booked = {
        a.id: a.starts_at
        for a in session.scalars(
            select(Appointment).where(
                Appointment.id.in_({link.appointment_id for link in links if link.appointment_id})
            )
        )
    }
    return [
        BookingLinkRecord(
            id=link.id,
            patient_id=link.patient_id,
            rule_id=link.rule_id,
            rule_title=rules.get(link.rule_id, ""),
            status=effective_status(link, moment),
            appointment_type_id=link.appointment_type_id,
            type_name=names.kind(link.appointment_type_id),
            provider_names=names.providers(link.provider_ids),
            first_day=link.first_day,
            last_day=link.last_day,
            expires_at=link.expires_at,
            allow_reschedule=link.allow_reschedule,
            sent_at=link.created_at,
            sent_by_name=names.staff(link.sent_by_staff_id),
            appointment_id=link.appointment_id,
            appointment_starts_at=booked.get(link.appointment_id) if link.appointment_id else None,
        )
        for link in links
    ]


def event_records(
    session: Session, link: BookingLink, now: datetime | None = None
) -> list[BookingLinkEventRecord]:
    """The link's whole history, oldest first; a time-out not yet written down is shown
    at the moment it happened."""
    moment = now or utcnow()
    events = session.scalars(
        select(BookingLinkEvent)
        .where(BookingLinkEvent.clinic_id == link.clinic_id, BookingLinkEvent.link_id == link.id)
        .order_by(BookingLinkEvent.at, BookingLinkEvent.created_at)
    ).all()
    names = _Names(session)
    records = [
        BookingLinkEventRecord(
            at=event.at,
            status=event.status,
            detail=event.detail,
            appointment_id=event.appointment_id,
            starts_at=event.starts_at,
            provider_name=names.provider(event.provider_id),
            staff_name=names.staff(event.staff_id),
        )
        for event in events
    ]
    if effective_status(link, moment) is not link.status:
        records.append(
            BookingLinkEventRecord(
                at=link.expires_at,
                status=BookingLinkStatus.EXPIRED,
                detail=RAN_OUT,
                appointment_id=None,
                starts_at=None,
                provider_name=None,
                staff_name=None,
            )
        )
    return records


def sent_notice(held: str | None) -> str:
    """What staff are told after sending, in words."""
    if held:
        return (
            f"The link was made but the text was not sent: {held} Copy the link to send "
            "it another way."
        )
    return "The link is on its way to the patient by text."


class _Names:
    """Names looked up once per answer."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._cache: dict[tuple[type, uuid.UUID], str] = {}

    def _name(self, model: type, record_id: uuid.UUID | None, field: str) -> str | None:
        if record_id is None:
            return None
        key = (model, record_id)
        if key not in self._cache:
            row = self.session.get(model, record_id)
            self._cache[key] = getattr(row, field) if row is not None else ""
        return self._cache[key]

    def kind(self, type_id: uuid.UUID) -> str:
        return self._name(AppointmentType, type_id, "name") or ""

    def provider(self, provider_id: uuid.UUID | None) -> str | None:
        return self._name(Provider, provider_id, "display_name")

    def providers(self, ids: Iterable[str]) -> list[str]:
        return [self.provider(uuid.UUID(p)) or "" for p in ids]

    def staff(self, staff_id: uuid.UUID | None) -> str | None:
        return self._name(StaffUser, staff_id, "display_name")
