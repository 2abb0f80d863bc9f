"""Web booking requests and idempotency keys.

Neither is cached by the desks (``ClinicScoped``, not ``Synced``): the desk lists pending
requests over the API, and keys only matter to the server.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import ClinicScoped, StrEnumColumn


class BookingRequestStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class BookingRequest(ClinicScoped):
    """A patient asked for a time on the web; staff confirm (which books it) or reject.

    A pending request does not hold the time: only appointments do, so two patients may
    ask for the same slot and the first one confirmed gets it.
    """

    __tablename__ = "booking_requests"
    __table_args__ = (
        Index("ix_booking_requests_clinic_status_start", "clinic_id", "status", "starts_at"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    provider_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("providers.id"))
    appointment_type_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointment_types.id"), default=None
    )
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[BookingRequestStatus] = mapped_column(
        StrEnumColumn(BookingRequestStatus, 16), default=BookingRequestStatus.PENDING
    )
    # SET NULL: purging old appointment tombstones (``clinicdesk purge-tombstones``)
    # deletes appointment rows outright.
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="SET NULL"), default=None
    )
    decided_by_staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id"), default=None
    )
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    note: Mapped[str] = mapped_column(String(500), default="")


class IdempotencyKey(ClinicScoped):
    """A booking request's ``Idempotency-Key`` and the answer it got, so a retry (a lost
    response, a double click, a proxy that resends) gets the same answer and books
    nothing new.

    Inserted *before* the booking runs: a duplicate sent at the same moment waits on the
    unique key, then reads the stored answer.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("clinic_id", "key", name="uq_idempotency_keys_clinic_key"),)

    key: Mapped[str] = mapped_column(String(200))
    # SHA-256 of the canonical request (operation and body): the same key with another
    # request is a client bug, refused rather than answered with the wrong booking.
    fingerprint: Mapped[str] = mapped_column(String(64))
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="SET NULL"), default=None
    )
    # None only inside the transaction that claimed the key; committed rows have one.
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    # A refusal's JSON body, replayed as it was; a success is replayed with the
    # appointment as it stands now.
    response: Mapped[str] = mapped_column(Text, default="")
