"""Web booking requests.

Not cached by the desks (``ClinicScoped``, not ``Synced``): the desk lists pending
requests over the API.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from common.booking_requests import NOTE_LENGTH, REASON_LENGTH, BookingRequestStatus
from server.db import ClinicScoped, StrEnumColumn

__all__ = ["BookingRequest", "BookingRequestStatus"]


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
    note: Mapped[str] = mapped_column(String(NOTE_LENGTH), default="")
    # Why staff turned it down, in their words (the patient is told): set on rejection.
    reason: Mapped[str | None] = mapped_column(String(REASON_LENGTH), default=None)
