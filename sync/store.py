"""The desk's encrypted local store: SQLCipher 4 with a random raw key.

What it holds is a cache of the clinic (re-downloadable) plus, from the next milestone,
the outbox of unsent changes (precious), so it runs with WAL and ``synchronous=FULL``.
Instants are stored as UTC epoch seconds: compact, and fast to range-scan for a diary day.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlcipher3
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    func,
    select,
)
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.exc import DatabaseError

from common.appointments import AppointmentSource, AppointmentStatus
from common.errors import DomainError
from common.roles import Role
from common.validation import canonical_email
from sync.protocol import (
    AppointmentRecord,
    ChangesPage,
    Cursor,
    PatientRecord,
    ProviderRecord,
    Record,
    StaffInfo,
)

metadata = MetaData()

meta = Table("meta", metadata, Column("key", String, primary_key=True), Column("value", Text))
providers = Table(
    "providers",
    metadata,
    Column("id", String, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("display_name", Text, nullable=False),
    Column("colour", String, nullable=False),
    Column("active", Integer, nullable=False),
)
patients = Table(
    "patients",
    metadata,
    Column("id", String, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("first_name", Text, nullable=False),
    Column("last_name", Text, nullable=False),
    Column("date_of_birth", String),
    Column("phone", String),
    Column("email", String),
)
appointments = Table(
    "appointments",
    metadata,
    Column("id", String, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("provider_id", String, nullable=False),
    Column("patient_id", String, nullable=False),
    Column("starts_at", Integer, nullable=False),
    Column("ends_at", Integer, nullable=False),
    Column("status", String, nullable=False),
    Column("source", String, nullable=False),
)
staff_logins = Table(
    "staff_logins",
    metadata,
    Column("email", String, primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("staff_id", String, nullable=False),
    Column("display_name", Text, nullable=False),
    Column("role", String, nullable=False),
)
CACHED_TABLES = {"providers": providers, "patients": patients, "appointments": appointments}

# Versioned migrations: entry N takes the store from user_version N to N + 1.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)",
        "CREATE TABLE providers (id TEXT PRIMARY KEY, version INTEGER NOT NULL, "
        "display_name TEXT NOT NULL, colour TEXT NOT NULL, active INTEGER NOT NULL)",
        "CREATE TABLE patients (id TEXT PRIMARY KEY, version INTEGER NOT NULL, "
        "first_name TEXT NOT NULL, last_name TEXT NOT NULL, date_of_birth TEXT, phone TEXT, "
        "email TEXT)",
        "CREATE TABLE appointments (id TEXT PRIMARY KEY, version INTEGER NOT NULL, "
        "provider_id TEXT NOT NULL, patient_id TEXT NOT NULL, starts_at INTEGER NOT NULL, "
        "ends_at INTEGER NOT NULL, status TEXT NOT NULL, source TEXT NOT NULL)",
        "CREATE INDEX ix_appointments_starts_at ON appointments (starts_at)",
        "CREATE TABLE staff_logins (email TEXT PRIMARY KEY, password_hash TEXT NOT NULL, "
        "staff_id TEXT NOT NULL, display_name TEXT NOT NULL, role TEXT NOT NULL)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

_hasher = PasswordHasher()


class StoreError(DomainError):
    status = 500
    code = "store_error"


class StoreKeyError(StoreError):
    code = "store_key_wrong"


@dataclass(frozen=True, slots=True)
class ProviderRow:
    id: uuid.UUID
    display_name: str
    colour: str


@dataclass(frozen=True, slots=True)
class DiaryEntry:
    """An appointment as the diary shows it."""

    id: uuid.UUID
    provider_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    status: AppointmentStatus
    source: AppointmentSource
    patient_name: str


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _instant(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class Store:
    """One clinic's local copy on one workstation."""

    def __init__(self, engine: Engine, path: Path) -> None:
        self.engine = engine
        self.path = path
        self._writer = engine.execution_options(immediate=True)

    # --- opening ----------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, key: bytes) -> Store:
        """Open (creating if need be) the store at ``path`` with its raw 256-bit ``key``.

        A wrong key raises ``StoreKeyError``: SQLCipher cannot tell a wrong key from a
        file that is not a database, so we say both.
        """
        if len(key) != 32:
            raise StoreKeyError("The local store key must be 256 bits.")
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            "sqlite:///" + str(path),
            module=sqlcipher3.dbapi2,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        pragma_key = f"PRAGMA key = \"x'{key.hex()}'\""

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # SQLAlchemy issues BEGIN itself
            cursor = dbapi_connection.cursor()
            cursor.execute(pragma_key)  # must come first, before any read
            cursor.execute("SELECT count(*) FROM sqlite_master")  # fails on a wrong key
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Connection) -> None:
            # Writers take the write lock up front (no "database is locked" half-way);
            # readers start a plain snapshot and never wait for the sync's writes (WAL).
            immediate = connection.get_execution_options().get("immediate", False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        store = cls(engine, path)
        try:
            store._migrate()
        except DatabaseError as exc:
            engine.dispose()
            if "not a database" in str(exc.orig):
                raise StoreKeyError(
                    f"The local store {path} could not be opened: the key in the system "
                    "keyring does not fit it, or the file is damaged."
                ) from exc
            raise
        return store

    def close(self) -> None:
        self.engine.dispose()

    def _migrate(self) -> None:
        with self._writer.begin() as conn:
            current = conn.exec_driver_sql("PRAGMA user_version").scalar_one()
            if current > SCHEMA_VERSION:
                raise StoreError(
                    "This local store was written by a newer Clinicdesk. Install the newer "
                    "version on this workstation."
                )
            for statements in MIGRATIONS[current:]:
                for statement in statements:
                    conn.exec_driver_sql(statement)
            conn.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._writer.begin() as conn:
            yield conn

    # --- facts about the store ------------------------------------------------------

    def cipher_version(self) -> str:
        with self.engine.connect() as conn:
            return str(conn.exec_driver_sql("PRAGMA cipher_version").scalar_one())

    def integrity_check(self) -> str:
        with self.engine.connect() as conn:
            return str(conn.exec_driver_sql("PRAGMA integrity_check").scalar_one())

    # --- key/value state --------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            value: str | None = conn.scalar(select(meta.c.value).where(meta.c.key == key))
            return value

    def set_meta(self, values: dict[str, str], conn: Connection | None = None) -> None:
        rows = [{"key": k, "value": v} for k, v in values.items()]
        statement = insert(meta).on_conflict_do_update(
            index_elements=[meta.c.key], set_={"value": insert(meta).excluded.value}
        )
        if conn is not None:
            conn.execute(statement, rows)
            return
        with self._write() as own:
            own.execute(statement, rows)

    def cursor(self) -> Cursor:
        text_cursor = self.get_meta("cursor")
        return Cursor.parse(text_cursor) if text_cursor else Cursor.start()

    def last_sync_at(self) -> datetime | None:
        stamp = self.get_meta("last_sync_at")
        return datetime.fromisoformat(stamp) if stamp else None

    # --- applying the change feed -------------------------------------------------------

    def apply_page(self, page: ChangesPage, *, synced_at: datetime) -> None:
        """Apply one page and move the cursor, in one transaction: all of it or none."""
        with self._write() as conn:
            if page.reset:
                for table in CACHED_TABLES.values():
                    conn.execute(delete(table))
            _upsert(conn, providers, (_provider_row(r) for r in page.providers))
            _upsert(conn, patients, (_patient_row(r) for r in page.patients))
            _upsert(conn, appointments, (_appointment_row(r) for r in page.appointments))
            for tombstone in page.tombstones:
                table = CACHED_TABLES[tombstone.entity]
                conn.execute(delete(table).where(table.c.id == str(tombstone.id)))
            self.set_meta({"cursor": page.next_cursor, "last_sync_at": synced_at.isoformat()}, conn)

    # --- reading for the desk ---------------------------------------------------------

    def providers(self) -> list[ProviderRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(providers.c.id, providers.c.display_name, providers.c.colour)
                .where(providers.c.active == 1)
                .order_by(providers.c.display_name)
            )
            return [ProviderRow(uuid.UUID(r.id), r.display_name, r.colour) for r in rows]

    def diary(self, start: datetime, end: datetime) -> list[DiaryEntry]:
        """Appointments overlapping ``[start, end)``, with the patient's name."""
        query = (
            select(
                appointments,
                (patients.c.first_name + " " + patients.c.last_name).label("patient_name"),
            )
            .outerjoin(patients, patients.c.id == appointments.c.patient_id)
            .where(
                appointments.c.starts_at < _epoch(end),
                appointments.c.ends_at > _epoch(start),
            )
            .order_by(appointments.c.starts_at)
        )
        with self.engine.connect() as conn:
            return [
                DiaryEntry(
                    id=uuid.UUID(r.id),
                    provider_id=uuid.UUID(r.provider_id),
                    starts_at=_instant(r.starts_at),
                    ends_at=_instant(r.ends_at),
                    status=AppointmentStatus(r.status),
                    source=AppointmentSource(r.source),
                    patient_name=r.patient_name or "Unknown patient",
                )
                for r in conn.execute(query)
            ]

    def count(self, entity: str) -> int:
        with self.engine.connect() as conn:
            value: int = conn.execute(
                select(func.count()).select_from(CACHED_TABLES[entity])
            ).scalar_one()
            return value

    # --- offline sign-in --------------------------------------------------------------

    def remember_login(self, email: str, password: str, staff: StaffInfo) -> None:
        """Keep an argon2 verifier so this person can sign in here while offline."""
        row = {
            "email": canonical_email(email),
            "password_hash": _hasher.hash(password),
            "staff_id": str(staff.id),
            "display_name": staff.display_name,
            "role": staff.role.value,
        }
        with self._write() as conn:
            _upsert(conn, staff_logins, [row], key="email")

    def check_login(self, email: str, password: str) -> StaffInfo | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(staff_logins).where(staff_logins.c.email == canonical_email(email))
            ).first()
        if row is None:
            return None
        try:
            _hasher.verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        return StaffInfo(
            id=uuid.UUID(row.staff_id),
            email=row.email,
            display_name=row.display_name,
            role=Role(row.role),
        )


def _upsert(
    conn: Connection, table: Table, rows: Iterable[dict[str, Any]], key: str = "id"
) -> None:
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
    }


def _appointment_row(r: AppointmentRecord) -> dict[str, Any]:
    return _base(r) | {
        "provider_id": str(r.provider_id),
        "patient_id": str(r.patient_id),
        "starts_at": _epoch(r.starts_at),
        "ends_at": _epoch(r.ends_at),
        "status": r.status.value,
        "source": r.source.value,
    }
