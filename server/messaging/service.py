"""Composing messages, and the consent that decides where they may go.

Composing writes the message and one delivery per channel in the caller's transaction:
a booking and its confirmation stand or fall together, and nothing is sent until the
transaction commits (the dispatcher only ever sees committed deliveries).

What may be sent is decided twice: when composing (so staff see at once that a patient
has opted out, as a "held" delivery with the reason) and again by the dispatcher just
before handing over (so an opt-out that arrives while a message waits still stops it).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.errors import InvalidInput
from common.messaging import (
    Channel,
    ConsentSource,
    DeliveryStatus,
    Direction,
    Purpose,
)
from common.roles import Permission
from common.sms import signed
from server import kit
from server.audit import service as audit
from server.auth.context import AuthContext
from server.clinics.models import Clinic
from server.crypto import e164_form, index_of_stored_phone
from server.db import utcnow
from server.messaging.models import (
    ConsentDecision,
    Delivery,
    Message,
    MessagingSettings,
    PhoneOptOut,
)
from server.messaging.wakeup import note_composed
from server.patients.models import Patient
from server.portal.accounts import carer_record

# What the desks see in place of a concealed secret (see ``compose``): always the same,
# so it tells nothing of the secret's length.
CONCEALED = "•••"


@dataclass(frozen=True)
class Draft:
    """One channel's rendering of a message."""

    channel: Channel
    text: str
    subject: str = ""
    html: str | None = None


# --- settings ---------------------------------------------------------------------------


# A new clinic's texting hours (minutes of its day): 08:00 to 20:00.
DEFAULT_TEXTS_FROM, DEFAULT_TEXTS_UNTIL = 8 * 60, 20 * 60


def settings_of(session: Session, clinic_id: uuid.UUID) -> MessagingSettings:
    """The clinic's messaging settings; the defaults (not saved) if it has none yet."""
    found = session.scalar(
        select(MessagingSettings).where(MessagingSettings.clinic_id == clinic_id)
    )
    if found is not None:
        return found
    clinic = session.get(Clinic, clinic_id)
    return MessagingSettings(
        clinic_id=clinic_id,
        sender_name=clinic.name if clinic else "",
        phone="",
        email="",
        sms_number="",
        language="en",
        texts_from_minute=DEFAULT_TEXTS_FROM,
        texts_until_minute=DEFAULT_TEXTS_UNTIL,
        marketing_cap=4,
        marketing_cap_days=30,
        send_confirmations=True,
    )


def signature(settings: MessagingSettings, clinic: Clinic) -> str:
    """The name every message of the clinic is sent under: its own choice, else its name."""
    return settings.sender_name or clinic.name


def sender_name(session: Session, clinic_id: uuid.UUID) -> str:
    clinic = session.get(Clinic, clinic_id)
    if clinic is None:
        return "Your clinic"
    return signature(settings_of(session, clinic_id), clinic)


# --- consent ----------------------------------------------------------------------------

Consents = dict[tuple[Channel, Purpose], bool]


def consents_of(
    session: Session, clinic_id: uuid.UUID, patient_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Consents]:
    """What each patient last decided, per channel and purpose (absent: never asked)."""
    wanted = list(set(patient_ids))
    decided: dict[uuid.UUID, Consents] = {patient_id: {} for patient_id in wanted}
    if not wanted:
        return decided
    rows = session.execute(
        select(
            ConsentDecision.patient_id,
            ConsentDecision.channel,
            ConsentDecision.purpose,
            ConsentDecision.granted,
        )
        .where(ConsentDecision.clinic_id == clinic_id, ConsentDecision.patient_id.in_(wanted))
        .order_by(ConsentDecision.decided_at, ConsentDecision.version)
    )
    for patient_id, channel, purpose, granted in rows:
        decided[patient_id][(channel, purpose)] = granted  # later decisions win
    return decided


def allowed(consents: Consents, channel: Channel, purpose: Purpose) -> bool:
    """Care and reminders: yes until the patient says no. Marketing, surveys and
    reviews: no until the patient says yes."""
    return consents.get((channel, purpose), not purpose.needs_opt_in)


def opted_out(session: Session, clinic_id: uuid.UUID, indexes: Iterable[str]) -> set[str]:
    """Which of these numbers (blind indexes) texted STOP to the clinic."""
    wanted = list(set(indexes))
    if not wanted:
        return set()
    return set(
        session.scalars(
            select(PhoneOptOut.phone_index).where(
                PhoneOptOut.clinic_id == clinic_id, PhoneOptOut.phone_index.in_(wanted)
            )
        )
    )


