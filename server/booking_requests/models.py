"""Web booking requests.

Not cached by the desks (``ClinicScoped``, not ``Synced``): the desk lists pending
requests over the API.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from common.booking_requests import (
    INSURANCE_LENGTH,
    NOTE_LENGTH,
    REASON_LENGTH,
    BookingRequestStatus,
)
from common.patients import EMAIL_MAX, NAME_MAX
from server.crypto import EncryptedText
from server.db import ClinicScoped, StrEnumColumn

__all__ = ["BookingRequest", "BookingRequestStatus"]


class BookingRequest(ClinicScoped):
    """A patient asked for a time on the web; staff confirm (which books it) or reject.

    A pending request does not hold the time: only appointments do, so two patients may
    ask for the same slot and the first one confirmed gets it.

    A request from the booking widget comes from someone who may not be a patient yet:
    it keeps what they told us (the applicant) and no patient until staff confirm it,
    matching an existing patient or registering a new one. Their phone is sealed like a
    patient's.
    """

    __tablename__ = "booking_requests"
    __table_args__ = (
        Index("ix_booking_requests_clinic_status_start", "clinic_id", "status", "starts_at"),
        # One request per widget form, however often it is sent (a double click).
        UniqueConstraint("clinic_id", "form_key", name="uq_booking_requests_clinic_form_key"),
    )

    # None: asked on the web by someone not (yet) linked to a patient; set on confirming.
    patient_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patients.id"), index=True, default=None
    )
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
    # The applicant, as they typed it into the widget (checked by ``common.patients``);
    # the reason for the visit is ``note``.
    first_name: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    last_name: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    date_of_birth: Mapped[date | None] = mapped_column(default=None)
    phone: Mapped[str | None] = mapped_column(
        EncryptedText("booking_requests", "phone"), default=None
    )
    email: Mapped[str | None] = mapped_column(String(EMAIL_MAX), default=None)
    insurance: Mapped[str] = mapped_column(String(INSURANCE_LENGTH), default="")
    # A keyed hash of the address it came from (spam triage; never the address).
    ip_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    # The widget form's own random key: a second send of the same form finds this row.
    form_key: Mapped[str | None] = mapped_column(String(64), default=None)
