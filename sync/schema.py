"""The desk store's tables and their versioned migrations.

Entry N of ``MIGRATIONS`` takes a store from ``PRAGMA user_version`` N to N + 1; the table
objects describe the newest schema for queries. Migrations are history: never edit one
that has shipped, append a new one.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, Text

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
    Column("pending", Integer, nullable=False, default=0),
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
    Column("pending", Integer, nullable=False, default=0),
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
# Changes made at this desk, oldest first, until the server has answered them. ``seq``
# never repeats (AUTOINCREMENT), so it orders a device's mutations for its whole life.
outbox = Table(
    "outbox",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("mutation_id", String, nullable=False, unique=True),
    Column("staff_id", String, nullable=False),
    Column("made_at", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("command", Text, nullable=False),
    Column("state", String, nullable=False, default="pending"),
    Column("result", Text),
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
    (
        "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
        "mutation_id TEXT NOT NULL UNIQUE, staff_id TEXT NOT NULL, made_at TEXT NOT NULL, "
        "kind TEXT NOT NULL, command TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending', "
        "result TEXT)",
        "CREATE INDEX ix_outbox_state ON outbox (state, seq)",
        "ALTER TABLE appointments ADD COLUMN pending INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE patients ADD COLUMN pending INTEGER NOT NULL DEFAULT 0",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
