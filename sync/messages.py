"""The desk's inbox in its local copy: conversations, consent and the clinic's wordings,
and the optimistic effect of the messaging changes made here.

All of it is read from the store, so the inbox opens offline, and a message written
offline is in its conversation at once, "queued", until the server has it. What the
server decides (held for want of consent, sent, delivered, failed and why) comes back on
the message's delivery summaries with the next sync.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter
from sqlalchemy import (
    ColumnClause,
    ColumnElement,
    Connection,
    and_,
    case,
    delete,
    func,
    literal,
    literal_column,
    select,
    update,
)

from common.appointments import AppointmentStatus
from common.message_templates import AppointmentFacts, CommunicationType
from common.messaging import Channel, ConsentSource, DeliveryStatus, Direction, Purpose
from sync.protocol import (
    AttachMessage,
    ConsentRecord,
    DeliverySummary,
    MarkMessagesRead,
    MessageRecord,
    MessageTemplateRecord,
    MessagingCommand,
    RecordConsent,
    SaveMessageTemplate,
    SendMessage,
    TellRunningLate,
)
from sync.records import consent_row, epoch_seconds, instant, message_row, template_row, upsert
from sync.schema import (
    appointment_types,
    appointments,
    consents,
    locations,
    message_templates,
    messages,
    patients,
    providers,
    staff,
)

_DELIVERIES: TypeAdapter[list[DeliverySummary]] = TypeAdapter(list[DeliverySummary])
PREVIEW_LENGTH = 80
# Who is expected still to come: only they are told that the clinic runs late.
EXPECTED = (AppointmentStatus.BOOKED.value, AppointmentStatus.CONFIRMED.value)
# Who has come: a visit a "thank you for your visit" may speak of.
SEEN = (
    AppointmentStatus.ARRIVED.value,
    AppointmentStatus.IN_PROGRESS.value,
    AppointmentStatus.COMPLETED.value,
)


# --- what the pages show ------------------------------------------------------------------


@dataclass(frozen=True)
class MessageView:
    """One message as a conversation shows it."""

    id: uuid.UUID
    patient_id: uuid.UUID | None
    direction: Direction
    purpose: Purpose
    kind: str
    channels: tuple[Channel, ...]
    subject: str
    body: str
    counterpart: str | None
    created_at: datetime
    read_at: datetime | None
    deliveries: tuple[DeliverySummary, ...]
    pending: bool = False  # written (or changed) here, not yet acknowledged by the server
    sent_by: str | None = None  # the staff member who wrote it
    # The server turned it down (why): the text waits in Needs attention, not lost.
    refused: str | None = None

    @property
    def unread(self) -> bool:
        return self.direction is Direction.IN and self.read_at is None


@dataclass(frozen=True)
class Conversation:
    """A patient's conversation, or the texts of a number no patient has."""

    patient_id: uuid.UUID | None
    number: str | None  # the unknown number (None for a patient's conversation)
    name: str
    preview: str
    last_at: datetime
    unread: int

    @property
    def known(self) -> bool:
        return self.patient_id is not None


@dataclass(frozen=True)
class ConsentDecision:
    id: uuid.UUID
    channel: Channel
    purpose: Purpose
    granted: bool
    source: ConsentSource
    decided_at: datetime
    staff_name: str | None
    note: str
    pending: bool


@dataclass(frozen=True)
class ConsentState:
    """What holds for one channel and purpose: the latest decision, or the default
    (care and reminders yes until the patient says no; the rest no until they say yes)."""

    channel: Channel
    purpose: Purpose
    granted: bool
    decision: ConsentDecision | None  # None: never asked, the default holds


@dataclass(frozen=True)
class Consents:
    states: tuple[ConsentState, ...]  # every channel × purpose
    history: tuple[ConsentDecision, ...]  # newest first

    def allows(self, channel: Channel, purpose: Purpose) -> bool:
        return next(s.granted for s in self.states if (s.channel, s.purpose) == (channel, purpose))


@dataclass(frozen=True)
class TemplateView:
    id: uuid.UUID
    version: int
    kind: str
    channel: Channel
    purpose: Purpose
    subject: str
    body: str
    pending: bool


def mask_number(number: str | None) -> str:
    """A number shown without giving it away: its country code and last three digits."""
    if not number:
        return "No number"
    if len(number) < 8:
        return "•••"
    return f"{number[:3]} ••••• {number[-3:]}"


