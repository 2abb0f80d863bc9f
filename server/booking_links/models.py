"""Broadcast rules, the booking links sent under them, each link's history, and the
manage links sent with a booking's confirmation.

Not cached by the desks (``ClinicScoped``): the patient file lists a patient's links
over the API. Tokens are stored only as digests (``server.web.tokens``).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from common.booking_links import SMS_TEXT_LENGTH, TITLE_LENGTH, BookingLinkStatus
from server.db import ClinicScoped, StrEnumColumn
from server.web.tokens import DIGEST_LENGTH


class BroadcastRule(ClinicScoped):
    """What a kind of booking link offers, set up by a clinic admin: one appointment
    type, with some providers (empty: all who offer it), in a window of days counted from
    the day a link is sent; the texts the patient reads; whether the booking may be
    rescheduled through its manage link."""

    __tablename__ = "broadcast_rules"

    title: Mapped[str] = mapped_column(String(TITLE_LENGTH))
    appointment_type_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("appointment_types.id"))
    provider_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    earliest_days: Mapped[int] = mapped_column(default=0)
    latest_days: Mapped[int] = mapped_column(default=28)
    link_valid_days: Mapped[int] = mapped_column(default=14)
    welcome_text: Mapped[str] = mapped_column(Text, default="")
    # Must hold "{link}"; "{clinic}" and "{first_name}" are filled in too.
    sms_text: Mapped[str] = mapped_column(String(SMS_TEXT_LENGTH))
    confirmation_text: Mapped[str] = mapped_column(Text, default="")
    allow_reschedule: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class BookingLink(ClinicScoped):
    """One link sent to one patient. What it allows is copied from its rule when sent
    (type, providers, days, reschedule), so editing a rule never changes a link already
    in a patient's hands."""

    __tablename__ = "booking_links"
    __table_args__ = (Index("ix_booking_links_clinic_patient", "clinic_id", "patient_id"),)

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    rule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("broadcast_rules.id"))
    token_hash: Mapped[str] = mapped_column(String(DIGEST_LENGTH), unique=True)
    status: Mapped[BookingLinkStatus] = mapped_column(
        StrEnumColumn(BookingLinkStatus, 16), default=BookingLinkStatus.SENT
    )
    appointment_type_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("appointment_types.id"))
    provider_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    first_day: Mapped[date]
    last_day: Mapped[date]
    allow_reschedule: Mapped[bool] = mapped_column(default=False)
    expires_at: Mapped[datetime]
    sent_by_staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id"), default=None
    )
    message_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    accessed_at: Mapped[datetime | None] = mapped_column(default=None)
    booked_at: Mapped[datetime | None] = mapped_column(default=None)
    # SET NULL: purging old appointment tombstones deletes appointment rows outright.
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="SET NULL"), default=None
    )


class BookingLinkEvent(ClinicScoped):
    """A link's history, one row per step (sent, re-sent, accessed, booked, rescheduled,
    expired, deleted), with the appointment's time and provider when it booked or moved:
    the "full history of the booking" on the patient file."""

    __tablename__ = "booking_link_events"

    link_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("booking_links.id"), index=True)
    at: Mapped[datetime]
    status: Mapped[BookingLinkStatus] = mapped_column(StrEnumColumn(BookingLinkStatus, 16))
    detail: Mapped[str] = mapped_column(String(200), default="")
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="SET NULL"), default=None
    )
    starts_at: Mapped[datetime | None] = mapped_column(default=None)
    provider_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("providers.id"), default=None)
    staff_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"), default=None)


class ManageLink(ClinicScoped):
    """The link in a booking's confirmation: after the patient proves who they are (date
    of birth, or a code sent by SMS) it shows the appointment and, if allowed, moves it.
    ``code_hash`` is the digest of the last code sent, with its expiry and wrong tries."""

    __tablename__ = "manage_links"

    appointment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), index=True
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    booking_link_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("booking_links.id"), default=None
    )
    token_hash: Mapped[str] = mapped_column(String(DIGEST_LENGTH), unique=True)
    allow_reschedule: Mapped[bool] = mapped_column(default=False)
    expires_at: Mapped[datetime]
    code_hash: Mapped[str | None] = mapped_column(String(DIGEST_LENGTH), default=None)
    code_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    code_attempts: Mapped[int] = mapped_column(default=0)
