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
    Column("working_hours", Text, nullable=False, default="[]"),  # JSON, as in the record
    Column("pending", Integer, nullable=False, default=0),
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
    Column("sex", String, nullable=False, default="unknown"),
    Column("address_line1", Text, nullable=False, default=""),
    Column("address_line2", Text, nullable=False, default=""),
    Column("city", Text, nullable=False, default=""),
    Column("postcode", String, nullable=False, default=""),
    Column("alerts", Text, nullable=False, default="[]"),  # JSON list, as in the record
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
    Column("appointment_type_id", String),
    Column("location_id", String),
    Column("cancelled_by", String),
    Column("cancelled_late", Integer, nullable=False, default=0),
    # Epoch seconds, like every instant here; None until it happened.
    Column("arrived_at", Integer),
    Column("started_at", Integer),
    Column("finished_at", Integer),
    Column("video_url", Text),
)
locations = Table(
    "locations",
    metadata,
    Column("id", String, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("active", Integer, nullable=False),
    Column("pending", Integer, nullable=False, default=0),
)
appointment_types = Table(
    "appointment_types",
    metadata,
    Column("id", String, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("colour", String, nullable=False),
    Column("duration_minutes", Integer, nullable=False),
    Column("buffer_before_minutes", Integer, nullable=False),
    Column("buffer_after_minutes", Integer, nullable=False),
    Column("provider_ids", Text, nullable=False),  # JSON list of ids; empty: everyone
    Column("bookable_online", Integer, nullable=False),
    Column("requires_confirmation", Integer, nullable=False),
    Column("active", Integer, nullable=False),
    Column("pending", Integer, nullable=False, default=0),
    Column("video", Integer, nullable=False, default=0),
)
schedule_exceptions = Table(
    "schedule_exceptions",
    metadata,
    Column("id", String, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("provider_id", String),
    Column("kind", String, nullable=False),
    Column("first_day", String, nullable=False),
    Column("last_day", String, nullable=False),
    Column("start_time", String),
    Column("end_time", String),
    Column("note", Text, nullable=False),
    Column("pending", Integer, nullable=False, default=0),
)
booking_rules = Table(
    "booking_rules",
    metadata,
    Column("id", String, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("horizon_days", Integer, nullable=False),
    Column("min_notice_minutes", Integer, nullable=False),
    Column("slot_rounding", Integer, nullable=False),
    Column("allow_any_provider", Integer, nullable=False),
    Column("daily_cap", Integer),
    Column("patient_cancel_cutoff_hours", Integer, nullable=False),
    Column("patient_reschedule_cutoff_hours", Integer, nullable=False),
    Column("patients_may_cancel", Integer, nullable=False),
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
    # This person's signing key on this desk, wrapped by their password (sync.signing).
    Column("signing_key", Text),
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
    Column("key_id", String),
    Column("signature", String),
)
# The clinic's staff as the server last said: who may still sign in here offline.
staff = Table(
    "staff",
    metadata,
    Column("id", String, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("display_name", Text, nullable=False),
    Column("role", String, nullable=False),
    Column("active", Integer, nullable=False),
)
# Messages to and from patients (and from numbers no patient has: ``patient_id`` None),
# as the server last said, or written here and not yet sent (``pending``). Instants are
# epoch seconds like everywhere here; messages of the same second keep the order they
# were stored in (their rowid).
messages = Table(
    "messages",
    metadata,
    Column("id", String, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("patient_id", String),
    Column("direction", String, nullable=False),
    Column("purpose", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("channels", Text, nullable=False),  # JSON list, as in the record
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("counterpart", Text),
    Column("appointment_id", String),
    Column("sent_by_staff_id", String),
    Column("urgent", Integer, nullable=False),
    Column("due_at", Integer, nullable=False),
    Column("read_at", Integer),
    Column("deliveries", Text, nullable=False),  # JSON list of delivery summaries
    Column("created_at", Integer, nullable=False),
    Column("pending", Integer, nullable=False, default=0),
)
# Each consent decision a patient made, never edited: what holds is the latest.
consents = Table(
    "consents",
    metadata,
    Column("id", String, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("patient_id", String, nullable=False),
    Column("channel", String, nullable=False),
    Column("purpose", String, nullable=False),
    Column("granted", Integer, nullable=False),
    Column("source", String, nullable=False),
    Column("decided_at", Integer, nullable=False),
    Column("staff_id", String),
    Column("note", Text, nullable=False),
    Column("pending", Integer, nullable=False, default=0),
)
message_templates = Table(
    "message_templates",
    metadata,
    Column("id", String, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("kind", String, nullable=False),
    Column("channel", String, nullable=False),
    Column("purpose", String, nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("pending", Integer, nullable=False, default=0),
)
# The forms sent to patients, without their answers (read from the server on demand).
form_requests = Table(
    "form_requests",
    metadata,
    Column("id", String, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("patient_id", String, nullable=False),
    Column("appointment_id", String),
    Column("title", Text, nullable=False),
    Column("kind", String, nullable=False),
    Column("status", String, nullable=False),
    Column("sent_at", Integer, nullable=False),
    Column("completed_at", Integer),
    Column("pending", Integer, nullable=False, default=0),
)
CACHED_TABLES = {
    "providers": providers,
    "patients": patients,
    "appointments": appointments,
    "locations": locations,
    "appointment_types": appointment_types,
    "schedule_exceptions": schedule_exceptions,
    "booking_rules": booking_rules,
    "staff": staff,
    "messages": messages,
    "consents": consents,
    "message_templates": message_templates,
    "form_requests": form_requests,
}

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
    (
        # Scheduling data. Records cached before this lack it (the feed only sends
        # changes), so the cursor is forgotten: the next pull downloads everything again.
        "ALTER TABLE providers ADD COLUMN working_hours TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE providers ADD COLUMN pending INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE appointments ADD COLUMN appointment_type_id TEXT",
        "ALTER TABLE appointments ADD COLUMN location_id TEXT",
        "ALTER TABLE appointments ADD COLUMN cancelled_by TEXT",
        "ALTER TABLE appointments ADD COLUMN cancelled_late INTEGER NOT NULL DEFAULT 0",
        "CREATE INDEX ix_appointments_provider_starts ON appointments (provider_id, starts_at)",
        "CREATE TABLE locations (id TEXT PRIMARY KEY, version INTEGER NOT NULL, "
        "name TEXT NOT NULL, active INTEGER NOT NULL, pending INTEGER NOT NULL DEFAULT 0)",
        "CREATE TABLE appointment_types (id TEXT PRIMARY KEY, version INTEGER NOT NULL, "
        "name TEXT NOT NULL, colour TEXT NOT NULL, duration_minutes INTEGER NOT NULL, "
        "buffer_before_minutes INTEGER NOT NULL, buffer_after_minutes INTEGER NOT NULL, "
        "provider_ids TEXT NOT NULL, bookable_online INTEGER NOT NULL, "
        "requires_confirmation INTEGER NOT NULL, active INTEGER NOT NULL, "
        "pending INTEGER NOT NULL DEFAULT 0)",
        "CREATE TABLE schedule_exceptions (id TEXT PRIMARY KEY, version INTEGER NOT NULL, "
        "provider_id TEXT, kind TEXT NOT NULL, first_day TEXT NOT NULL, "
        "last_day TEXT NOT NULL, start_time TEXT, end_time TEXT, note TEXT NOT NULL, "
        "pending INTEGER NOT NULL DEFAULT 0)",
        "CREATE TABLE booking_rules (id TEXT PRIMARY KEY, version INTEGER NOT NULL, "
        "horizon_days INTEGER NOT NULL, min_notice_minutes INTEGER NOT NULL, "
        "slot_rounding INTEGER NOT NULL, allow_any_provider INTEGER NOT NULL, "
        "daily_cap INTEGER, patient_cancel_cutoff_hours INTEGER NOT NULL, "
        "patient_reschedule_cutoff_hours INTEGER NOT NULL, "
        "patients_may_cancel INTEGER NOT NULL, pending INTEGER NOT NULL DEFAULT 0)",
        "DELETE FROM meta WHERE key = 'cursor'",
    ),
    (
        # Changes are signed by the person who made them. Offline sign-in needs a signing
        # key, which only an online sign-in makes: remembered logins without one go.
        "ALTER TABLE staff_logins ADD COLUMN signing_key TEXT",
        "DELETE FROM staff_logins",
        "ALTER TABLE outbox ADD COLUMN key_id TEXT",
        "ALTER TABLE outbox ADD COLUMN signature TEXT",
        "CREATE TABLE staff (id TEXT PRIMARY KEY, version INTEGER NOT NULL, "
        "display_name TEXT NOT NULL, role TEXT NOT NULL, active INTEGER NOT NULL)",
        "DELETE FROM meta WHERE key = 'cursor'",
    ),
    (
        # When patients arrived, went in and were done, from the server: the waiting
        # room's minutes. Cached appointments lack them, so the cursor is forgotten and
        # the next pull downloads everything again, with them.
        "ALTER TABLE appointments ADD COLUMN arrived_at INTEGER",
        "ALTER TABLE appointments ADD COLUMN started_at INTEGER",
        "ALTER TABLE appointments ADD COLUMN finished_at INTEGER",
        "DELETE FROM meta WHERE key = 'cursor'",
    ),
    (
        # The patient's file: sex, address and staff alerts. Patients cached before this
        # lack them, so the cursor is forgotten and the next pull downloads again.
        "ALTER TABLE patients ADD COLUMN sex TEXT NOT NULL DEFAULT 'unknown'",
        "ALTER TABLE patients ADD COLUMN address_line1 TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE patients ADD COLUMN address_line2 TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE patients ADD COLUMN city TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE patients ADD COLUMN postcode TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE patients ADD COLUMN alerts TEXT NOT NULL DEFAULT '[]'",
        "CREATE INDEX ix_patients_names ON patients (last_name, first_name)",
        "DELETE FROM meta WHERE key = 'cursor'",
    ),
    (
        # Messaging: the inbox, consent decisions and the clinic's wordings. The server
        # may hold messages older than this desk's cursor, so the cursor is forgotten and
        # the next pull downloads everything again, with them.
        "CREATE TABLE messages (id TEXT PRIMARY KEY, version INTEGER NOT NULL, "
        "patient_id TEXT, direction TEXT NOT NULL, purpose TEXT NOT NULL, "
        "kind TEXT NOT NULL, channels TEXT NOT NULL, subject TEXT NOT NULL, "
        "body TEXT NOT NULL, counterpart TEXT, appointment_id TEXT, sent_by_staff_id TEXT, "
        "urgent INTEGER NOT NULL, due_at INTEGER NOT NULL, read_at INTEGER, "
        "deliveries TEXT NOT NULL, created_at INTEGER NOT NULL, "
        "pending INTEGER NOT NULL DEFAULT 0)",
        "CREATE INDEX ix_messages_patient ON messages (patient_id, created_at)",
        "CREATE INDEX ix_messages_unread ON messages (direction, read_at)",
        "CREATE TABLE consents (id TEXT PRIMARY KEY, version INTEGER NOT NULL, "
        "patient_id TEXT NOT NULL, channel TEXT NOT NULL, purpose TEXT NOT NULL, "
        "granted INTEGER NOT NULL, source TEXT NOT NULL, decided_at INTEGER NOT NULL, "
        "staff_id TEXT, note TEXT NOT NULL, pending INTEGER NOT NULL DEFAULT 0)",
        "CREATE INDEX ix_consents_patient ON consents (patient_id, decided_at)",
        "CREATE TABLE message_templates (id TEXT PRIMARY KEY, version INTEGER NOT NULL, "
        "kind TEXT NOT NULL, channel TEXT NOT NULL, purpose TEXT NOT NULL, "
        "subject TEXT NOT NULL, body TEXT NOT NULL, pending INTEGER NOT NULL DEFAULT 0)",
        "DELETE FROM meta WHERE key = 'cursor'",
    ),
    (
        # Onboarding: the forms sent to patients and video consultations. The server may
        # hold both from before this desk knew them, so the cursor is forgotten and the
        # next pull downloads everything again.
        "CREATE TABLE form_requests (id TEXT PRIMARY KEY, version INTEGER NOT NULL, "
        "patient_id TEXT NOT NULL, appointment_id TEXT, title TEXT NOT NULL, "
        "kind TEXT NOT NULL, status TEXT NOT NULL, sent_at INTEGER NOT NULL, "
        "completed_at INTEGER, pending INTEGER NOT NULL DEFAULT 0)",
        "CREATE INDEX ix_form_requests_patient ON form_requests (patient_id, sent_at)",
        "CREATE INDEX ix_form_requests_appointment ON form_requests (appointment_id)",
        "ALTER TABLE appointment_types ADD COLUMN video INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE appointments ADD COLUMN video_url TEXT",
        "DELETE FROM meta WHERE key = 'cursor'",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
