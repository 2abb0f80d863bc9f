"""The desk's encrypted local store: SQLCipher 4 with a random raw key.

What it holds is a cache of the clinic (re-downloadable) plus
the outbox of unsent changes (precious), so it runs with WAL and ``synchronous=FULL``.
Instants are stored as UTC epoch seconds: compact, and fast to range-scan for a diary day.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import sqlcipher3
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    Connection,
    Engine,
    Table,
    create_engine,
    delete,
    event,
    func,
    select,
)
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.exc import DatabaseError

from common import patients as patient_rules
from common.appointments import (
    LONGEST_APPOINTMENT,
    AppointmentSource,
    AppointmentStatus,
    CancelledBy,
)
from common.errors import DomainError, InvalidInput
from common.messaging import Channel, Purpose
from common.patients import PatientDetails, country_for_time_zone
from common.roles import Role
from common.validation import canonical_email
from sync import forms as sent_forms
from sync import messages as inbox
from sync import outbox, scheduling
from sync import patients as patient_files
from sync.crash import crashpoint
from sync.outbox import replay_pending
from sync.protocol import (
    AppointmentCommand,
    AppointmentRecord,
    AttachMessage,
    BookAppointment,
    CancelAppointment,
    ChangesPage,
    CheckIn,
    CompleteAppointment,
    ConfirmAppointment,
    Cursor,
    FormRequestRecord,
    MarkMessagesRead,
    MarkNoShow,
    MoveAppointment,
    Mutation,
    MutationResult,
    PatientFields,
    RecordConsent,
    RegisterPatient,
    RemoveScheduleException,
    SaveAppointmentType,
    SaveLocation,
    SaveMessageTemplate,
    SaveScheduleException,
    SendMessage,
    SetBookingRules,
    SettingsCommand,
    SetWorkingHours,
    Slot,
    StaffInfo,
    StartAppointment,
    TellRunningLate,
    UpdatePatient,
    UpdatePatientContact,
)
from sync.records import epoch_seconds, instant, upsert, upsert_records
from sync.schema import (
    CACHED_TABLES,
    MIGRATIONS,
    SCHEMA_VERSION,
    appointment_types,
    appointments,
    booking_rules,
    locations,
    meta,
    patients,
    providers,
    schedule_exceptions,
    staff,
    staff_logins,
)
from sync.schema import messages as messages_table
from sync.signing import Author, WrongPassword

_hasher = PasswordHasher()
MARK_READ_BATCH = 500  # the most one MarkMessagesRead carries


class StoreError(DomainError):
    status = 500
    code = "store_error"


class StoreKeyError(StoreError):
    code = "store_key_wrong"


StatusChange = Literal["confirm", "check_in", "start", "complete", "no_show", "cancel"]
STATUS_COMMANDS: dict[
    str,
    type[
        ConfirmAppointment
        | CheckIn
        | StartAppointment
        | CompleteAppointment
        | MarkNoShow
        | CancelAppointment
    ],
] = {
    "confirm": ConfirmAppointment,
    "check_in": CheckIn,
    "start": StartAppointment,
    "complete": CompleteAppointment,
    "no_show": MarkNoShow,
    "cancel": CancelAppointment,
}


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
    pending: bool = False  # changed here, not yet acknowledged by the server
    patient_id: uuid.UUID | None = None
    appointment_type_id: uuid.UUID | None = None
    type_name: str | None = None
    type_colour: str | None = None
    # When the patient checked in, went in, was done (None: not yet, or not known).
    arrived_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # The staff alerts on the patient's file ("needs wheelchair access"), for the hover card.
    patient_alerts: tuple[str, ...] = ()
    # A video consultation's room (None: seen in person).
    video_url: str | None = None
    # How far the forms this visit waits for are filled in (the hover card).
    forms: sent_forms.Completion = field(default_factory=sent_forms.Completion)


def _alerts(text: str | None) -> tuple[str, ...]:
    return tuple(json.loads(text)) if text else ()


def _uuid(text: str | None) -> uuid.UUID | None:
    return uuid.UUID(text) if text else None


def _instant(seconds: int | None) -> datetime | None:
    return instant(seconds) if seconds is not None else None


def _patient_fields(details: PatientDetails) -> dict[str, Any]:
    """A patient's details as the fields of a registration or an edit."""
    fields = {name: getattr(details, name) for name in PatientFields.model_fields}
    return fields | {"alerts": list(details.alerts)}


