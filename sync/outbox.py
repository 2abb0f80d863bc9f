"""The outbox: every change made at this desk, written with its optimistic local effect in
one transaction, kept until the server's answer has been received and recorded.

Losing the cache costs a re-download; losing the outbox loses work, so nothing here
deletes an entry except an acknowledgement (or a person discarding a rejected change).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter
from sqlalchemy import Connection, delete, func, insert, select, update

from common.appointments import AppointmentSource, AppointmentStatus
from sync.crash import crashpoint
from sync.protocol import (
    AppointmentRecord,
    BookAppointment,
    CancelAppointment,
    CheckIn,
    Command,
    MarkNoShow,
    MoveAppointment,
    Mutation,
    MutationResult,
    PatientRecord,
    Slot,
    UpdatePatientContact,
)
from sync.records import epoch_seconds, upsert_records
from sync.schema import appointments, outbox, patients

PENDING, ATTENTION = "pending", "attention"
_commands: TypeAdapter[Command] = TypeAdapter(Command)
STATUS_OF = {
    "cancel": AppointmentStatus.CANCELLED,
    "check_in": AppointmentStatus.ARRIVED,
    "no_show": AppointmentStatus.NO_SHOW,
}


@dataclass(frozen=True)
class Attention:
    """A change the server turned down, waiting for a person to decide."""

    seq: int
    mutation_id: uuid.UUID
    command: Command
    result: MutationResult


def enqueue(conn: Connection, staff_id: uuid.UUID, command: Command) -> uuid.UUID:
    """Apply ``command`` to the local copy and queue it, in the caller's transaction."""
    mutation_id = uuid.uuid4()
    apply_locally(conn, command)
    conn.execute(
        insert(outbox).values(
            mutation_id=str(mutation_id),
            staff_id=str(staff_id),
            made_at=datetime.now(UTC).isoformat(),
            kind=command.kind,
            command=command.model_dump_json(),
            state=PENDING,
        )
    )
    crashpoint("local_write")  # after both writes, before the commit
    return mutation_id


def apply_locally(conn: Connection, command: Command) -> None:
    """The optimistic effect of ``command`` on the cached rows, marked pending."""
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
        case CancelAppointment() | CheckIn() | MarkNoShow():
            _change_appointment(conn, command.appointment_id, status=STATUS_OF[command.kind].value)
        case UpdatePatientContact():
            conn.execute(
                update(patients)
                .where(patients.c.id == str(command.patient_id))
                .values(phone=command.phone, email=command.email, pending=1)
            )


def _change_appointment(conn: Connection, appointment_id: uuid.UUID, **values: object) -> None:
    conn.execute(
        update(appointments)
        .where(appointments.c.id == str(appointment_id))
        .values(pending=1, **values)
    )


def replay_pending(conn: Connection) -> None:
    """Re-apply every unanswered change on top of what the server just sent."""
    for row in conn.execute(
        select(outbox.c.command).where(outbox.c.state == PENDING).order_by(outbox.c.seq)
    ):
        apply_locally(conn, _commands.validate_json(row.command))


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
        _store_record(conn, result.appointment, result.patient)
        if result.status == "applied":
            conn.execute(delete(outbox).where(outbox.c.mutation_id == str(result.mutation_id)))
            continue
        if isinstance(command, BookAppointment) and result.appointment is None:
            conn.execute(
                delete(appointments).where(appointments.c.id == str(command.appointment_id))
            )
        conn.execute(
            update(outbox)
            .where(outbox.c.mutation_id == str(result.mutation_id))
            .values(state=ATTENTION, result=result.model_dump_json())
        )
    replay_pending(conn)


def _store_record(
    conn: Connection, appointment: AppointmentRecord | None, patient: PatientRecord | None
) -> None:
    upsert_records(
        conn,
        appointments_=[appointment] if appointment else [],
        patients_=[patient] if patient else [],
    )


def needs_attention(conn: Connection) -> list[Attention]:
    rows = conn.execute(select(outbox).where(outbox.c.state == ATTENTION).order_by(outbox.c.seq))
    return [
        Attention(
            seq=r.seq,
            mutation_id=uuid.UUID(r.mutation_id),
            command=_commands.validate_json(r.command),
            result=MutationResult.model_validate_json(r.result),
        )
        for r in rows
    ]


def discard(conn: Connection, seq: int) -> None:
    conn.execute(delete(outbox).where(outbox.c.seq == seq, outbox.c.state == ATTENTION))


def retry_at(conn: Connection, seq: int, staff_id: uuid.UUID, slot: Slot) -> uuid.UUID | None:
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
    return enqueue(conn, staff_id, fresh)


def describe(command: Command, zone: ZoneInfo) -> str:
    """A line a receptionist understands, for the worklist, in the clinic's local time."""
    kind = {
        "book": "Book",
        "move": "Move",
        "cancel": "Cancel",
        "check_in": "Check in",
        "no_show": "Mark no-show",
        "update_patient_contact": "Update contact details",
    }[command.kind]
    if isinstance(command, BookAppointment | MoveAppointment):
        return f"{kind} for {command.starts_at.astimezone(zone):%a %d %b %H:%M}"
    return kind
