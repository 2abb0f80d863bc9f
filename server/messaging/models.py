"""Messaging tables: messages first, deliveries second.

A ``Message`` is what was said, to or from one patient (or an unknown number), and is
cached by the desks: it is their inbox. A ``Delivery`` is one channel's attempt to carry
an outgoing message; it is the dispatcher's work queue (due time, attempts, lease) and is
not synced. What a desk needs of it (status, error, segments) is copied onto the
message's ``deliveries`` summary whenever it changes, so the dispatcher's claims and
retries never wake the desks, and a status change does.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from common.messaging import Channel, ConsentSource, DeliveryStatus, Direction, Purpose
from server.crypto import EncryptedText
from server.db import ClinicScoped, RecordBase, StrEnumColumn, Synced, feed_index, utcnow


class Message(Synced):
    __tablename__ = "messages"
    __table_args__ = (
        feed_index("messages"),
        Index("ix_messages_clinic_patient", "clinic_id", "patient_id"),
    )

    # None for an inbound text from a number no patient has (staff may attach it).
    patient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patients.id"), default=None)
    direction: Mapped[Direction] = mapped_column(StrEnumColumn(Direction, 8))
    purpose: Mapped[Purpose] = mapped_column(StrEnumColumn(Purpose, 16))
    # What sort of message, for people and for finding it again: "reply", "confirmation",
    # "running_late", "request_rejected", "opt_out_reply", "inbound"…
    kind: Mapped[str] = mapped_column(String(32))
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    # Who the message was exchanged with: the number or address, as the patient's file
    # had it (or, inbound, as it came). Encrypted at rest like every phone number.
    counterpart: Mapped[str | None] = mapped_column(
        EncryptedText("messages", "counterpart"), default=None
    )
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    sent_by_staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id"), default=None
    )
    # Urgent messages ("running late") are not held by quiet hours.
    urgent: Mapped[bool] = mapped_column(default=False)
    # When it is (was) to go out; when it came in, for inbound.
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Inbound only: when someone at the clinic read it (None: unread).
    read_at: Mapped[datetime | None] = mapped_column(default=None)
    # One entry per channel: {"channel", "status", "error", "segments", "at"}.
    deliveries: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class Delivery(ClinicScoped):
    __tablename__ = "message_deliveries"
    __table_args__ = (
        # What the dispatcher's claim reads: due work, oldest first.
        Index("ix_message_deliveries_status_due", "status", "due_at"),
        Index("ix_message_deliveries_provider_id", "provider", "provider_message_id"),
    )

    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("messages.id"), index=True)
    patient_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    channel: Mapped[Channel] = mapped_column(StrEnumColumn(Channel, 8))
    purpose: Mapped[Purpose] = mapped_column(StrEnumColumn(Purpose, 16))
    urgent: Mapped[bool] = mapped_column(default=False)
    # The one reply to a STOP, START or HELP: it goes whatever the number's consent.
    answers_keyword: Mapped[bool] = mapped_column(default=False)
    to_address: Mapped[str | None] = mapped_column(
        EncryptedText("message_deliveries", "to_address"), default=None
    )
    # The blind index of ``to_address`` for SMS: how an opt-out reaches queued messages.
    to_index: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    # What goes out, in full (a link's token, a code): sealed at rest, so a copy of the
    # database holds no working link. The desks see the message, with secrets masked.
    subject: Mapped[str] = mapped_column(EncryptedText("message_deliveries", "subject"), default="")
    text: Mapped[str] = mapped_column(EncryptedText("message_deliveries", "text"))
    html: Mapped[str | None] = mapped_column(
        EncryptedText("message_deliveries", "html"), default=None
    )
    # An appointment whose .ics goes with a confirmation e-mail.
    calendar_appointment_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    status: Mapped[DeliveryStatus] = mapped_column(
        StrEnumColumn(DeliveryStatus, 16), default=DeliveryStatus.QUEUED
    )
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    # While a dispatcher holds it: until when, and which one. A dispatcher that died
    # mid-send leaves a lease that runs out; the work is then claimed again.
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    provider: Mapped[str | None] = mapped_column(String(32), default=None)
    provider_message_id: Mapped[str | None] = mapped_column(String(128), default=None)
    segments: Mapped[int | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(String(500), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    failed_at: Mapped[datetime | None] = mapped_column(default=None)


class ConsentDecision(Synced):
    """One decision, never edited: the patient said yes (or no) to ``purpose`` on
    ``channel``, at ``decided_at``, by ``source``. What holds now is the latest one."""

    __tablename__ = "consent_decisions"
    __table_args__ = (
        feed_index("consent_decisions"),
        Index("ix_consent_decisions_patient", "clinic_id", "patient_id", "decided_at"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    channel: Mapped[Channel] = mapped_column(StrEnumColumn(Channel, 8))
    purpose: Mapped[Purpose] = mapped_column(StrEnumColumn(Purpose, 16))
    granted: Mapped[bool]
    source: Mapped[ConsentSource] = mapped_column(StrEnumColumn(ConsentSource, 24))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    staff_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"), default=None)
    note: Mapped[str] = mapped_column(String(200), default="")


class PhoneOptOut(ClinicScoped):
    """A number that texted STOP to this clinic: no SMS goes to it, whoever's it is,
    until it texts START. Kept by blind index, so the number itself is not stored."""

    __tablename__ = "phone_opt_outs"
    __table_args__ = (UniqueConstraint("clinic_id", "phone_index"),)

    phone_index: Mapped[str] = mapped_column(String(64))
    opted_out_at: Mapped[datetime] = mapped_column(default=utcnow)


class MessageTemplate(Synced):
    """A clinic's wording of one kind of message on one channel (the defaults stand in
    until an admin saves their own)."""

    __tablename__ = "message_templates"
    __table_args__ = (
        feed_index("message_templates"),
        UniqueConstraint("clinic_id", "kind", "channel"),
    )

    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[Channel] = mapped_column(StrEnumColumn(Channel, 8))
    purpose: Mapped[Purpose] = mapped_column(StrEnumColumn(Purpose, 16))
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)


class MessagingSettings(ClinicScoped):
    """How a clinic sends: who it says it is, when texts may go out, how often marketing
    may reach one patient. Secrets are not here: they live in the server's settings."""

    __tablename__ = "messaging_settings"
    __table_args__ = (UniqueConstraint("clinic_id"),)

    sender_name: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    # The clinic's own SMS number at the provider (E.164), texts go from; "" for the
    # server's. Patients' replies to it reach ``/webhooks/twilio/{slug}/inbound``.
    sms_number: Mapped[str] = mapped_column(String(32), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    language: Mapped[str] = mapped_column(String(8), default="en")
    texts_from_minute: Mapped[int] = mapped_column(default=8 * 60)  # texts from 08:00
    texts_until_minute: Mapped[int] = mapped_column(default=20 * 60)  # until 20:00
    marketing_cap: Mapped[int] = mapped_column(default=4)  # at most this many…
    marketing_cap_days: Mapped[int] = mapped_column(default=30)  # …in this many days
    send_confirmations: Mapped[bool] = mapped_column(default=True)


class WebhookEvent(RecordBase):
    """A provider's callback, stored before it is answered and processed once after.

    ``event_key`` is the provider's own id for the event: the same event posted five
    times is one row. ``payload`` holds phone numbers, so it is encrypted at rest."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("event_key"),
        Index("ix_webhook_events_pending", "processed_at"),
    )

    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinics.id"))
    provider: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))  # "inbound" | "status"
    event_key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(EncryptedText("webhook_events", "payload"))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)


class DevOutboxEntry(ClinicScoped):
    """What the development outbox "sent": the message as a provider would have got it.
    Unique per delivery, so a send repeated after a crash is recognised, not doubled."""

    __tablename__ = "dev_outbox"
    __table_args__ = (UniqueConstraint("delivery_id"),)

    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("message_deliveries.id"))
    channel: Mapped[Channel] = mapped_column(StrEnumColumn(Channel, 8))
    to_address: Mapped[str] = mapped_column(EncryptedText("dev_outbox", "to_address"))
    sender_name: Mapped[str] = mapped_column(String(200))
    # What was "sent", links and codes included: sealed at rest like the delivery's.
    subject: Mapped[str] = mapped_column(EncryptedText("dev_outbox", "subject"), default="")
    text: Mapped[str] = mapped_column(EncryptedText("dev_outbox", "text"))
    html: Mapped[str | None] = mapped_column(EncryptedText("dev_outbox", "html"), default=None)
    attachments: Mapped[list[str]] = mapped_column(JSON, default=list)  # file names
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