def marketing_sent(
    session: Session, clinic_id: uuid.UUID, patient_id: uuid.UUID, since: datetime
) -> int:
    """Marketing messages handed over to this patient since ``since`` (any channel)."""
    return int(
        session.scalar(
            select(func.count(func.distinct(Delivery.message_id))).where(
                Delivery.clinic_id == clinic_id,
                Delivery.patient_id == patient_id,
                Delivery.purpose == Purpose.MARKETING,
                Delivery.sent_at >= since,
            )
        )
        or 0
    )


def record_consent(
    session: Session,
    ctx: AuthContext,
    *,
    consent_id: uuid.UUID,
    patient_id: uuid.UUID,
    channel: Channel,
    purpose: Purpose,
    granted: bool,
    note: str = "",
    decided_at: datetime | None = None,
) -> ConsentDecision:
    """What a patient told staff, recorded from the desk."""
    ctx.require(Permission.PATIENTS_WRITE)
    kit.require_live(session, Patient, ctx.clinic_id, patient_id, what="patient")
    if session.get(ConsentDecision, consent_id) is not None:
        raise InvalidInput("This consent was recorded already.")
    decision = decide(
        session,
        ctx.clinic_id,
        patient_id,
        channel,
        purpose,
        granted=granted,
        source=ConsentSource.DESK,
        consent_id=consent_id,
        staff_id=ctx.staff_id,
        device_id=ctx.device_id,
        note=note,
        decided_at=decided_at,
    )
    audit.record(
        session,
        ctx,
        action="consent_given" if granted else "consent_withdrawn",
        entity="patients",
        entity_id=patient_id,
        reason=f"{channel.label} for {purpose.value}, {ConsentSource.DESK.label}",
    )
    return decision


def decide(
    session: Session,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    channel: Channel,
    purpose: Purpose,
    *,
    granted: bool,
    source: ConsentSource,
    consent_id: uuid.UUID | None = None,
    staff_id: uuid.UUID | None = None,
    device_id: uuid.UUID | None = None,
    note: str = "",
    decided_at: datetime | None = None,
) -> ConsentDecision:
    """Append one decision. A withdrawal reaches messages already waiting at once."""
    decision = ConsentDecision(
        id=consent_id or uuid.uuid4(),
        clinic_id=clinic_id,
        patient_id=patient_id,
        channel=channel,
        purpose=purpose,
        granted=granted,
        source=source,
        decided_at=decided_at or utcnow(),
        staff_id=staff_id,
        note=note.strip(),
        changed_by_device_id=device_id,
    )
    session.add(decision)
    if not granted:
        waiting = session.scalars(
            select(Delivery).where(
                Delivery.clinic_id == clinic_id,
                Delivery.patient_id == patient_id,
                Delivery.channel == channel,
                Delivery.purpose == purpose,
                Delivery.status == DeliveryStatus.QUEUED,
            )
        ).all()
        hold(session, waiting, "The patient withdrew consent before it was sent.")
    session.flush()
    return decision


# --- composing --------------------------------------------------------------------------

NO_ADDRESS = {
    Channel.SMS: "There is no mobile number on the patient's file.",
    Channel.EMAIL: "There is no e-mail address on the patient's file.",
}


def address_of(patient: Patient, channel: Channel) -> str | None:
    return patient.phone if channel is Channel.SMS else patient.email


def carer_of(session: Session, patient: Patient) -> Patient | None:
    """Whoever looks after ``patient`` in the portal (a child, an elderly parent): the
    account holder's own record at the same clinic. A family member with no phone or
    e-mail of their own is reached through them."""
    return carer_record(session, patient.clinic_id, patient.id)


