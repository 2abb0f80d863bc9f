"""The outbox: every change made at this desk, written with its optimistic local effect in
one transaction, kept until the server's answer has been received and recorded.

Losing the cache costs a re-download; losing the outbox loses work, so nothing here
deletes an entry except an acknowledgement (or a person discarding a rejected change).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter
from sqlalchemy import Connection, Table, delete, func, insert, select, update

from common.appointments import AppointmentSource, AppointmentStatus
from sync import messages as inbox
from sync.crash import crashpoint
from sync.protocol import (
    STATUS_OF,
    AppointmentCommand,
    AppointmentTypeRecord,
    BookAppointment,
    BookingRulesRecord,
    CancelAppointment,
    CheckIn,
    Command,
    CompleteAppointment,
    ConfirmAppointment,
    LocationRecord,
    MarkNoShow,
    MessagingCommand,
    MoveAppointment,
    Mutation,
    MutationResult,
    PatientFields,
    PatientRecord,
    RegisterPatient,
    RemoveScheduleException,
    SaveAppointmentType,
    SaveLocation,
    SaveScheduleException,
    ScheduleExceptionRecord,
    SendMessage,
    SetBookingRules,
    SetWorkingHours,
    Slot,
    StartAppointment,
    UpdatePatient,
    UpdatePatientContact,
)
from sync.records import (
    appointment_type_row,
    epoch_seconds,
    exception_row,
    instant,
    patient_row,
    upsert,
    upsert_any,
)
from sync.schema import (
    appointment_types,
    appointments,
    booking_rules,
    locations,
    outbox,
    patients,
    providers,
    schedule_exceptions,
)
from sync.signing import Author

PENDING, ATTENTION = "pending", "attention"
_commands: TypeAdapter[Command] = TypeAdapter(Command)
# Rows a command creates (its id, its table), so a refused creation can be taken back.
CREATES: dict[type, tuple[str, Table]] = {
    BookAppointment: ("appointment_id", appointments),
    SaveLocation: ("location_id", locations),
    SaveAppointmentType: ("appointment_type_id", appointment_types),
    SaveScheduleException: ("exception_id", schedule_exceptions),
    RegisterPatient: ("patient_id", patients),
}
LOCAL_RULES_ID = "local"  # the booking rules row written here before the server's arrives
# The column each status change stamps with the moment it was made.
MOMENTS = {
    "arrived_at": AppointmentStatus.ARRIVED,
    "started_at": AppointmentStatus.IN_PROGRESS,
    "finished_at": AppointmentStatus.COMPLETED,
}


@dataclass(frozen=True)
class About:
    """Whom a change is about, as this desk knows them: so the person deciding what to
    do with a turned-down change knows whom to call."""

    patient: str | None = None
    provider: str | None = None
    starts_at: datetime | None = None  # the appointment's time before the change
    appointment_type_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Attention:
    """A change the server turned down, waiting for a person to decide."""

    seq: int
    mutation_id: uuid.UUID
    command: Command
    result: MutationResult
    about: About = About()


def enqueue(
    conn: Connection, author: Author, command: Command, now: datetime | None = None
) -> uuid.UUID:
    """Apply ``command`` to the local copy and queue it signed by ``author``, in the
    caller's transaction, as made at ``now`` (the desk's clock by default)."""
    mutation_id = uuid.uuid4()
    made_at = (now or datetime.now(UTC)).astimezone(UTC).isoformat()
    apply_locally(conn, command, datetime.fromisoformat(made_at), author.staff_id)
    command_json = command.model_dump_json()
    inserted = conn.execute(
        insert(outbox).values(
            mutation_id=str(mutation_id),
            staff_id=str(author.staff_id),
            made_at=made_at,
            kind=command.kind,
            command=command_json,
            state=PENDING,
        )
    ).inserted_primary_key
    assert inserted is not None
    seq = int(inserted[0])
    # Signed as it will be read back and sent (see ``pending``), so the bytes match.
    unsigned = Mutation(
        mutation_id=mutation_id,
        seq=seq,
        staff_id=author.staff_id,
        made_at=datetime.fromisoformat(made_at),
        command=_commands.validate_json(command_json),
    )
    signed = author.sign(unsigned)
    conn.execute(
        update(outbox)
        .where(outbox.c.seq == seq)
        .values(key_id=str(signed.key_id), signature=signed.signature)
    )
    crashpoint("local_write")  # after every write, before the commit
    return mutation_id


def apply_locally(
    conn: Connection, command: Command, made_at: datetime, staff_id: uuid.UUID | None = None
) -> None:
    """The optimistic effect of ``command`` on the cached rows, marked pending. A check-in,
    start or completion is stamped with the moment it was made (``made_at``), as the
    server will stamp it, so the waiting room counts from it at once, offline too. A
    message or consent is shown as made by ``staff_id``."""
    if isinstance(command, MessagingCommand):
        inbox.apply_locally(conn, command, made_at, staff_id)
        return
    match command:
        case BookAppointment():
            row_id = str(command.appointment_id)
            conn.execute(delete(appointments).where(appointments.c.id == row_id))
            conn.execute(
                insert(appointments).values(
                    id=row_id,
                    version=0,
                    provider_id=str(command.provider_id),
                    patient_id=str(command.patient_id),
                    starts_at=epoch_seconds(command.starts_at),
                    ends_at=epoch_seconds(command.ends_at),
                    status=AppointmentStatus.BOOKED.value,
                    source=AppointmentSource.DESK.value,
                    pending=1,
                    appointment_type_id=_text(command.appointment_type_id),
                    location_id=_text(command.location_id),
                )
            )
        case MoveAppointment():
            _change_appointment(
                conn,
                command.appointment_id,
                provider_id=str(command.provider_id),
                starts_at=epoch_seconds(command.starts_at),
                ends_at=epoch_seconds(command.ends_at),
            )
        case CancelAppointment():
            _change_appointment(
                conn,
                command.appointment_id,
                status=AppointmentStatus.CANCELLED.value,
                cancelled_by=command.cancelled_by.value,
            )
        case (
            ConfirmAppointment()
            | CheckIn()
            | StartAppointment()
            | CompleteAppointment()
            | MarkNoShow()
        ):
            status = STATUS_OF[command.kind]
            stamps = {
                column: epoch_seconds(made_at)
                for column, stamped in MOMENTS.items()
                if stamped is status
            }
            _change_appointment(conn, command.appointment_id, status=status.value, **stamps)
        case UpdatePatientContact():
            conn.execute(
                update(patients)
                .where(patients.c.id == str(command.patient_id))
                .values(phone=command.phone, email=command.email, pending=1)
            )
        case RegisterPatient() | UpdatePatient():
            _apply_patient(conn, command.patient_id, command)
        case _:
            _apply_setting(conn, command)


def _apply_patient(conn: Connection, patient_id: uuid.UUID, fields: PatientFields) -> None:
    """A registration or an edit of a patient's details, shown at once on this desk
    (a new patient is findable, and bookable, before the server has heard of them)."""
    details = fields.model_dump(include=set(PatientFields.model_fields))
    record = PatientRecord(id=patient_id, version=_version(conn, patients, patient_id), **details)
    upsert(conn, patients, [patient_row(record, pending=1)])


def _apply_setting(conn: Connection, command: Command) -> None:
    """Admin settings, shown at once on this desk like any other change."""
    match command:
        case SetWorkingHours():
            hours = [h.model_dump(mode="json") for h in command.hours]
            conn.execute(
                update(providers)
                .where(providers.c.id == str(command.provider_id))
                .values(working_hours=json.dumps(hours), pending=1)
            )
        case SaveLocation():
            record = LocationRecord(
                id=command.location_id,
                version=_version(conn, locations, command.location_id),
                name=command.name,
                active=command.active,
            )
            values = record.model_dump() | {"id": str(record.id), "active": int(record.active)}
            upsert(conn, locations, [values | {"pending": 1}])
        case SaveAppointmentType():
            fields = command.model_dump(exclude={"kind", "base_version", "appointment_type_id"})
            if fields["video"] is None:  # as it is
                was = conn.scalar(
                    select(appointment_types.c.video).where(
                        appointment_types.c.id == str(command.appointment_type_id)
                    )
                )
                fields["video"] = bool(was)
            kind = AppointmentTypeRecord(
                id=command.appointment_type_id,
                version=_version(conn, appointment_types, command.appointment_type_id),
                **fields,
            )
            upsert(conn, appointment_types, [appointment_type_row(kind, pending=1)])
        case SaveScheduleException():
            exception = ScheduleExceptionRecord(
                id=command.exception_id,
                version=_version(conn, schedule_exceptions, command.exception_id),
                provider_id=command.provider_id,
                kind=command.exception_kind,
                first_day=command.first_day,
                last_day=command.last_day,
                start_time=command.start_time,
                end_time=command.end_time,
                note=command.note,
            )
            upsert(conn, schedule_exceptions, [exception_row(exception, pending=1)])
        case RemoveScheduleException():
            conn.execute(
                delete(schedule_exceptions).where(
                    schedule_exceptions.c.id == str(command.exception_id)
                )
            )
        case SetBookingRules():
            values = command.model_dump(exclude={"kind", "base_version"})
            values = {k: int(v) if isinstance(v, bool) else v for k, v in values.items()}
            changed = conn.execute(update(booking_rules).values(pending=1, **values)).rowcount
            if not changed:
                conn.execute(
                    insert(booking_rules).values(id=LOCAL_RULES_ID, version=0, pending=1, **values)
                )


def _version(conn: Connection, table: Table, record_id: uuid.UUID) -> int:
    """The version this desk has of a row (0 for one it is creating): the upsert keeps
    a newer server copy from being overwritten by an older optimistic one."""
    found = conn.scalar(select(table.c.version).where(table.c.id == str(record_id)))
    return int(found) if found is not None else 0


def _text(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def _change_appointment(conn: Connection, appointment_id: uuid.UUID, **values: object) -> None:
    conn.execute(
        update(appointments)
        .where(appointments.c.id == str(appointment_id))
        .values(pending=1, **values)
    )


def replay_pending(conn: Connection) -> None:
    """Re-apply every unanswered change on top of what the server just sent."""
    for row in conn.execute(
        select(outbox.c.command, outbox.c.made_at, outbox.c.staff_id)
        .where(outbox.c.state == PENDING)
        .order_by(outbox.c.seq)
    ):
        apply_locally(
            conn,
            _commands.validate_json(row.command),
            datetime.fromisoformat(row.made_at),
            uuid.UUID(row.staff_id),
        )


def pending(conn: Connection, limit: int) -> list[Mutation]:
    rows = conn.execute(
        select(outbox).where(outbox.c.state == PENDING).order_by(outbox.c.seq).limit(limit)
    )
    return [
        Mutation(
            mutation_id=uuid.UUID(r.mutation_id),
            seq=r.seq,
            staff_id=uuid.UUID(r.staff_id),
            made_at=datetime.fromisoformat(r.made_at),
            command=_commands.validate_json(r.command),
            key_id=uuid.UUID(r.key_id) if r.key_id else None,
            signature=r.signature,
        )
        for r in rows
    ]


def counts(conn: Connection) -> dict[str, int]:
    by_state = select(outbox.c.state, func.count().label("entries")).group_by(outbox.c.state)
    found: dict[str, int] = {row.state: row.entries for row in conn.execute(by_state)}
    return {PENDING: found.get(PENDING, 0), ATTENTION: found.get(ATTENTION, 0)}


def record_results(
    conn: Connection, sent: Iterable[Mutation], results: Iterable[MutationResult]
) -> None:
    """Take in the server's answers: an applied change leaves the outbox and its record
    becomes the server's; a rejected one waits in "Needs attention" and its record
    goes back to how the server has it. Then the rest is re-applied on top."""
    commands = {m.mutation_id: m.command for m in sent}
    for result in results:
        command = commands.get(result.mutation_id)
        if command is None:
            continue
        _store_record(conn, result)
        if result.status == "applied":
            if result.record is None and isinstance(command, MessagingCommand):
                inbox.settle(conn, command)
            conn.execute(delete(outbox).where(outbox.c.mutation_id == str(result.mutation_id)))
            continue
        if result.record is None:
            _take_back(conn, command)
        conn.execute(
            update(outbox)
            .where(outbox.c.mutation_id == str(result.mutation_id))
            .values(state=ATTENTION, result=result.model_dump_json())
        )
    replay_pending(conn)


def _take_back(conn: Connection, command: Command) -> None:
    """Refused, and the server has no such row: take back the optimistic one."""
    if isinstance(command, MessagingCommand):
        inbox.take_back(conn, command)
        return
    created = CREATES.get(type(command))
    if created is not None:
        field, table = created
        conn.execute(delete(table).where(table.c.id == str(getattr(command, field))))
    elif isinstance(command, SetBookingRules):
        # The clinic has no rules on the server: it runs on the defaults, and so does the
        # desk (a pending change of the rules is re-applied on top by the replay).
        conn.execute(delete(booking_rules))


def _store_record(conn: Connection, result: MutationResult) -> None:
    record = result.record
    if record is None:
        return
    if isinstance(record, BookingRulesRecord):
        keep_only_rules(conn, record)
    upsert_any(conn, [record])


def keep_only_rules(conn: Connection, rules: BookingRulesRecord) -> None:
    """A clinic has one booking rules row: the server's replaces a provisional local one."""
    conn.execute(delete(booking_rules).where(booking_rules.c.id != str(rules.id)))


