"""Apply a batch of desk mutations, each in its own transaction, each at most once.

A mutation is applied only as the person who provably made it: it must carry a good
signature by a signing key that the server registered for that person on this very
workstation (``sync.protocol.signature_holds``). The device token only says which
workstation is calling. A mutation that fails the check is answered ``unverified`` and
nothing is recorded for it, so neither a forged copy nor an altered one can claim its id.

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
from sqlalchemy.orm import Session

from common.appointments import AppointmentSource, AppointmentStatus
from common.errors import DomainError, Forbidden, NotFound, SlotTaken, StaleVersion
from server.auth.context import AuthContext
from server.db import Database, Synced, utcnow
from server.messaging import automated
from server.messaging import service as messaging
from server.messaging.models import ConsentDecision, Message, MessageTemplate
from server.mutations.models import AppliedMutation
from server.patients import service as patients
from server.patients.models import Patient
from server.scheduling import service as scheduling
from server.scheduling import settings
from server.scheduling.models import (
    Appointment,
    AppointmentType,
    BookingRules,
    Location,
    Provider,
    ScheduleException,
)
from server.staff.models import SigningKey, StaffUser
from sync.protocol import (
    RESULT_RECORD_FIELDS,
    STATUS_OF,
    AppointmentRecord,
    AppointmentTypeRecord,
    AttachMessage,
    BookAppointment,
    BookingRulesRecord,
    CancelAppointment,
    CheckIn,
    CompleteAppointment,
    ConfirmAppointment,
    ConsentRecord,
    LocationRecord,
    MarkMessagesRead,
    MarkNoShow,
    MessageRecord,
    MessageTemplateRecord,
    MoveAppointment,
    Mutation,
    MutationResult,
    PatientRecord,
    ProviderRecord,
    Record,
    RecordConsent,
    RegisterPatient,
    RejectCode,
    RemoveScheduleException,
    SaveAppointmentType,
    SaveLocation,
    SaveMessageTemplate,
    SaveScheduleException,
    ScheduleExceptionRecord,
    SendMessage,
    SetBookingRules,
    SetWorkingHours,
    Slot,
    StartAppointment,
    TellRunningLate,
    UpdatePatient,
    UpdatePatientContact,
    signature_holds,
    unb64,
)

# Which field of a ``MutationResult`` carries a changed row of each model, and as what.
RESULT_FIELDS: dict[type[Synced], tuple[str, type[Record]]] = {
    Appointment: ("appointment", AppointmentRecord),
    Patient: ("patient", PatientRecord),
    Provider: ("provider", ProviderRecord),
    Location: ("location", LocationRecord),
    AppointmentType: ("appointment_type", AppointmentTypeRecord),
    ScheduleException: ("schedule_exception", ScheduleExceptionRecord),
    BookingRules: ("booking_rules", BookingRulesRecord),
    Message: ("message_record", MessageRecord),
    ConsentDecision: ("consent", ConsentRecord),
    MessageTemplate: ("message_template", MessageTemplateRecord),
}


class Unverified(Forbidden):
    """The change is not provably by the person it names, as they now stand."""

    code = "unverified"


UNSIGNED = (
    "This change does not carry a valid signature of the person it names: it was altered "
    "on the way, or made with an older version of Clinicdesk. Nothing was changed; make it "
    "again if it is still wanted."
)

REJECT_CODES: dict[str, RejectCode] = {
    SlotTaken.code: "slot_taken",
    StaleVersion.code: "stale_version",
    Forbidden.code: "forbidden",
    NotFound.code: "not_found",
    Unverified.code: "unverified",
}


def apply_batch(
    db: Database, device: AuthContext, mutations: list[Mutation]
) -> list[MutationResult]:
    """One result per mutation, in order; one bad mutation never blocks the rest."""
    return [apply_one(db, device, mutation) for mutation in mutations]


def apply_one(db: Database, device: AuthContext, mutation: Mutation) -> MutationResult:
    try:
        with db.writing() as session:
            key = _signing_key(session, device, mutation)
            if key is None:
                return _rejected(session, device, mutation, Unverified(UNSIGNED))
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
            result = _run(session, device, mutation, key)
            claim.status = result.status
            # Kept without its record: a replay is answered with the record as it stands
            # then (``_as_it_stands``), and a patient's record would keep their phone
            # number readable here, beside the sealed one.
            claim.result = result.model_dump_json(exclude=set(RESULT_RECORD_FIELDS))
            return result
    except IntegrityError:
        # The same mutation was applied by a request running at the same time.
        with db.writing() as session:
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
    return stored.model_copy(update={name: getattr(current, name) for name in RESULT_RECORD_FIELDS})


def _stored(session: Session, device: AuthContext, mutation_id: uuid.UUID) -> MutationResult | None:
    found = session.scalar(
        select(AppliedMutation.result).where(
            AppliedMutation.clinic_id == device.clinic_id,
            AppliedMutation.device_id == device.device_id,
            AppliedMutation.mutation_id == mutation_id,
        )
    )
    return MutationResult.model_validate_json(found) if found else None


def _signing_key(session: Session, device: AuthContext, mutation: Mutation) -> SigningKey | None:
    """The key ``mutation`` is signed with, if the signature holds and the key belongs
    to the person the mutation names, on the workstation sending it."""
    if mutation.key_id is None or not mutation.signature:
        return None
    key = session.scalar(
        select(SigningKey).where(
            SigningKey.id == mutation.key_id,
            SigningKey.clinic_id == device.clinic_id,
            SigningKey.device_id == device.device_id,
            SigningKey.staff_id == mutation.staff_id,
        )
    )
    if key is None or not signature_holds(unb64(key.public_key), mutation):
        return None
    return key


def _run(
    session: Session, device: AuthContext, mutation: Mutation, key: SigningKey
) -> MutationResult:
    """Run the command as the staff member who signed it, on this workstation."""
    try:
        with session.begin_nested():
            ctx = _acting_staff(session, device, key)
            record = _execute(session, ctx, mutation)
    except DomainError as error:
        return _rejected(session, device, mutation, error)
    return _result(mutation.mutation_id, "applied", record)


def _acting_staff(session: Session, device: AuthContext, key: SigningKey) -> AuthContext:
    """Whose change this is, if they may still make changes: the key not revoked (an
    admin ended that sign-in or removed the workstation), the person still active."""
    staff = session.scalar(
        select(StaffUser).where(
            StaffUser.id == key.staff_id, StaffUser.clinic_id == device.clinic_id
        )
    )
    if staff is None or not staff.active:
        raise Forbidden("The staff member who made this change can no longer make changes.")
    if key.revoked_at is not None:
        raise Unverified(
            "This change was made under a sign-in that a clinic admin has since ended, so "
            "it was not applied. Whoever is signed in now can make it again."
        )
    return AuthContext(
        clinic_id=device.clinic_id, device_id=device.device_id, staff_id=staff.id, role=staff.role
    )


def _execute(session: Session, ctx: AuthContext, mutation: Mutation) -> Synced | None:
    command = mutation.command
    match command:
        case BookAppointment():
            booked = scheduling.book(
                session,
                ctx,
                appointment_id=command.appointment_id,
                provider_id=command.provider_id,
                patient_id=command.patient_id,
                starts_at=command.starts_at,
                ends_at=command.ends_at,
                source=AppointmentSource.DESK,
                appointment_type_id=command.appointment_type_id,
                location_id=command.location_id,
            )
            automated.confirm_booking(session, ctx.clinic_id, booked)
            return booked
        case MoveAppointment():
            moved = scheduling.move(
                session,
                ctx,
                appointment_id=command.appointment_id,
                base_version=command.base_version,
                provider_id=command.provider_id,
                starts_at=command.starts_at,
                ends_at=command.ends_at,
            )
            automated.appointment_changed(session, ctx.clinic_id, moved, moved=True)
            return moved
        case CancelAppointment():
            cancelled = scheduling.set_status(
                session,
                ctx,
                appointment_id=command.appointment_id,
                base_version=command.base_version,
                status=AppointmentStatus.CANCELLED,
                cancelled_by=command.cancelled_by,
                now=mutation.made_at,
            )
            automated.appointment_changed(session, ctx.clinic_id, cancelled, moved=False)
            return cancelled
        case (
            ConfirmAppointment()
            | CheckIn()
            | StartAppointment()
            | CompleteAppointment()
            | MarkNoShow()
        ):
            return scheduling.set_status(
                session,
                ctx,
                appointment_id=command.appointment_id,
                base_version=command.base_version,
                status=STATUS_OF[command.kind],
                now=mutation.made_at,
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
        case RegisterPatient():
            return patients.register(session, ctx, command)
        case UpdatePatient():
            return patients.update(session, ctx, command)
        case SetWorkingHours():
            return settings.set_working_hours(
                session,
                ctx,
                provider_id=command.provider_id,
                base_version=command.base_version,
                hours=command.hours,
            )
        case SaveLocation():
            return settings.save_location(session, ctx, command)
        case SaveAppointmentType():
            return settings.save_appointment_type(session, ctx, command)
        case SaveScheduleException():
            return settings.save_schedule_exception(session, ctx, command)
        case RemoveScheduleException():
            return settings.remove_schedule_exception(
                session, ctx, exception_id=command.exception_id, base_version=command.base_version
            )
        case SetBookingRules():
            return settings.set_booking_rules(session, ctx, command)
        case SendMessage():
            return messaging.send_from_desk(
                session,
                ctx,
                message_id=command.message_id,
                patient_id=command.patient_id,
                channels=command.channels,
                purpose=command.purpose,
                subject=command.subject,
                body=command.body,
            )
        case MarkMessagesRead():
            messaging.mark_read(session, ctx, command.message_ids)
            return None
        case SaveMessageTemplate():
            return automated.save_template(session, ctx, command)
        case TellRunningLate():
            automated.running_late(
                session,
                ctx,
                provider_id=command.provider_id,
                minutes=command.minutes,
                after=command.after,
            )
            return None
        case AttachMessage():
            return messaging.attach(
                session, ctx, message_id=command.message_id, patient_id=command.patient_id
            )
        case RecordConsent():
            return messaging.record_consent(
                session,
                ctx,
                consent_id=command.consent_id,
                patient_id=command.patient_id,
                channel=command.channel,
                purpose=command.purpose,
                granted=command.granted,
                note=command.note,
                # Never later than now: a desk's fast clock must not outrank a STOP.
                decided_at=min(mutation.made_at, utcnow()),
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


def _current_record(session: Session, device: AuthContext, mutation: Mutation) -> Synced | None:
    """The row the mutation is about, as it stands now (whatever the verdict)."""
    command = mutation.command
    model: type[Synced]
    match command:
        case UpdatePatientContact() | RegisterPatient() | UpdatePatient():
            model, record_id = Patient, command.patient_id
        case SetWorkingHours():
            model, record_id = Provider, command.provider_id
        case SaveLocation():
            model, record_id = Location, command.location_id
        case SaveAppointmentType():
            model, record_id = AppointmentType, command.appointment_type_id
        case SaveScheduleException() | RemoveScheduleException():
            model, record_id = ScheduleException, command.exception_id
        case SetBookingRules():
            return session.scalar(
                select(BookingRules).where(BookingRules.clinic_id == device.clinic_id)
            )
        case SendMessage() | AttachMessage():
            model, record_id = Message, command.message_id
        case RecordConsent():
            model, record_id = ConsentDecision, command.consent_id
        case SaveMessageTemplate():
            return session.scalar(
                select(MessageTemplate).where(
                    MessageTemplate.clinic_id == device.clinic_id,
                    MessageTemplate.kind == command.message_kind,
                    MessageTemplate.channel == command.channel,
                )
            )
        case MarkMessagesRead() | TellRunningLate():
            return None
        case _:
            model, record_id = Appointment, command.appointment_id
    return session.scalar(
        select(model).where(model.id == record_id, model.clinic_id == device.clinic_id)
    )


def _result(
    mutation_id: uuid.UUID,
    status: Literal["applied", "rejected"],
    record: Synced | None,
) -> MutationResult:
    """The verdict with the record as the server now has it (none if it is gone: the
    desk drops its copy)."""
    fields: dict[str, Record] = {}
    if record is not None and record.deleted_at is None:
        name, shape = RESULT_FIELDS[type(record)]
        fields[name] = shape.model_validate(record, from_attributes=True)
    return MutationResult(mutation_id=mutation_id, status=status, **fields)