def preview(body: str) -> str:
    line = " ".join(body.split())
    return line if len(line) <= PREVIEW_LENGTH else line[: PREVIEW_LENGTH - 1] + "…"


def _uuid(text: str | None) -> uuid.UUID | None:
    return uuid.UUID(text) if text else None


def _view(r: Any) -> MessageView:
    return MessageView(
        id=uuid.UUID(r.id),
        patient_id=_uuid(r.patient_id),
        direction=Direction(r.direction),
        purpose=Purpose(r.purpose),
        kind=r.kind,
        channels=tuple(Channel(c) for c in json.loads(r.channels)),
        subject=r.subject,
        body=r.body,
        counterpart=r.counterpart,
        created_at=instant(r.created_at),
        read_at=instant(r.read_at) if r.read_at is not None else None,
        deliveries=tuple(_DELIVERIES.validate_json(r.deliveries)),
        pending=bool(r.pending),
        sent_by=r.sent_by,
    )


_ROWID: ColumnClause[Any] = literal_column("messages.rowid")


def _messages_where(*conditions: Any) -> Any:
    return (
        select(messages, staff.c.display_name.label("sent_by"))
        .outerjoin(staff, staff.c.id == messages.c.sent_by_staff_id)
        .where(*conditions)
        .order_by(messages.c.created_at, _ROWID)
    )


def conversation(conn: Connection, patient_id: uuid.UUID) -> list[MessageView]:
    """The patient's messages, oldest first (the newest at the bottom, as people read)."""
    return [
        _view(r) for r in conn.execute(_messages_where(messages.c.patient_id == str(patient_id)))
    ]


def unattached(conn: Connection, number: str | None = None) -> list[MessageView]:
    """Texts from numbers no patient has (from ``number`` only, if given), oldest first."""
    wanted: list[ColumnElement[bool]] = [messages.c.patient_id.is_(None)]
    if number is not None:
        wanted.append(messages.c.counterpart == number)
    return [_view(r) for r in conn.execute(_messages_where(*wanted))]


def _unread() -> Any:
    return and_(messages.c.direction == Direction.IN.value, messages.c.read_at.is_(None))


def _fate(deliveries: str | None) -> str:
    """How the list introduces the last message sent: "You", unless it did not reach
    the patient, which the list says before anyone opens the conversation."""
    statuses = {entry.get("status") for entry in json.loads(deliveries or "[]")}
    if statuses and statuses <= {"failed", "bounced", "undelivered"}:
        return "Not delivered"
    if statuses & {"failed", "bounced", "undelivered"}:
        return "Partly not delivered"
    if statuses and statuses <= {"held"}:
        return "Not sent"
    return "You"


def conversations(conn: Connection) -> list[Conversation]:
    """One row per patient with messages and per unknown number: the last message, when,
    and how many texts from them are unread. Unread first, then the newest."""
    key = func.coalesce(
        messages.c.patient_id, literal("number:") + func.coalesce(messages.c.counterpart, "")
    )
    ranked = select(
        messages.c.patient_id,
        messages.c.counterpart,
        messages.c.direction,
        messages.c.body,
        messages.c.created_at,
        messages.c.deliveries,
        func.row_number()
        .over(partition_by=key, order_by=(messages.c.created_at.desc(), _ROWID.desc()))
        .label("n"),
        func.sum(case((_unread(), 1), else_=0)).over(partition_by=key).label("unread"),
    ).subquery()
    query = (
        select(ranked, patients.c.first_name, patients.c.last_name)
        .outerjoin(patients, patients.c.id == ranked.c.patient_id)
        .where(ranked.c.n == 1)
    )
    found = []
    for r in conn.execute(query):
        said = preview(r.body)
        if r.direction == Direction.OUT.value:
            said = f"{_fate(r.deliveries)}: {said}"
        if r.patient_id is None:
            name = mask_number(r.counterpart)
        elif r.first_name is None:
            name = "Unknown patient"
        else:
            name = f"{r.first_name} {r.last_name}"
        found.append(
            Conversation(
                patient_id=_uuid(r.patient_id),
                number=r.counterpart if r.patient_id is None else None,
                name=name,
                preview=said,
                last_at=instant(r.created_at),
                unread=int(r.unread or 0),
            )
        )
    found.sort(key=lambda c: (c.unread == 0, -c.last_at.timestamp()))
    return found


