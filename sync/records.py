"""Writing server records into the cache: one bulk upsert per table."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Table

from common.patients import Sex
from sync.protocol import (
    AppointmentRecord,
    AppointmentTypeRecord,
    BookingRulesRecord,
    ConsentRecord,
    FormRequestRecord,
    LocationRecord,
    MessageRecord,
    MessageTemplateRecord,
    PatientRecord,
    ProviderRecord,
    Record,
    ScheduleExceptionRecord,
    StaffRecord,
)
from sync.schema import (
    appointment_types,
    appointments,
    booking_rules,
    consents,
    form_requests,
    locations,
    message_templates,
    messages,
    patients,
    providers,
    schedule_exceptions,
    staff,
)


def epoch_seconds(moment: datetime) -> int:
    """Instants are cached as UTC epoch seconds: compact and quick to range-scan."""
    return int(moment.timestamp())


def instant(seconds: int) -> datetime:
    """The other way: a cached epoch second back to an aware UTC instant."""
    return datetime.fromtimestamp(seconds, UTC)


def upsert_records(
    conn: Connection,
    *,
    providers_: Sequence[ProviderRecord] = (),
    patients_: Sequence[PatientRecord] = (),
    appointments_: Sequence[AppointmentRecord] = (),
    locations_: Sequence[LocationRecord] = (),
    appointment_types_: Sequence[AppointmentTypeRecord] = (),
    schedule_exceptions_: Sequence[ScheduleExceptionRecord] = (),
    booking_rules_: Sequence[BookingRulesRecord] = (),
    staff_: Sequence[StaffRecord] = (),
    messages_: Sequence[MessageRecord] = (),
    consents_: Sequence[ConsentRecord] = (),
    message_templates_: Sequence[MessageTemplateRecord] = (),
    form_requests_: Sequence[FormRequestRecord] = (),
) -> None:
    """Store the server's version of these records; whatever was pending on them is
    re-applied afterwards by the outbox (``replay_pending``)."""
    upsert(conn, providers, (provider_row(r) for r in providers_))
    upsert(conn, patients, (patient_row(r) for r in patients_))
    upsert(conn, appointments, (appointment_row(r) for r in appointments_))
    upsert(conn, locations, (_plain_row(r) for r in locations_))
    upsert(conn, appointment_types, (appointment_type_row(r) for r in appointment_types_))
    upsert(conn, schedule_exceptions, (exception_row(r) for r in schedule_exceptions_))
    upsert(conn, booking_rules, (_plain_row(r) for r in booking_rules_))
    upsert(
        conn,
        staff,
        (
            _base(r)
            | {"display_name": r.display_name, "role": r.role.value, "active": int(r.active)}
            for r in staff_
        ),
    )
    upsert(conn, messages, (message_row(r) for r in messages_))
    upsert(conn, consents, (consent_row(r) for r in consents_))
    upsert(conn, message_templates, (template_row(r) for r in message_templates_))
    upsert(conn, form_requests, (form_request_row(r) for r in form_requests_))


def upsert_any(conn: Connection, records: Iterable[Record]) -> None:
    """``upsert_records`` for a mixed bag (the records a mutation's answer carries)."""
    by_kind: dict[str, list[Any]] = {}
    for record in records:
        by_kind.setdefault(_KEYWORD[type(record)], []).append(record)
    upsert_records(conn, **by_kind)


_KEYWORD: dict[type[Record], str] = {
    ProviderRecord: "providers_",
    PatientRecord: "patients_",
    AppointmentRecord: "appointments_",
    LocationRecord: "locations_",
    AppointmentTypeRecord: "appointment_types_",
    ScheduleExceptionRecord: "schedule_exceptions_",
    BookingRulesRecord: "booking_rules_",
    StaffRecord: "staff_",
    MessageRecord: "messages_",
    ConsentRecord: "consents_",
    MessageTemplateRecord: "message_templates_",
    FormRequestRecord: "form_requests_",
}


def upsert(conn: Connection, table: Table, rows: Iterable[dict[str, Any]], key: str = "id") -> None:
    """Insert or replace rows by ``key``, through the driver's ``executemany``: a first
    download writes a hundred thousand rows, and this is where their time goes."""
    batch = list(rows)
    if not batch:
        return
    names = [c.name for c in table.columns]
    conn.exec_driver_sql(
        _upsert_sql(table.name, tuple(names), key),
        [tuple(row[name] for name in names) for row in batch],
    )


@cache
def _upsert_sql(table: str, names: tuple[str, ...], key: str) -> str:
    updates = ", ".join(f"{n} = excluded.{n}" for n in names if n != key)
    marks = ", ".join("?" for _ in names)
    # A record never goes back in time: the answer to a replayed mutation carries the
    # record as it was when first applied, which may be older than what was pulled since.
    newer = f" WHERE excluded.version >= {table}.version" if "version" in names else ""
    return (
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks}) "  # noqa: S608 - our names
        f"ON CONFLICT({key}) DO UPDATE SET {updates}{newer}"
    )


def _base(record: Record) -> dict[str, Any]:
    return {"id": str(record.id), "version": record.version}


def _plain_row(r: LocationRecord | BookingRulesRecord) -> dict[str, Any]:
    """Records whose fields are all plain columns (booleans stored as 0/1)."""
    values = r.model_dump()
    return {k: int(v) if isinstance(v, bool) else v for k, v in values.items()} | {
        "id": str(r.id),
        "pending": 0,
    }