def needs_attention(conn: Connection) -> list[Attention]:
    rows = conn.execute(select(outbox).where(outbox.c.state == ATTENTION).order_by(outbox.c.seq))
    found = []
    for r in rows:
        command = _commands.validate_json(r.command)
        result = MutationResult.model_validate_json(r.result)
        found.append(
            Attention(
                seq=r.seq,
                mutation_id=uuid.UUID(r.mutation_id),
                command=command,
                result=result,
                about=_about(conn, command, result),
            )
        )
    return found


def _about(conn: Connection, command: Command, result: MutationResult) -> About:
    """The patient, provider and time a change is about: from the command, else from the
    appointment as this desk has it, else as the server's answer had it."""
    patient_id = getattr(command, "patient_id", None)
    provider_id = getattr(command, "provider_id", None)
    starts_at: datetime | None = None
    kind = getattr(command, "appointment_type_id", None)
    appointment_id = getattr(command, "appointment_id", None)
    if appointment_id is not None and not isinstance(command, BookAppointment):
        row = conn.execute(
            select(
                appointments.c.patient_id,
                appointments.c.provider_id,
                appointments.c.starts_at,
                appointments.c.appointment_type_id,
            ).where(appointments.c.id == str(appointment_id))
        ).first()
        record = result.appointment
        if row is not None:
            patient_id, starts_at = row.patient_id, instant(row.starts_at)
            provider_id = provider_id or row.provider_id
            kind = _uuid(row.appointment_type_id)
        elif record is not None:
            patient_id, starts_at = record.patient_id, record.starts_at
            provider_id = provider_id or record.provider_id
            kind = record.appointment_type_id
    patient = None
    if patient_id is not None:
        name = conn.execute(
            select(patients.c.first_name, patients.c.last_name).where(
                patients.c.id == str(patient_id)
            )
        ).first()
        patient = f"{name.first_name} {name.last_name}" if name else None
    provider = None
    if provider_id is not None:
        provider = conn.scalar(
            select(providers.c.display_name).where(providers.c.id == str(provider_id))
        )
    return About(patient=patient, provider=provider, starts_at=starts_at, appointment_type_id=kind)


