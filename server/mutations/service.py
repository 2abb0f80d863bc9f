"""Apply a batch of desk mutations, each in its own transaction, each at most once.

A mutation is first *claimed* by inserting its ``AppliedMutation`` row; a duplicate sent
at the same moment waits on that unique key and then reads the stored answer. The command
itself runs in a savepoint, so a rejection rolls back the change but keeps the claim and
the answer.
"""

from __future__ import annotations

import uuid
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from common.appointments import AppointmentSource, AppointmentStatus
from common.errors import DomainError, Forbidden, NotFound, SlotTaken, StaleVersion
from server.auth.context import AuthContext
from server.db import transaction
from server.mutations.models import AppliedMutation
from server.patients import service as patients
from server.patients.models import Patient
from server.scheduling import service as scheduling
from server.scheduling.models import Appointment
from server.staff.models import StaffUser
from sync.protocol import (
    AppointmentRecord,
    BookAppointment,
    CancelAppointment,
    CheckIn,
    MarkNoShow,
    MoveAppointment,
    Mutation,
    MutationResult,
    PatientRecord,
    RejectCode,
    Slot,
    UpdatePatientContact,
)

REJECT_CODES: dict[str, RejectCode] = {
    SlotTaken.code: "slot_taken",
    StaleVersion.code: "stale_version",
    Forbidden.code: "forbidden",
    NotFound.code: "not_found",
}


def apply_batch(
    factory: sessionmaker[Session], device: AuthContext, mutations: list[Mutation]
) -> list[MutationResult]:
    """One result per mutation, in order; one bad mutation never blocks the rest."""
    return [apply_one(factory, device, mutation) for mutation in mutations]


def apply_one(
    factory: sessionmaker[Session], device: AuthContext, mutation: Mutation
) -> MutationResult:
    try:
        with transaction(factory) as session:
            stored = _stored(session, device, mutation.mutation_id)
            if stored is not None:
                return _as_it_stands(session, device, mutation, stored)
            claim = AppliedMutation(
                clinic_id=device.clinic_id,
                device_id=device.device_id,
                mutation_id=mutation.mutation_id,
                seq=mutation.seq,
                staff_id=mutation.staff_id,
                kind=mutation.command.kind,
                status="claimed",
                result="",
            )
            session.add(claim)
            session.flush()  # a concurrent duplicate blocks here, then fails
            result = _run(session, device, mutation)
            claim.status = result.status
            claim.result = result.model_dump_json()
            return result
    except IntegrityError:
        # The same mutation was applied by a request running at the same time.
        with transaction(factory) as session:
            stored = _stored(session, device, mutation.mutation_id)
            if stored is None:
                raise
            return _as_it_stands(session, device, mutation, stored)


def _as_it_stands(
    session: Session, device: AuthContext, mutation: Mutation, stored: MutationResult
) -> MutationResult:
    """A replay gets the same verdict, but the record as it is *now*: the desk may have
    pulled newer changes since, and must not be handed back an older copy."""
    current = _result(
        mutation.mutation_id, stored.status, _current_record(session, device, mutation)
    )
    return stored.model_copy(
        update={"appointment": current.appointment, "patient": current.patient}
    )


def _stored(session: Session, device: AuthContext, mutation_id: uuid.UUID) -> MutationResult | None:
    found = session.scalar(
        select(AppliedMutation.result).where(
            AppliedMutation.clinic_id == device.clinic_id,
            AppliedMutation.device_id == device.device_id,
            AppliedMutation.mutation_id == mutation_id,
        )
    )
    return MutationResult.model_validate_json(found) if found else None


def _run(session: Session, device: AuthContext, mutation: Mutation) -> MutationResult:
    """Run the command as the staff member who made it, on this workstation."""
    try:
        with session.begin_nested():
            ctx = _acting_staff(session, device, mutation.staff_id)
            record = _execute(session, ctx, mutation)
    except DomainError as error:
        return _rejected(session, device, mutation, error)
    return _result(mutation.mutation_id, "applied", record)


def _acting_staff(session: Session, device: AuthContext, staff_id: uuid.UUID) -> AuthContext:
    staff = session.scalar(
        select(StaffUser).where(StaffUser.id == staff_id, StaffUser.clinic_id == device.clinic_id)
    )
    if staff is None or not staff.active:
        raise Forbidden("The staff member who made this change can no longer make changes.")
    return AuthContext(
        clinic_id=device.clinic_id, device_id=device.device_id, staff_id=staff.id, role=staff.role
    )


def _execute(session: Session, ctx: AuthContext, mutation: Mutation) -> Appointment | Patient:
    command = mutation.command
    match command:
        case BookAppointment():
            return scheduling.book(
                session,
                ctx,
                appointment_id=command.appointment_id,
                provider_id=command.provider_id,
                patient_id=command.patient_id,
                starts_at=command.starts_at,
                ends_at=command.ends_at,
                source=AppointmentSource.DESK,
            )
        case MoveAppointment():
            return scheduling.move(
                session,
                ctx,
                appointment_id=command.appointment_id,
                base_version=command.base_version,
                provider_id=command.provider_id,
                starts_at=command.starts_at,
                ends_at=command.ends_at,
            )
        case CancelAppointment() | CheckIn() | MarkNoShow():
            status = {
                "cancel": AppointmentStatus.CANCELLED,
                "check_in": AppointmentStatus.ARRIVED,
                "no_show": AppointmentStatus.NO_SHOW,
            }[command.kind]
            return scheduling.set_status(
                session,
                ctx,
                appointment_id=command.appointment_id,
                base_version=command.base_version,
                status=status,
            )
        case UpdatePatientContact():
            return patients.update_contact(
                session,
                ctx,
                patient_id=command.patient_id,
                base_version=command.base_version,
                phone=command.phone,
                email=command.email,
            )


def _rejected(
    session: Session, device: AuthContext, mutation: Mutation, error: DomainError
) -> MutationResult:
    """The rejection, with the record as it now stands and, for a taken slot, the
    nearest free ones."""
    command = mutation.command
    result = _result(mutation.mutation_id, "rejected", _current_record(session, device, mutation))
    suggestions: list[Slot] = []
    if isinstance(error, SlotTaken) and isinstance(command, BookAppointment | MoveAppointment):
        suggestions = [
            Slot(provider_id=command.provider_id, starts_at=start, ends_at=end)
            for start, end in error.suggestions
        ]
    return result.model_copy(
        update={
            "code": REJECT_CODES.get(error.code, "invalid"),
            "message": error.message,
            "suggestions": suggestions,
        }
    )


def _current_record(
    session: Session, device: AuthContext, mutation: Mutation
) -> Appointment | Patient | None:
    command = mutation.command
    if isinstance(command, UpdatePatientContact):
        return session.scalar(
            select(Patient).where(
                Patient.id == command.patient_id, Patient.clinic_id == device.clinic_id
            )
        )
    return scheduling.current(session, device, command.appointment_id)


def _result(
    mutation_id: uuid.UUID,
    status: Literal["applied", "rejected"],
    record: Appointment | Patient | None,
) -> MutationResult:
    appointment = patient = None
    if isinstance(record, Appointment) and record.deleted_at is None:
        appointment = AppointmentRecord.model_validate(record, from_attributes=True)
    elif isinstance(record, Patient) and record.deleted_at is None:
        patient = PatientRecord.model_validate(record, from_attributes=True)
    return MutationResult(
        mutation_id=mutation_id,
        status=status,
        appointment=appointment,
        patient=patient,
    )