def provider_row(r: ProviderRecord, *, pending: int = 0) -> dict[str, Any]:
    hours = [h.model_dump(mode="json") for h in r.working_hours]
    return _base(r) | {
        "display_name": r.display_name,
        "colour": r.colour,
        "active": int(r.active),
        "working_hours": json.dumps(hours),
        "pending": pending,
    }


def appointment_type_row(r: AppointmentTypeRecord, *, pending: int = 0) -> dict[str, Any]:
    return _base(r) | {
        "name": r.name,
        "colour": r.colour,
        "duration_minutes": r.duration_minutes,
        "buffer_before_minutes": r.buffer_before_minutes,
        "buffer_after_minutes": r.buffer_after_minutes,
        "provider_ids": json.dumps([str(p) for p in r.provider_ids]),
        "bookable_online": int(r.bookable_online),
        "requires_confirmation": int(r.requires_confirmation),
        "active": int(r.active),
        "video": int(r.video),
        "pending": pending,
    }


def exception_row(r: ScheduleExceptionRecord, *, pending: int = 0) -> dict[str, Any]:
    return _base(r) | {
        "provider_id": str(r.provider_id) if r.provider_id else None,
        "kind": r.kind.value,
        "first_day": r.first_day.isoformat(),
        "last_day": r.last_day.isoformat(),
        "start_time": r.start_time.strftime("%H:%M") if r.start_time else None,
        "end_time": r.end_time.strftime("%H:%M") if r.end_time else None,
        "note": r.note,
        "pending": pending,
    }


def patient_row(r: PatientRecord, *, pending: int = 0) -> dict[str, Any]:
    born = r.date_of_birth
    return _base(r) | {
        "first_name": r.first_name,
        "last_name": r.last_name,
        "date_of_birth": born.isoformat() if born else None,
        "phone": r.phone,
        "email": r.email,
        "pending": pending,
        "sex": r.sex.value if isinstance(r.sex, Sex) else str(r.sex),
        "address_line1": r.address_line1,
        "address_line2": r.address_line2,
        "city": r.city,
        "postcode": r.postcode,
        "alerts": json.dumps(list(r.alerts)),
    }


def appointment_row(r: AppointmentRecord) -> dict[str, Any]:
    return _base(r) | {
        "provider_id": str(r.provider_id),
        "patient_id": str(r.patient_id),
        "starts_at": epoch_seconds(r.starts_at),
        "ends_at": epoch_seconds(r.ends_at),
        "status": r.status.value,
        "source": r.source.value,
        "pending": 0,
        "appointment_type_id": _id(r.appointment_type_id),
        "location_id": _id(r.location_id),
        "cancelled_by": r.cancelled_by.value if r.cancelled_by else None,
        "cancelled_late": int(r.cancelled_late),
        "arrived_at": _seconds(r.arrived_at),
        "started_at": _seconds(r.started_at),
        "finished_at": _seconds(r.finished_at),
        "video_url": r.video_url,
    }


def message_row(r: MessageRecord, *, pending: int = 0) -> dict[str, Any]:
    deliveries = [d.model_dump(mode="json") for d in r.deliveries]
    return _base(r) | {
        "patient_id": _id(r.patient_id),
        "direction": r.direction.value,
        "purpose": r.purpose.value,
        "kind": r.kind,
        "channels": json.dumps([c.value for c in r.channels]),
        "subject": r.subject,
        "body": r.body,
        "counterpart": r.counterpart,
        "appointment_id": _id(r.appointment_id),
        "sent_by_staff_id": _id(r.sent_by_staff_id),
        "urgent": int(r.urgent),
        "due_at": epoch_seconds(r.due_at),
        "read_at": _seconds(r.read_at),
        "deliveries": json.dumps(deliveries),
        "created_at": epoch_seconds(r.created_at),
        "pending": pending,
    }


def consent_row(r: ConsentRecord, *, pending: int = 0) -> dict[str, Any]:
    return _base(r) | {
        "patient_id": str(r.patient_id),
        "channel": r.channel.value,
        "purpose": r.purpose.value,
        "granted": int(r.granted),
        "source": r.source.value,
        "decided_at": epoch_seconds(r.decided_at),
        "staff_id": _id(r.staff_id),
        "note": r.note,
        "pending": pending,
    }


def template_row(r: MessageTemplateRecord, *, pending: int = 0) -> dict[str, Any]:
    return _base(r) | {
        "kind": r.kind,
        "channel": r.channel.value,
        "purpose": r.purpose.value,
        "subject": r.subject,
        "body": r.body,
        "pending": pending,
    }


def _seconds(moment: datetime | None) -> int | None:
    return epoch_seconds(moment) if moment is not None else None


def _id(value: object) -> str | None:
    return str(value) if value is not None else None


def form_request_row(r: FormRequestRecord, *, pending: int = 0) -> dict[str, Any]:
    return _base(r) | {
        "patient_id": str(r.patient_id),
        "appointment_id": str(r.appointment_id) if r.appointment_id else None,
        "title": r.title,
        "kind": r.kind.value,
        "status": r.status.value,
        "sent_at": epoch_seconds(r.sent_at),
        "completed_at": _seconds(r.completed_at),
        "pending": pending,
    }