def _uuid(text: str | None) -> uuid.UUID | None:
    return uuid.UUID(text) if text else None


def refused_sends(conn: Connection, patient_id: uuid.UUID) -> list[inbox.MessageView]:
    """Messages to the patient the server turned down: their text waits here, in Needs
    attention, until someone discards it (it is never dropped unseen)."""
    rows = conn.execute(
        select(outbox.c.command, outbox.c.made_at, outbox.c.result)
        .where(outbox.c.state == ATTENTION, outbox.c.kind == "send_message")
        .order_by(outbox.c.seq)
    )
    found = []
    for r in rows:
        command = _commands.validate_json(r.command)
        if isinstance(command, SendMessage) and command.patient_id == patient_id:
            reason = MutationResult.model_validate_json(r.result).message or "Turned down"
            found.append(inbox.refused_view(command, datetime.fromisoformat(r.made_at), reason))
    return found


def discard(conn: Connection, seq: int) -> None:
    conn.execute(delete(outbox).where(outbox.c.seq == seq, outbox.c.state == ATTENTION))


def retry_at(
    conn: Connection, seq: int, author: Author, slot: Slot, now: datetime | None = None
) -> uuid.UUID | None:
    """Replace a turned-down booking or move with the same change at ``slot``."""
    row = conn.execute(
        select(outbox).where(outbox.c.seq == seq, outbox.c.state == ATTENTION)
    ).first()
    if row is None:
        return None
    command = _commands.validate_json(row.command)
    result = MutationResult.model_validate_json(row.result)
    fresh: Command
    if isinstance(command, BookAppointment):
        fresh = command.model_copy(
            update={
                "provider_id": slot.provider_id,
                "starts_at": slot.starts_at,
                "ends_at": slot.ends_at,
            }
        )
    elif isinstance(command, MoveAppointment):
        version = result.appointment.version if result.appointment else command.base_version
        fresh = command.model_copy(
            update={
                "base_version": version,
                "provider_id": slot.provider_id,
                "starts_at": slot.starts_at,
                "ends_at": slot.ends_at,
            }
        )
    else:
        return None
    conn.execute(delete(outbox).where(outbox.c.seq == seq))
    return enqueue(conn, author, fresh, now)