def unread(conn: Connection) -> list[MessageView]:
    """Every text from a patient (or an unknown number) nobody here has read yet."""
    return [_view(r) for r in conn.execute(_messages_where(_unread()))]


def unread_count(conn: Connection) -> int:
    return int(conn.scalar(select(func.count()).select_from(messages).where(_unread())) or 0)


def unread_ids(conn: Connection, message_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """Those of ``message_ids`` that are texts from patients nobody here has read."""
    wanted = [str(m) for m in message_ids]
    found = conn.scalars(select(messages.c.id).where(messages.c.id.in_(wanted), _unread()))
    return [uuid.UUID(m) for m in found]


def consents_of(conn: Connection, patient_id: uuid.UUID) -> Consents:
    """What holds for each channel and purpose (the latest decision wins), and every
    decision made: when, how and by whom."""
    rows = conn.execute(
        select(consents, staff.c.display_name.label("staff_name"))
        .outerjoin(staff, staff.c.id == consents.c.staff_id)
        .where(consents.c.patient_id == str(patient_id))
        # As the server orders them; one made here, not yet sent, is the latest.
        .order_by(consents.c.decided_at, consents.c.pending, consents.c.version)
    )
    history = [
        ConsentDecision(
            id=uuid.UUID(r.id),
            channel=Channel(r.channel),
            purpose=Purpose(r.purpose),
            granted=bool(r.granted),
            source=ConsentSource(r.source),
            decided_at=instant(r.decided_at),
            staff_name=r.staff_name,
            note=r.note,
            pending=bool(r.pending),
        )
        for r in rows
    ]
    latest = {(d.channel, d.purpose): d for d in history}
    states = []
    for channel in Channel:
        for purpose in Purpose:
            decision = latest.get((channel, purpose))
            granted = decision.granted if decision else not purpose.needs_opt_in
            states.append(ConsentState(channel, purpose, granted, decision))
    return Consents(tuple(states), tuple(reversed(history)))


def templates(conn: Connection) -> list[TemplateView]:
    rows = conn.execute(
        select(message_templates).order_by(message_templates.c.kind, message_templates.c.channel)
    )
    return [
        TemplateView(
            id=uuid.UUID(r.id),
            version=r.version,
            kind=r.kind,
            channel=Channel(r.channel),
            purpose=Purpose(r.purpose),
            subject=r.subject,
            body=r.body,
            pending=bool(r.pending),
        )
        for r in rows
    ]


def template_for(conn: Connection, kind: str, channel: Channel) -> tuple[uuid.UUID, int] | None:
    """The id and version of the clinic's wording of ``kind`` on ``channel``, if saved."""
    found = conn.execute(
        select(message_templates.c.id, message_templates.c.version).where(
            message_templates.c.kind == kind, message_templates.c.channel == channel.value
        )
    ).first()
    return (uuid.UUID(found.id), found.version) if found else None


@dataclass(frozen=True)
class AppointmentsToMention:
    """The appointments a message written to a patient may speak of, as the wordings
    fill them in: the next one still expected, and today's visit once they have come."""

    upcoming: AppointmentFacts | None
    seen_today: AppointmentFacts | None


def appointments_to_mention(
    conn: Connection, patient_id: uuid.UUID, now: datetime, day_start: datetime
) -> AppointmentsToMention:
    """What this desk's diary knows of the patient's appointments from ``day_start`` (the
    start of the clinic's today) on: the first still expected and not over by ``now``, and
    the last of today's that they came to."""
    rows = conn.execute(
        select(
            appointments.c.starts_at,
            appointments.c.ends_at,
            appointments.c.status,
            providers.c.display_name,
            appointment_types.c.name.label("type_name"),
            locations.c.name.label("room"),
        )
        .outerjoin(providers, providers.c.id == appointments.c.provider_id)
        .outerjoin(appointment_types, appointment_types.c.id == appointments.c.appointment_type_id)
        .outerjoin(locations, locations.c.id == appointments.c.location_id)
        .where(
            appointments.c.patient_id == str(patient_id),
            appointments.c.starts_at >= epoch_seconds(day_start),
            appointments.c.status.in_(EXPECTED + SEEN),
        )
        .order_by(appointments.c.starts_at)
    ).all()

    def facts(r: Any) -> AppointmentFacts:
        return AppointmentFacts(
            instant(r.starts_at), r.display_name or "", r.type_name or "", r.room or ""
        )

    moment = epoch_seconds(now)
    upcoming = next((r for r in rows if r.status in EXPECTED and r.ends_at > moment), None)
    seen = [r for r in rows if r.status in SEEN and r.starts_at <= moment]
    return AppointmentsToMention(
        facts(upcoming) if upcoming is not None else None, facts(seen[-1]) if seen else None
    )


@dataclass(frozen=True)
class LaterPatients:
    """Who a "running late" text reaches: one text per appointment still expected (as
    the server sends it), by SMS, so those with no mobile number on file are not told."""

    texted: int
    no_number: int


def later_patients(
    conn: Connection, provider_id: uuid.UUID, after: datetime, until: datetime
) -> LaterPatients:
    """The patients of the provider's appointments still expected from ``after`` until
    ``until``, as far as this desk's diary knows: each is told once, however many of
    those appointments are theirs."""
    found = conn.execute(
        select(appointments.c.patient_id, patients.c.phone)
        .distinct()
        .select_from(appointments)
        .outerjoin(patients, patients.c.id == appointments.c.patient_id)
        .where(
            appointments.c.provider_id == str(provider_id),
            appointments.c.starts_at >= epoch_seconds(after),
            appointments.c.starts_at < epoch_seconds(until),
            appointments.c.status.in_(EXPECTED),
        )
    ).all()
    texted = sum(1 for _patient, phone in found if phone)
    return LaterPatients(texted, len(found) - texted)


def refused_view(command: SendMessage, made_at: datetime, reason: str) -> MessageView:
    """A message the server turned down, shown in its conversation from the outbox (where
    its text waits) rather than from the cache (where it never was the server's)."""
    return MessageView(
        id=command.message_id,
        patient_id=command.patient_id,
        direction=Direction.OUT,
        purpose=command.purpose,
        kind="reply",
        channels=tuple(dict.fromkeys(command.channels)),
        subject=command.subject,
        body=command.body,
        counterpart=None,
        created_at=made_at,
        read_at=None,
        deliveries=(),
        refused=reason,
    )


# --- changes made here ----------------------------------------------------------------


def apply_locally(
    conn: Connection, command: MessagingCommand, made_at: datetime, staff_id: uuid.UUID | None
) -> None:
    """The optimistic effect of a messaging change, marked pending."""
    match command:
        case SendMessage():
            _write_message(conn, command, made_at, staff_id)
        case MarkMessagesRead():
            conn.execute(
                update(messages)
                .where(messages.c.id.in_([str(m) for m in command.message_ids]), _unread())
                .values(read_at=epoch_seconds(made_at), pending=1)
            )
        case AttachMessage():
            conn.execute(
                update(messages)
                .where(messages.c.id == str(command.message_id))
                .values(patient_id=str(command.patient_id), pending=1)
            )
        case RecordConsent():
            if _version(conn, consents.c, command.consent_id) is None:
                upsert(conn, consents, [_consent(command, made_at, staff_id)])
        case SaveMessageTemplate():
            _write_template(conn, command)
        case TellRunningLate():
            pass  # the server finds the patients and writes to them


def _version(conn: Connection, columns: Any, record_id: uuid.UUID) -> int | None:
    found = conn.scalar(select(columns.version).where(columns.id == str(record_id)))
    return int(found) if found is not None else None


def _write_message(
    conn: Connection, command: SendMessage, made_at: datetime, staff_id: uuid.UUID | None
) -> None:
    known = _version(conn, messages.c, command.message_id)
    if known:  # the server's copy came in already (its answer has not): keep it
        conn.execute(
            update(messages).where(messages.c.id == str(command.message_id)).values(pending=1)
        )
        return
    channels = list(dict.fromkeys(command.channels))
    contact = conn.execute(
        select(patients.c.phone, patients.c.email).where(patients.c.id == str(command.patient_id))
    ).first()
    counterpart = None
    if contact is not None:
        counterpart = contact.phone if channels[0] is Channel.SMS else contact.email
    record = MessageRecord(
        id=command.message_id,
        version=0,
        patient_id=command.patient_id,
        direction=Direction.OUT,
        purpose=command.purpose,
        kind="reply",
        channels=channels,
        subject=command.subject,
        body=command.body,
        counterpart=counterpart,
        sent_by_staff_id=staff_id,
        due_at=made_at,
        deliveries=[
            DeliverySummary(channel=channel, status=DeliveryStatus.QUEUED, at=made_at)
            for channel in channels
        ],
        created_at=made_at,
    )
    upsert(conn, messages, [message_row(record, pending=1)])


def _consent(
    command: RecordConsent, made_at: datetime, staff_id: uuid.UUID | None
) -> dict[str, Any]:
    record = ConsentRecord(
        id=command.consent_id,
        version=0,
        patient_id=command.patient_id,
        channel=command.channel,
        purpose=command.purpose,
        granted=command.granted,
        source=ConsentSource.DESK,
        decided_at=made_at,
        staff_id=staff_id,
        note=command.note.strip(),
    )
    return consent_row(record, pending=1)


def _write_template(conn: Connection, command: SaveMessageTemplate) -> None:
    existing = conn.scalar(
        select(message_templates.c.purpose).where(
            message_templates.c.id == str(command.template_id)
        )
    )
    known = {kind.value: kind.purpose for kind in CommunicationType}
    purpose = Purpose(existing) if existing else known.get(command.message_kind, Purpose.CARE)
    record = MessageTemplateRecord(
        id=command.template_id,
        version=_version(conn, message_templates.c, command.template_id) or 0,
        kind=command.message_kind,
        channel=command.channel,
        purpose=purpose,
        subject=command.subject,
        body=command.body,
    )
    upsert(conn, message_templates, [template_row(record, pending=1)])


def settle(conn: Connection, command: MessagingCommand) -> None:
    """Applied, and the answer carries no record (marking read, saving a wording on a
    server that does not answer with it): what was done here is no longer pending."""
    match command:
        case MarkMessagesRead():
            conn.execute(
                update(messages)
                .where(messages.c.id.in_([str(m) for m in command.message_ids]))
                .values(pending=0)
            )
        case SaveMessageTemplate():
            conn.execute(
                update(message_templates)
                .where(message_templates.c.id == str(command.template_id))
                .values(pending=0)
            )


def take_back(conn: Connection, command: MessagingCommand) -> None:
    """Refused, and the answer carries no record: undo what was shown here."""
    match command:
        case MarkMessagesRead():
            conn.execute(
                update(messages)
                .where(
                    messages.c.id.in_([str(m) for m in command.message_ids]),
                    messages.c.pending == 1,
                )
                .values(read_at=None, pending=0)
            )
        case AttachMessage():
            conn.execute(
                update(messages)
                .where(messages.c.id == str(command.message_id))
                .values(patient_id=None, pending=0)
            )
        case SendMessage():
            conn.execute(delete(messages).where(messages.c.id == str(command.message_id)))
        case RecordConsent():
            conn.execute(delete(consents).where(consents.c.id == str(command.consent_id)))
        case SaveMessageTemplate():
            conn.execute(
                delete(message_templates).where(
                    message_templates.c.id == str(command.template_id),
                    message_templates.c.version == 0,
                )
            )


# --- words ------------------------------------------------------------------------------


def by_channels(channels: list[Channel] | tuple[Channel, ...]) -> str:
    """ "Text", "E-mail" or "Text and e-mail": how staff say what was sent."""
    chosen = set(channels)
    if chosen == {Channel.SMS}:
        return "Text"
    if chosen == {Channel.EMAIL}:
        return "E-mail"
    return "Text and e-mail"


def describe(
    command: MessagingCommand, zone: ZoneInfo, patient: str | None, provider: str | None
) -> str:
    """A line for Needs attention: what was tried and for whom."""
    who = patient or "an unknown patient"
    match command:
        case SendMessage():
            return f"{by_channels(command.channels)} to {who}: {preview(command.body)}"
        case MarkMessagesRead():
            count = len(command.message_ids)
            return "Mark a message read" if count == 1 else f"Mark {count} messages read"
        case AttachMessage():
            return f"Put a text from an unknown number in {who}'s conversation"
        case RecordConsent():
            said = "given" if command.granted else "withdrawn"
            return (
                f"Record {who}'s consent: {command.channel.label} for "
                f"{command.purpose.value} {said}"
            )
        case SaveMessageTemplate():
            kind = command.message_kind.replace("_", " ")
            return f"Save the wording of {kind} messages ({command.channel.label})"
        case TellRunningLate():
            at = command.after.astimezone(zone)
            return (
                f"Tell {provider or 'an unknown provider'}'s patients after {at:%H:%M} "
                f"that the clinic runs {command.minutes} min late"
            )