def compose(
    session: Session,
    clinic_id: uuid.UUID,
    *,
    patient: Patient | None,
    purpose: Purpose,
    kind: str,
    drafts: Sequence[Draft],
    message_id: uuid.UUID | None = None,
    staff_id: uuid.UUID | None = None,
    device_id: uuid.UUID | None = None,
    urgent: bool = False,
    due_at: datetime | None = None,
    appointment_id: uuid.UUID | None = None,
    calendar: bool = False,
    number: str | None = None,
    email: str | None = None,
    answering_keyword: bool = False,
    asked_for: bool = False,
    conceal: Sequence[str] = (),
) -> Message:
    """Write a message to ``patient`` (or, with no patient, to ``number`` and ``email``:
    someone who asked on the web before they were a patient; ``email`` with a patient: a
    portal e-mail to the account's address) and its
    deliveries, one per draft, in the caller's transaction. A channel that may not be
    used (no address, no consent, an opted-out number) gets a delivery "held" with the
    reason, so staff see why it did not go.

    ``calendar``: attach the appointment's .ics to the e-mail. ``answering_keyword``:
    the one reply to a STOP, START or HELP, which goes whatever the consent. ``asked_for``:
    something the patient has just asked for themselves (a sign-in link), which goes
    whatever the consent too.

    ``conceal``: the secrets the text carries (a link's token, a one-time code). Give
    every one: each is replaced by ``CONCEALED`` in the message's body and subject. The
    message is synced to every desk of the clinic, so a secret left in it would open the
    patient's link (or pass their check) from any desk's inbox, any copy of a desk's
    store, any backup of the server: staff see "…/l/•••" and know a link went, which is
    all they need (they can send a fresh one). The deliveries keep the real text, since
    it has to be sent; they are never synced, and their texts are sealed at rest
    (``EncryptedText``), so the database holds the secret only as ciphertext."""
    if not drafts:
        raise InvalidInput("Choose at least one way to send the message.")
    if isinstance(conceal, str):  # a lone string would be masked letter by letter
        raise TypeError("conceal takes a sequence of secrets: conceal=[token]")
    when = due_at or utcnow()
    consents = consents_of(session, clinic_id, [patient.id])[patient.id] if patient else {}

    carer = carer_of(session, patient) if patient is not None else None

    def address(channel: Channel) -> str | None:
        if patient is None:
            return number if channel is Channel.SMS else email
        if channel is Channel.EMAIL and email is not None:
            return email  # the portal's: the account's address, as the patient typed it
        own = address_of(patient, channel)
        if own is None and carer is not None:
            return address_of(carer, channel)  # a child's messages reach their parent
        return own

    # What the desk shows of it: the text (what the patient reads on their phone) when
    # there is one, the e-mail's subject.
    first = next((d for d in drafts if d.channel is Channel.SMS), drafts[0])
    subject = next((d.subject for d in drafts if d.channel is Channel.EMAIL), "")
    message = Message(
        id=message_id or uuid.uuid4(),
        clinic_id=clinic_id,
        patient_id=patient.id if patient else None,
        direction=Direction.OUT,
        purpose=purpose,
        kind=kind,
        channels=[draft.channel.value for draft in drafts],
        subject=concealed(subject, conceal),
        body=concealed(first.text, conceal),
        counterpart=address(first.channel),
        appointment_id=appointment_id,
        sent_by_staff_id=staff_id,
        urgent=urgent,
        due_at=when,
        changed_by_device_id=device_id,
    )
    session.add(message)
    session.flush()  # the message before its deliveries (they refer to it)
    deliveries = []
    for draft in drafts:
        to = address(draft.channel)
        index = index_of_stored_phone(to) if draft.channel is Channel.SMS else None
        delivery = Delivery(
            id=uuid.uuid4(),
            clinic_id=clinic_id,
            message_id=message.id,
            patient_id=message.patient_id,
            channel=draft.channel,
            purpose=purpose,
            urgent=urgent,
            answers_keyword=answering_keyword,
            to_address=to,
            to_index=index,
            subject=draft.subject,
            text=draft.text,
            html=draft.html,
            calendar_appointment_id=appointment_id if calendar else None,
            status=DeliveryStatus.QUEUED,
            due_at=when,
        )
        refusal = None
        if to is None:
            refusal = NO_ADDRESS[draft.channel]
        elif draft.channel is Channel.SMS and e164_form(to) is None:
            refusal = NO_COUNTRY_CODE
        elif answering_keyword or asked_for:
            pass
        elif not allowed(consents, draft.channel, purpose):
            refusal = refused_consent(draft.channel, purpose)
        elif index is not None and opted_out(session, clinic_id, [index]):
            refusal = OPTED_OUT
        if refusal:
            delivery.status = DeliveryStatus.HELD
            delivery.error = refusal
            delivery.failed_at = utcnow()
        deliveries.append(delivery)
    session.add_all(deliveries)
    summarise(message, deliveries)
    session.flush()
    note_composed(session)
    return message