class Store:
    """One clinic's local copy on one workstation."""

    def __init__(self, engine: Engine, path: Path) -> None:
        self.engine = engine
        self.path = path
        self._writer = engine.execution_options(immediate=True)
        # When a change is made here: its ``made_at``, and the moment a check-in, start or
        # completion is stamped with (tests set a clock of their own).
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    # --- opening ----------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, key: bytes) -> Store:
        """Open (creating if need be) the store at ``path`` with its raw 256-bit ``key``.

        A wrong key raises ``StoreKeyError``: SQLCipher cannot tell a wrong key from a
        file that is not a database, so we say both.
        """
        if len(key) != 32:
            raise StoreKeyError("The local store key must be 256 bits.")
        return cls._open(path, sqlcipher3.dbapi2, f"PRAGMA key = \"x'{key.hex()}'\"")

    @classmethod
    def open_unencrypted_for_benchmark(cls, path: Path) -> Store:
        """The same store on plain SQLite, only so ``make bench`` can show what the
        encryption costs. The desk never calls this."""
        return cls._open(path, sqlite3, None)

    @classmethod
    def _open(cls, path: Path, driver: ModuleType, pragma_key: str | None) -> Store:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            "sqlite:///" + str(path),
            module=driver,
            connect_args={"check_same_thread": False, "timeout": 30},
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # SQLAlchemy issues BEGIN itself
            cursor = dbapi_connection.cursor()
            if pragma_key:
                cursor.execute(pragma_key)  # must come first, before any read
            cursor.execute("SELECT count(*) FROM sqlite_master")  # fails on a wrong key
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA cache_size = -32000")  # 32 MB: fewer pages decrypted twice
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
            if page.booking_rules:
                outbox.keep_only_rules(conn, page.booking_rules[-1])
            upsert_records(
                conn,
                providers_=page.providers,
                patients_=page.patients,
                appointments_=page.appointments,
                locations_=page.locations,
                appointment_types_=page.appointment_types,
                schedule_exceptions_=page.schedule_exceptions,
                booking_rules_=page.booking_rules,
                staff_=page.staff,
                messages_=page.messages,
                consents_=page.consents,
                message_templates_=page.message_templates,
                form_requests_=page.form_requests,
            )
            for tombstone in page.tombstones:
                table = CACHED_TABLES[tombstone.entity]
                conn.execute(delete(table).where(table.c.id == str(tombstone.id)))
            self._forget_departed_staff(conn)
            crashpoint("mid_pull_page")  # the page written, its cursor not yet
            replay_pending(conn)
            self.set_meta({"cursor": page.next_cursor, "last_sync_at": synced_at.isoformat()}, conn)

    # --- the date window of appointments kept -----------------------------------------

    def kept_window(self) -> tuple[datetime, datetime] | None:
        start, end = self.get_meta("window_start"), self.get_meta("window_end")
        if not start or not end:
            return None
        return datetime.fromisoformat(start), datetime.fromisoformat(end)

    def keep_window(
        self, window: tuple[datetime, datetime], records: list[AppointmentRecord]
    ) -> None:
        """Store appointments of days newly in the window, drop those now outside it
        (unless changed here and not yet sent), and remember the window: all or none."""
        start, end = (epoch_seconds(w) for w in window)
        with self._write() as conn:
            upsert_records(conn, appointments_=records)
            conn.execute(
                delete(appointments).where(
                    appointments.c.pending == 0,
                    (appointments.c.ends_at <= start) | (appointments.c.starts_at >= end),
                )
            )
            self.set_meta(
                {"window_start": window[0].isoformat(), "window_end": window[1].isoformat()},
                conn,
            )

    def entries_for(self, records: list[AppointmentRecord]) -> list[DiaryEntry]:
        """Diary entries for appointments fetched from the server (days the desk does not
        keep), named from the cached patients."""
        ids = list({str(r.patient_id) for r in records})
        with self.engine.connect() as conn:
            found = conn.execute(
                select(
                    patients.c.id, patients.c.first_name, patients.c.last_name, patients.c.alerts
                ).where(patients.c.id.in_(ids))
            ).all()
            names = {row.id: f"{row.first_name} {row.last_name}" for row in found}
            alerts = {row.id: _alerts(row.alerts) for row in found}
            forms = sent_forms.completion(conn, ((r.id, r.patient_id) for r in records))
            kinds = {
                row.id: (row.name, row.colour)
                for row in conn.execute(
                    select(
                        appointment_types.c.id, appointment_types.c.name, appointment_types.c.colour
                    )
                )
            }
        return [
            DiaryEntry(
                id=r.id,
                provider_id=r.provider_id,
                starts_at=r.starts_at,
                ends_at=r.ends_at,
                status=r.status,
                source=r.source,
                patient_name=names.get(str(r.patient_id), "Unknown patient"),
                patient_id=r.patient_id,
                appointment_type_id=r.appointment_type_id,
                type_name=kinds.get(str(r.appointment_type_id), (None, None))[0],
                type_colour=kinds.get(str(r.appointment_type_id), (None, None))[1],
                arrived_at=r.arrived_at,
                started_at=r.started_at,
                finished_at=r.finished_at,
                patient_alerts=alerts.get(str(r.patient_id), ()),
                video_url=r.video_url,
                forms=forms.get(str(r.id), sent_forms.Completion()),
            )
            for r in records
        ]

    def covers(self, start: datetime, end: datetime) -> bool:
        """Whether ``[start, end)`` lies inside the window this desk keeps."""
        kept = self.kept_window()
        return kept is not None and kept[0] <= start and end <= kept[1]

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
        shown = (
            appointments.c.starts_at > epoch_seconds(start - LONGEST_APPOINTMENT),
            appointments.c.starts_at < epoch_seconds(end),
            appointments.c.ends_at > epoch_seconds(start),
        )
        query = (
            select(
                appointments,
                (patients.c.first_name + " " + patients.c.last_name).label("patient_name"),
                patients.c.alerts.label("patient_alerts"),
                appointment_types.c.name.label("type_name"),
                appointment_types.c.colour.label("type_colour"),
            )
            .outerjoin(patients, patients.c.id == appointments.c.patient_id)
            .outerjoin(
                appointment_types, appointment_types.c.id == appointments.c.appointment_type_id
            )
            .where(*shown)
            .order_by(appointments.c.starts_at)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            forms = sent_forms.completion_of(
                conn, select(appointments.c.id, appointments.c.patient_id).where(*shown)
            )
        return [
            DiaryEntry(
                id=uuid.UUID(r.id),
                provider_id=uuid.UUID(r.provider_id),
                starts_at=instant(r.starts_at),
                ends_at=instant(r.ends_at),
                status=AppointmentStatus(r.status),
                source=AppointmentSource(r.source),
                patient_name=r.patient_name or "Unknown patient",
                pending=bool(r.pending),
                patient_id=uuid.UUID(r.patient_id),
                appointment_type_id=_uuid(r.appointment_type_id),
                type_name=r.type_name,
                type_colour=r.type_colour,
                arrived_at=_instant(r.arrived_at),
                started_at=_instant(r.started_at),
                finished_at=_instant(r.finished_at),
                patient_alerts=_alerts(r.patient_alerts),
                video_url=r.video_url,
                forms=forms.get(r.id, sent_forms.Completion()),
            )
            for r in rows
        ]

    def count(self, entity: str) -> int:
        with self.engine.connect() as conn:
            value: int = conn.execute(
                select(func.count()).select_from(CACHED_TABLES[entity])
            ).scalar_one()
            return value

    # --- changes made at this desk ---------------------------------------------------------

    def book(
        self,
        author: Author,
        *,
        provider_id: uuid.UUID,
        patient_id: uuid.UUID,
        starts_at: datetime,
        ends_at: datetime,
        appointment_type_id: uuid.UUID | None = None,
        location_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        """Book locally and queue it; returns the new appointment's id."""
        appointment_id = uuid.uuid4()
        command = BookAppointment(
            appointment_id=appointment_id,
            provider_id=provider_id,
            patient_id=patient_id,
            starts_at=starts_at,
            ends_at=ends_at,
            appointment_type_id=appointment_type_id,
            location_id=location_id,
        )
        with self._write() as conn:
            outbox.enqueue(conn, author, command, self.clock())
        return appointment_id

    def move(
        self,
        author: Author,
        appointment_id: uuid.UUID,
        *,
        provider_id: uuid.UUID,
        starts_at: datetime,
        ends_at: datetime,
    ) -> uuid.UUID:
        with self._write() as conn:
            command = MoveAppointment(
                appointment_id=appointment_id,
                base_version=self._version_of(conn, appointments, appointment_id),
                provider_id=provider_id,
                starts_at=starts_at,
                ends_at=ends_at,
            )
            return outbox.enqueue(conn, author, command, self.clock())

    def set_status(
        self,
        author: Author,
        appointment_id: uuid.UUID,
        kind: StatusChange,
        *,
        cancelled_by: CancelledBy = CancelledBy.STAFF,
    ) -> uuid.UUID:
        """Confirm, check in, start, complete, mark a no-show or cancel."""
        with self._write() as conn:
            version = self._version_of(conn, appointments, appointment_id)
            command: AppointmentCommand = STATUS_COMMANDS[kind](
                appointment_id=appointment_id, base_version=version
            )
            if isinstance(command, CancelAppointment):
                command = command.model_copy(update={"cancelled_by": cancelled_by})
            return outbox.enqueue(conn, author, command, self.clock())

    # --- scheduling data and admin settings ---------------------------------------------

    def schedule(self) -> scheduling.ClinicSchedule:
        with self.engine.connect() as conn:
            return scheduling.read_schedule(conn)

    def busy(
        self, start: datetime, end: datetime
    ) -> dict[uuid.UUID, list[tuple[datetime, datetime]]]:
        with self.engine.connect() as conn:
            return scheduling.busy_between(conn, start, end)

    def search_patients(self, text: str, limit: int = 20) -> list[scheduling.PatientMatch]:
        with self.engine.connect() as conn:
            return scheduling.search_patients(conn, text, limit)

    def change_settings(self, author: Author, command: SettingsCommand) -> uuid.UUID:
        """Queue an admin setting, based on the version this desk has of what it changes
        (the command's own ``base_version`` is ignored: the store knows better).

        Raises ``InvalidInput`` with the reason, queueing nothing, for a setting that makes
        no sense (overlapping ranges, a closure for one provider…)."""
        scheduling.check_setting(command)
        with self._write() as conn:
            target: tuple[Table, object]
            match command:
                case SetWorkingHours():
                    target = (providers, command.provider_id)
                case SaveLocation():
                    target = (locations, command.location_id)
                case SaveAppointmentType():
                    target = (appointment_types, command.appointment_type_id)
                case SaveScheduleException() | RemoveScheduleException():
                    target = (schedule_exceptions, command.exception_id)
                case SetBookingRules():
                    target = (booking_rules, None)
            table, record_id = target
            query = select(table.c.version)
            if record_id is not None:
                query = query.where(table.c.id == str(record_id))
            version = conn.scalar(query.where(table.c.id != outbox.LOCAL_RULES_ID))
            if version is None and isinstance(command, SetWorkingHours | RemoveScheduleException):
                raise StoreError("That record is not in this desk's copy; sync and try again.")
            based = command.model_copy(update={"base_version": version})
            return outbox.enqueue(conn, author, based, self.clock())

    def update_contact(
        self, author: Author, patient_id: uuid.UUID, *, phone: str | None, email: str | None
    ) -> uuid.UUID:
        with self._write() as conn:
            command = UpdatePatientContact(
                patient_id=patient_id,
                base_version=self._version_of(conn, patients, patient_id),
                phone=phone,
                email=email,
            )
            return outbox.enqueue(conn, author, command, self.clock())

    # --- the patient's file ------------------------------------------------------------

    def country(self) -> str | None:
        """The clinic's country (phone numbers typed without a country code are read in
        it), as the server said at sign-in; else the one its time zone is in."""
        stored = self.get_meta("country")
        if stored is not None:
            return stored or None
        return country_for_time_zone(self.get_meta("time_zone") or "")

    def patient(self, patient_id: uuid.UUID) -> patient_files.PatientFile | None:
        with self.engine.connect() as conn:
            return patient_files.patient_file(conn, patient_id)

    def patient_visits(self, patient_id: uuid.UUID) -> list[patient_files.Visit]:
        with self.engine.connect() as conn:
            return patient_files.visits(conn, patient_id)

    def check_patient(
        self, details: PatientDetails, patient_id: uuid.UUID | None = None
    ) -> tuple[PatientDetails, list[patient_files.PatientFile]]:
        """``details`` as they would be stored, and the patients on file who may be the
        same person (a warning for staff); ``PatientInvalid`` in words when a rule
        refuses them. ``patient_id``: the patient being edited."""
        country = self.country()
        with self.engine.connect() as conn:
            before = patient_files.patient_file(conn, patient_id) if patient_id else None
            cleaned = patient_rules.clean(
                details,
                country=country,
                today=date.today(),
                previous=before.details if before else None,
            )
            found = patient_files.possible_duplicates(conn, cleaned, country, ignore=patient_id)
        return cleaned, found

    def register_patient(
        self, author: Author, details: PatientDetails, patient_id: uuid.UUID | None = None
    ) -> uuid.UUID:
        """Register a new patient here and queue it; returns their id, which a booking
        may use at once (the registration is sent first)."""
        cleaned = patient_rules.clean(details, country=self.country(), today=date.today())
        command = RegisterPatient(patient_id=patient_id or uuid.uuid4(), **_patient_fields(cleaned))
        with self._write() as conn:
            outbox.enqueue(conn, author, command, self.clock())
        return command.patient_id

    def update_patient(
        self, author: Author, patient_id: uuid.UUID, details: PatientDetails
    ) -> uuid.UUID | None:
        """Queue the patient's details as saved; None, queueing nothing, when nothing
        differs from this desk's copy."""
        country = self.country()
        with self._write() as conn:
            before = patient_files.patient_file(conn, patient_id)
            if before is None:
                raise StoreError("That patient is not in this desk's copy; sync and try again.")
            cleaned = patient_rules.clean(
                details, country=country, today=date.today(), previous=before.details
            )
            if cleaned == before.details:
                return None
            command = UpdatePatient(
                patient_id=patient_id, base_version=before.version, **_patient_fields(cleaned)
            )
            return outbox.enqueue(conn, author, command, self.clock())

    # --- messages -----------------------------------------------------------------------

    def conversations(self) -> list[inbox.Conversation]:
        with self.engine.connect() as conn:
            return inbox.conversations(conn)

    def conversation(self, patient_id: uuid.UUID) -> list[inbox.MessageView]:
        """The patient's messages, oldest first, with the ones the server turned down
        (their text kept, with the reason) where they were written."""
        with self.engine.connect() as conn:
            found = inbox.conversation(conn, patient_id) + outbox.refused_sends(conn, patient_id)
        return sorted(found, key=lambda m: m.created_at)  # stable: same-second order kept

    def unattached(self, number: str | None = None) -> list[inbox.MessageView]:
        with self.engine.connect() as conn:
            return inbox.unattached(conn, number)

    def unread_texts(self) -> list[inbox.MessageView]:
        with self.engine.connect() as conn:
            return inbox.unread(conn)

    def unread_messages(self) -> int:
        with self.engine.connect() as conn:
            return inbox.unread_count(conn)

    def consents(self, patient_id: uuid.UUID) -> inbox.Consents:
        with self.engine.connect() as conn:
            return inbox.consents_of(conn, patient_id)

    def templates(self) -> list[inbox.TemplateView]:
        with self.engine.connect() as conn:
            return inbox.templates(conn)

    def appointments_to_mention(
        self, patient_id: uuid.UUID, now: datetime, day_start: datetime
    ) -> inbox.AppointmentsToMention:
        with self.engine.connect() as conn:
            return inbox.appointments_to_mention(conn, patient_id, now, day_start)

    def later_patients(
        self, provider_id: uuid.UUID, after: datetime, until: datetime
    ) -> inbox.LaterPatients:
        with self.engine.connect() as conn:
            return inbox.later_patients(conn, provider_id, after, until)

    def send_message(
        self,
        author: Author,
        patient_id: uuid.UUID,
        *,
        channels: list[Channel],
        body: str,
        subject: str = "",
        purpose: Purpose = Purpose.CARE,
    ) -> uuid.UUID:
        """Write to a patient and queue it; returns the message's id. It is in the
        conversation at once, queued, online or not."""
        if not body.strip():
            raise InvalidInput("Write something to send.")
        if not channels:
            raise InvalidInput("Choose how to send it: SMS, e-mail or both.")
        command = SendMessage(
            message_id=uuid.uuid4(),
            patient_id=patient_id,
            channels=list(dict.fromkeys(channels)),
            purpose=purpose,
            subject=subject.strip(),
            body=body.strip(),
        )
        with self._write() as conn:
            self._version_of(conn, patients, patient_id)  # a patient this desk knows
            outbox.enqueue(conn, author, command, self.clock())
        return command.message_id

    def mark_read(self, author: Author, message_ids: list[uuid.UUID]) -> list[uuid.UUID]:
        """Mark those of ``message_ids`` still unread as read, here at once and on the
        server when sent; returns the changes queued (none when all were read)."""
        queued = []
        with self._write() as conn:
            unread = inbox.unread_ids(conn, message_ids)
            for start in range(0, len(unread), MARK_READ_BATCH):
                command = MarkMessagesRead(message_ids=unread[start : start + MARK_READ_BATCH])
                queued.append(outbox.enqueue(conn, author, command, self.clock()))
        return queued

    def attach_message(
        self, author: Author, message_id: uuid.UUID, patient_id: uuid.UUID
    ) -> uuid.UUID:
        """Put a text from an unknown number in the patient's conversation."""
        with self._write() as conn:
            self._version_of(conn, messages_table, message_id)
            self._version_of(conn, patients, patient_id)
            command = AttachMessage(message_id=message_id, patient_id=patient_id)
            return outbox.enqueue(conn, author, command, self.clock())

    def record_consent(
        self,
        author: Author,
        patient_id: uuid.UUID,
        *,
        channel: Channel,
        purpose: Purpose,
        granted: bool,
        note: str = "",
    ) -> uuid.UUID:
        """Record what the patient said (in person, on the phone); returns its id."""
        command = RecordConsent(
            consent_id=uuid.uuid4(),
            patient_id=patient_id,
            channel=channel,
            purpose=purpose,
            granted=granted,
            note=note.strip(),
        )
        with self._write() as conn:
            self._version_of(conn, patients, patient_id)
            outbox.enqueue(conn, author, command, self.clock())
        return command.consent_id

    def save_template(
        self, author: Author, kind: str, channel: Channel, *, body: str, subject: str = ""
    ) -> uuid.UUID:
        """Save the clinic's wording of ``kind`` on ``channel``, replacing the one this
        desk has (based on its version) or the default; returns the template's id."""
        with self._write() as conn:
            known = inbox.template_for(conn, kind, channel)
            template_id, version = known if known else (uuid.uuid4(), None)
            command = SaveMessageTemplate(
                template_id=template_id,
                base_version=version or None,
                message_kind=kind,
                channel=channel,
                subject=subject.strip(),
                body=body,
            )
            outbox.enqueue(conn, author, command, self.clock())
        return template_id

    def tell_running_late(
        self, author: Author, provider_id: uuid.UUID, minutes: int, after: datetime
    ) -> uuid.UUID:
        """Ask the server to text the provider's patients from ``after`` to the end of
        that day that the clinic runs ``minutes`` late."""
        command = TellRunningLate(provider_id=provider_id, minutes=minutes, after=after)
        with self._write() as conn:
            self._version_of(conn, providers, provider_id)
            return outbox.enqueue(conn, author, command, self.clock())

    # --- forms sent to patients -----------------------------------------------------------

    def form_requests(self, patient_id: uuid.UUID) -> list[sent_forms.FormRequestView]:
        with self.engine.connect() as conn:
            return sent_forms.requests_of(conn, patient_id)

    def incomplete_forms(self, now: datetime) -> list[sent_forms.IncompleteForms]:
        with self.engine.connect() as conn:
            return sent_forms.incomplete(conn, now)

    def take_form_request(self, record: FormRequestRecord) -> None:
        """What the server said about a form just changed from here (withdrawn)."""
        with self._write() as conn:
            sent_forms.take(conn, record)

    @staticmethod
    def _version_of(conn: Connection, table: Table, record_id: uuid.UUID) -> int:
        version = conn.scalar(select(table.c.version).where(table.c.id == str(record_id)))
        if version is None:
            raise StoreError("That record is not in this desk's copy; sync and try again.")
        return int(version)

    # --- the outbox, for the sync engine and the "Needs attention" worklist -----------

    def pending_mutations(self, limit: int) -> list[Mutation]:
        with self.engine.connect() as conn:
            return outbox.pending(conn, limit)

    def record_results(self, sent: list[Mutation], results: list[MutationResult]) -> None:
        """The server's answers, taken in one transaction: an entry leaves the outbox only
        here, once its acknowledgement is in hand."""
        with self._write() as conn:
            outbox.record_results(conn, sent, results)

    def outbox_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return outbox.counts(conn)

    def needs_attention(self) -> list[outbox.Attention]:
        with self.engine.connect() as conn:
            return outbox.needs_attention(conn)

    def discard(self, seq: int) -> None:
        with self._write() as conn:
            outbox.discard(conn, seq)

    def retry_at(self, seq: int, author: Author, slot: Slot) -> uuid.UUID | None:
        with self._write() as conn:
            return outbox.retry_at(conn, seq, author, slot, self.clock())

    # --- offline sign-in --------------------------------------------------------------

    def remember_login(self, email: str, password: str, staff: StaffInfo, author: Author) -> None:
        """Keep an argon2 verifier and this person's signing key, wrapped by their
        password, so they can sign in (and sign their changes) here while offline."""
        row = {
            "email": canonical_email(email),
            "password_hash": _hasher.hash(password),
            "staff_id": str(staff.id),
            "display_name": staff.display_name,
            "role": staff.role.value,
            "signing_key": author.wrap(password),
        }
        with self._write() as conn:
            upsert(conn, staff_logins, [row], key="email")

    def check_login(self, email: str, password: str) -> tuple[StaffInfo, Author] | None:
        """Who this is and their signing key, if they signed in here online before, are
        still active as far as this desk last heard, and typed the same password."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(staff_logins).where(staff_logins.c.email == canonical_email(email))
            ).first()
        if row is None or not row.signing_key:
            return None
        try:
            _hasher.verify(row.password_hash, password)
            author = Author.unwrap(uuid.UUID(row.staff_id), row.signing_key, password)
        except (VerificationError, InvalidHashError, WrongPassword):
            return None
        info = StaffInfo(
            id=uuid.UUID(row.staff_id),
            email=row.email,
            display_name=row.display_name,
            role=Role(row.role),
        )
        return info, author

    def forget_logins(self) -> None:
        """Nobody may sign in here offline any more (this workstation was revoked)."""
        with self._write() as conn:
            conn.execute(delete(staff_logins))

    @staticmethod
    def _forget_departed_staff(conn: Connection) -> None:
        """Staff the server says are no longer active lose their offline sign-in here,
        and so does anyone whose role changed (they sign in online to pick it up)."""
        departed = select(staff.c.id).where(staff.c.active == 0)
        conn.execute(delete(staff_logins).where(staff_logins.c.staff_id.in_(departed)))
        changed = select(staff.c.id).where(
            staff.c.id == staff_logins.c.staff_id, staff.c.role != staff_logins.c.role
        )
        conn.execute(delete(staff_logins).where(changed.exists()))