def describe(command: Command, zone: ZoneInfo, about: About = About()) -> str:
    """A line a receptionist understands, for the worklist, in the clinic's local time:
    what was tried, for whom, with whom and when ("Book Ada Lovelace with Dr Adams, Sun 29
    Nov 13:45"), so they know whom to call about it."""
    if isinstance(command, MessagingCommand):
        return inbox.describe(command, zone, about.patient, about.provider)
    kind = {
        "book": "Book",
        "move": "Move",
        "cancel": "Cancel",
        "confirm": "Confirm",
        "check_in": "Check in",
        "start": "Start",
        "complete": "Complete",
        "no_show": "Mark no-show",
        "update_patient_contact": "Update contact details",
        "register_patient": "Register patient",
        "update_patient": "Update patient details",
        "set_working_hours": "Change working hours",
        "save_location": "Save room",
        "save_appointment_type": "Save appointment type",
        "save_schedule_exception": "Save time off / closure",
        "remove_schedule_exception": "Remove time off / closure",
        "set_booking_rules": "Change booking rules",
    }[command.kind]
    patient = about.patient or "an unknown patient"
    provider = about.provider or "an unknown provider"

    def when(moment: datetime) -> str:
        return f"{moment.astimezone(zone):%a %d %b %H:%M}"

    match command:
        case BookAppointment():
            return f"{kind} {patient} with {provider}, {when(command.starts_at)}"
        case MoveAppointment():
            was = f" (was {when(about.starts_at)})" if about.starts_at else ""
            return f"{kind} {patient} to {when(command.starts_at)} with {provider}{was}"
        case UpdatePatientContact():
            return f"{kind} of {patient}"
        case SetWorkingHours():
            return f"{kind} of {provider}"
        case RegisterPatient() | UpdatePatient():
            return f"{kind} {command.first_name} {command.last_name}"
    if isinstance(command, AppointmentCommand):
        at = f", {when(about.starts_at)}" if about.starts_at else ""
        return f"{kind} {patient} ({provider}{at})"
    return kind
