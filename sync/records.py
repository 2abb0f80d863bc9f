"""Writing server records into the cache: one bulk upsert per table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects.sqlite import insert

from sync.protocol import AppointmentRecord, PatientRecord, ProviderRecord, Record
from sync.schema import appointments, patients, providers


def epoch_seconds(moment: datetime) -> int:
    """Instants are cached as UTC epoch seconds: compact and quick to range-scan."""
    return int(moment.timestamp())


def upsert_records(
    conn: Connection,
    *,
    providers_: Sequence[ProviderRecord] = (),
    patients_: Sequence[PatientRecord] = (),
    appointments_: Sequence[AppointmentRecord] = (),
) -> None:
    """Store the server's version of these records; whatever was pending on them is
    re-applied afterwards by the outbox (``replay_pending``)."""
    upsert(conn, providers, (_provider_row(r) for r in providers_))
    upsert(conn, patients, (_patient_row(r) for r in patients_))
    upsert(conn, appointments, (_appointment_row(r) for r in appointments_))


def upsert(conn: Connection, table: Table, rows: Iterable[dict[str, Any]], key: str = "id") -> None:
    batch = list(rows)
    if not batch:
        return
    statement = insert(table)
    columns = {c.name: statement.excluded[c.name] for c in table.columns if c.name != key}
    conn.execute(statement.on_conflict_do_update(index_elements=[key], set_=columns), batch)


def _base(record: Record) -> dict[str, Any]:
    return {"id": str(record.id), "version": record.version}


def _provider_row(r: ProviderRecord) -> dict[str, Any]:
    return _base(r) | {"display_name": r.display_name, "colour": r.colour, "active": int(r.active)}


def _patient_row(r: PatientRecord) -> dict[str, Any]:
    born = r.date_of_birth
    return _base(r) | {
        "first_name": r.first_name,
        "last_name": r.last_name,
        "date_of_birth": born.isoformat() if born else None,
        "phone": r.phone,
        "email": r.email,
        "pending": 0,
    }


def _appointment_row(r: AppointmentRecord) -> dict[str, Any]:
    return _base(r) | {
        "provider_id": str(r.provider_id),
        "patient_id": str(r.patient_id),
        "starts_at": epoch_seconds(r.starts_at),
        "ends_at": epoch_seconds(r.ends_at),
        "status": r.status.value,
        "source": r.source.value,
        "pending": 0,
    }