def concealed(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each of ``secrets`` replaced by ``CONCEALED``; the longest first, so
    a secret that contains another is masked whole. Empty secrets are ignored (there is
    nothing to hide, and replacing "" would mask between every letter)."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, CONCEALED)
    return text


OPTED_OUT = "This number replied STOP: it gets no texts until it replies START."
NO_COUNTRY_CODE = (
    "The mobile number on the patient's file has no country code, so it cannot be texted: "
    "correct it in the patient's file (+44 …)."
)


def refused_consent(channel: Channel, purpose: Purpose) -> str:
    if purpose.needs_opt_in:
        return f"The patient has not agreed to {purpose.value} by {channel.label}."
    return f"The patient asked not to get {purpose.value} messages by {channel.label}."


def hold(session: Session, deliveries: Iterable[Delivery], reason: str) -> None:
    """Stop waiting deliveries for good, and tell the desks (through their messages)."""
    held = list(deliveries)
    if not held:
        return
    now = utcnow()
    for delivery in held:
        delivery.status = DeliveryStatus.HELD
        delivery.error = reason
        delivery.failed_at = now
    refresh_summaries(session, {delivery.message_id for delivery in held})


def summary_entry(delivery: Delivery) -> dict[str, Any]:
    at = delivery.delivered_at or delivery.failed_at or delivery.sent_at or delivery.due_at
    return {
        "channel": delivery.channel.value,
        "status": delivery.status.value,
        "error": delivery.error,
        "segments": delivery.segments,
        "at": at.isoformat() if at else None,
    }


def summarise(message: Message, deliveries: Iterable[Delivery]) -> None:
    """Copy what the desk shows of each delivery onto the (synced) message. Only a real
    change is written, so a retry that changes nothing visible wakes no desk."""
    summary = [summary_entry(delivery) for delivery in sorted(deliveries, key=_by_channel)]
    if summary != message.deliveries:
        message.deliveries = summary


def _by_channel(delivery: Delivery) -> str:
    return delivery.channel.value


def refresh_summaries(session: Session, message_ids: Iterable[uuid.UUID]) -> None:
    wanted = sorted(set(message_ids))
    if not wanted:
        return
    messages = session.scalars(
        select(Message).where(Message.id.in_(wanted)).order_by(Message.id).with_for_update()
    ).all()
    by_message: dict[uuid.UUID, list[Delivery]] = {message.id: [] for message in messages}
    for delivery in session.scalars(select(Delivery).where(Delivery.message_id.in_(wanted))):
        by_message[delivery.message_id].append(delivery)
    for message in messages:
        summarise(message, by_message[message.id])


# --- the desk's commands ----------------------------------------------------------------


def send_from_desk(
    session: Session,
    ctx: AuthContext,
    *,
    message_id: uuid.UUID,
    patient_id: uuid.UUID,
    channels: Sequence[Channel],
    purpose: Purpose,
    subject: str,
    body: str,
) -> Message:
    """A message staff wrote. Bulk and marketing sends are for those allowed them."""
    ctx.require(Permission.COMMS_SEND_MESSAGE)
    if purpose.needs_opt_in:
        ctx.require(Permission.COMMS_SEND_BULK)
    if session.get(Message, message_id) is not None:
        raise InvalidInput("This message was sent already.")
    text = body.strip()
    if not text:
        raise InvalidInput("Write something to send.")
    patient = kit.live(session, Patient, ctx.clinic_id, patient_id, what="patient")
    name = sender_name(session, ctx.clinic_id)
    drafts = [
        Draft(channel, signed(text, name))
        if channel is Channel.SMS
        else Draft(channel, text, subject=subject.strip() or f"A message from {name}")
        for channel in dict.fromkeys(channels)
    ]
    message = compose(
        session,
        ctx.clinic_id,
        patient=patient,
        purpose=purpose,
        kind="reply",
        drafts=drafts,
        message_id=message_id,
        staff_id=ctx.staff_id,
        device_id=ctx.device_id,
    )
    audit.record(
        session,
        ctx,
        action="message_sent",
        entity="patients",
        entity_id=patient_id,
        reason=f"{purpose.value} message by {', '.join(c.label for c in channels)}",
    )
    return message


def mark_read(session: Session, ctx: AuthContext, message_ids: Sequence[uuid.UUID]) -> None:
    ctx.require(Permission.COMMS_VIEW_INBOX)
    now = utcnow()
    for message in session.scalars(
        select(Message)
        .where(
            Message.clinic_id == ctx.clinic_id,
            Message.id.in_(list(message_ids)),
            Message.direction == Direction.IN,
            Message.read_at.is_(None),
        )
        .order_by(Message.id)
        .with_for_update()
    ):
        message.read_at = now
        message.changed_by_device_id = ctx.device_id
    session.flush()


def attach(
    session: Session, ctx: AuthContext, *, message_id: uuid.UUID, patient_id: uuid.UUID
) -> Message:
    """Put a text from an unknown number into a patient's conversation."""
    ctx.require(Permission.COMMS_SEND_MESSAGE)
    message = kit.live(session, Message, ctx.clinic_id, message_id, what="message", lock=True)
    if message.patient_id is not None and message.patient_id != patient_id:
        raise InvalidInput("This message is already in another patient's conversation.")
    kit.require_live(session, Patient, ctx.clinic_id, patient_id, what="patient")
    message.patient_id = patient_id
    message.changed_by_device_id = ctx.device_id
    audit.record(
        session,
        ctx,
        action="message_attached",
        entity="patients",
        entity_id=patient_id,
        reason="a text from an unknown number put in the patient's conversation",
    )
    session.flush()
    return message
