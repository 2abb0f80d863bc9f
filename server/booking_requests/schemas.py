"""What the booking request endpoints take and answer."""

from __future__ import annotations

import uuid

from pydantic import AwareDatetime

from server.booking_requests.models import BookingRequest, BookingRequestStatus
from sync.protocol import AppointmentRecord, Message


class BookingRequestRecord(Message):
    id: uuid.UUID
    patient_id: uuid.UUID
    provider_id: uuid.UUID
    appointment_type_id: uuid.UUID | None
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    status: BookingRequestStatus
    appointment_id: uuid.UUID | None
    decided_by_staff_id: uuid.UUID | None
    decided_at: AwareDatetime | None
    note: str
    created_at: AwareDatetime


class ConfirmedRequest(Message):
    request: BookingRequestRecord
    appointment: AppointmentRecord


def record_of(request: BookingRequest) -> BookingRequestRecord:
    return BookingRequestRecord.model_validate(request, from_attributes=True)
