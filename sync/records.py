"""Writing server records into the cache: one bulk upsert per table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Table

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
