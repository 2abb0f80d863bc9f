"""What the booking request endpoints take and answer. The records live in
``sync.protocol``: the desk lists and decides requests through the same types."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from server.booking_requests.models import BookingRequest
from server.db import ClinicScoped
from server.patients.models import Patient
from server.scheduling.models import AppointmentType, Provider
from server.staff.models import StaffUser
from sync.protocol import (
    BookingRequestRecord,
    ConfirmBookingRequest,
    ConfirmedRequest,
    PatientMatch,
    RejectBookingRequest,
)

__all__ = [
    "BookingRequestRecord",
    "ConfirmBookingRequest",
    "ConfirmedRequest",
    "PatientMatch",
    "RejectBookingRequest",
    "records_of",
]


def records_of(
    session: Session, clinic_id: uuid.UUID, requests: Sequence[BookingRequest]
) -> list[BookingRequestRecord]:
    """The requests with the names staff read them by: one query per kind of name,
    however many requests, each scoped by the clinic."""

    patients = _names(
        session,
        clinic_id,
        Patient,
        (r.patient_id for r in requests),
        Patient.first_name + " " + Patient.last_name,
    )
    providers = _names(
        session, clinic_id, Provider, (r.provider_id for r in requests), Provider.display_name
    )
    kinds = _names(
        session,
        clinic_id,
        AppointmentType,
        (r.appointment_type_id for r in requests),
        AppointmentType.name,
    )
    staff = _names(
        session,
        clinic_id,
        StaffUser,
        (r.decided_by_staff_id for r in requests),
        StaffUser.display_name,
    )
    return [
        BookingRequestRecord(
            id=r.id,
            patient_id=r.patient_id,
            patient_name=(
                f"{r.first_name} {r.last_name}"
                if r.patient_id is None
                else patients.get(r.patient_id, "A removed patient")
            ),
            provider_id=r.provider_id,
            provider_name=providers.get(r.provider_id),
            appointment_type_id=r.appointment_type_id,
            type_name=kinds.get(r.appointment_type_id),
            starts_at=r.starts_at,
            ends_at=r.ends_at,
            status=r.status,
            appointment_id=r.appointment_id,
            decided_by_staff_id=r.decided_by_staff_id,
            decided_by_name=staff.get(r.decided_by_staff_id),
            decided_at=r.decided_at,
            note=r.note,
            reason=r.reason,
            created_at=r.created_at,
            first_name=r.first_name,
            last_name=r.last_name,
            date_of_birth=r.date_of_birth,
            phone=r.phone,
            email=r.email,
            insurance=r.insurance,
        )
        for r in requests
    ]


def _names(
    session: Session,
    clinic_id: uuid.UUID,
    model: type[ClinicScoped],
    ids: Iterable[uuid.UUID | None],
    label: ColumnElement[str] | InstrumentedAttribute[str],
) -> dict[uuid.UUID | None, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(
        select(model.id, label).where(model.clinic_id == clinic_id, model.id.in_(wanted))
    )
    return {row[0]: row[1] for row in rows}


def record_of(session: Session, request: BookingRequest) -> BookingRequestRecord:
    return records_of(session, request.clinic_id, [request])[0]
